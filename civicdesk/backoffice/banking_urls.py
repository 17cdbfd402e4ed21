"""Back-office pages: bank statements, unmatched bank lines, missing-payment reports
(mounted at /staff/money/)."""

from django.urls import path

from civicdesk.backoffice import banking_views as views

urlpatterns: list = [
    path("bank/statements/", views.statements, name="bank_statements"),
    path("bank/statements/<uuid:statement_id>/", views.statement_detail, name="bank_statement"),
    path("bank/lines/", views.lines, name="bank_lines"),
    path("bank/lines/<uuid:line_id>/", views.line_detail, name="bank_line"),
    path("bank/missing/", views.reports, name="missing_reports"),
    path("bank/missing/<uuid:report_id>/", views.report_detail, name="missing_report"),
    path(
        "bank/missing/<uuid:report_id>/match/<uuid:line_id>/",
        views.report_match,
        name="missing_report_match",
    ),
    path(
        "bank/missing/<uuid:report_id>/reject/", views.report_reject, name="missing_report_reject"
    ),
]
