"""Web endpoints of payments outside the API: gateway notifications, returns from a gateway and
the sandbox gateway's hosted page (mounted at /pay/)."""

from django.urls import path

from civicdesk.ledger import views

app_name = "pay"

urlpatterns = [
    path("notify/<slug:gateway>/", views.notify, name="notify"),
    path("return/<uuid:payment_id>/", views.return_view, name="return"),
    path("sandbox/<uuid:gateway_ref>/", views.sandbox_page, name="sandbox"),
]
