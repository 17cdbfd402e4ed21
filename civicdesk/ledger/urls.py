"""Web endpoints of payments outside the API: gateway notifications, returns from a gateway and
the sandbox gateway's hosted page (mounted at /pay/)."""

from django.urls import path  # noqa: F401

app_name = "pay"

urlpatterns: list = []
