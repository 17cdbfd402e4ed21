from django.urls import include, path

from civicdesk.metering.api import meters, readings

urlpatterns = [
    path("", include(meters.urlpatterns)),
    path("", include(readings.urlpatterns)),
]
