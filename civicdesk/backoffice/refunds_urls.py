"""Back-office pages: refunds (mounted at /staff/money/)."""

from django.urls import path

from civicdesk.backoffice import refunds_views as views

urlpatterns: list = [
    path("refunds/", views.refund_queue, name="refunds"),
    path("refunds/<uuid:refund_id>/", views.refund_detail, name="refund"),
]
