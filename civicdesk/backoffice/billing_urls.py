"""Back-office pages for billing, mounted at /staff/billing/ (namespace backoffice)."""

from django.urls import path

from civicdesk.backoffice import billing_views as views

urlpatterns = [
    path("runs/", views.runs, name="billing_runs"),
    path("runs/<uuid:run_id>/", views.run_detail, name="billing_run"),
    path("runs/<uuid:run_id>/progress/", views.run_progress, name="billing_run_progress"),
    path("exceptions/", views.exception_queue, name="billing_exceptions"),
    path("invoices/", views.invoice_search, name="billing_invoices"),
    path("invoices/<str:number>/", views.invoice_detail, name="billing_invoice"),
    path(
        "disputes/<str:reference>/resolve/",
        views.dispute_resolve,
        name="billing_dispute_resolve",
    ),
]
