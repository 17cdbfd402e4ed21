"""The billing API's routes (mounted under /api/v1/ by civicdesk.config.urls)."""

from django.urls import include, path

from civicdesk.billing import api

urlpatterns = [
    path("", include(api.urlpatterns)),
]
