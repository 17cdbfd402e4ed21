"""Back-office pages: payments (mounted at /staff/money/)."""

from django.urls import path

from civicdesk.backoffice import payments_views as views

urlpatterns = [
    path("payments/", views.payment_list, name="payments"),
    path("payments/<uuid:payment_id>/", views.payment_detail, name="payment"),
    path(
        "payments/<uuid:payment_id>/reconcile/",
        views.payment_reconcile,
        name="payment_reconcile",
    ),
]
