from django.urls import include, path

from civicdesk.metering.api import imports, meters, readings, sms

urlpatterns = [
    path("", include(meters.urlpatterns)),
    path("", include(sms.urlpatterns)),
    path("", include(imports.urlpatterns)),
    path("", include(readings.urlpatterns)),
]
