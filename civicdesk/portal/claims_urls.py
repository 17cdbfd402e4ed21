"""Portal pages: claims (missing payments, refunds)."""

from django.urls import path

from civicdesk.portal import missing_views, refund_views

urlpatterns: list = [
    # Missing payments (ledger.banking).
    path(
        "accounts/<str:number>/missing-payment/",
        missing_views.missing_new,
        name="missing_new",
    ),
    path("payments/missing/", missing_views.missing_list, name="missing_list"),
    path("payments/missing/<uuid:report_id>/", missing_views.missing_detail, name="missing_detail"),
    # Refunds (ledger.refunds).
    path("accounts/<str:number>/refund/", refund_views.refund_new, name="refund_new"),
    path("refunds/", refund_views.refund_list, name="refunds"),
    path("refunds/<uuid:refund_id>/cancel/", refund_views.refund_cancel, name="refund_cancel"),
]
