"""Staff case pages, mounted at /staff/cases/: the work queue, the call-centre console, the
dashboards and call metrics, and each case by its reference (fixed paths come first)."""

from django.urls import path

from civicdesk.cases import console, dashboards, staff_views

app_name = "cases"

urlpatterns = [
    path("", staff_views.queue, name="staff_queue"),
    path("console/", console.console, name="console"),
    path("console/lookup/", console.lookup, name="console_lookup"),
    path("console/identify/", console.identify, name="console_identify"),
    path("console/questions/", console.questions, name="console_questions"),
    path("console/start/", console.start, name="console_start"),
    path("console/end/", console.end, name="console_end"),
    path("console/case/", console.case_create, name="console_case"),
    path("console/note/", console.note, name="console_note"),
    path("dashboards/", dashboards.dashboards, name="dashboards"),
    path("metrics/", dashboards.call_metrics, name="call_metrics"),
    path("<str:reference>/", staff_views.case_detail, name="staff_case"),
    path("<str:reference>/status/", staff_views.case_status, name="staff_case_status"),
    path("<str:reference>/note/", staff_views.case_note, name="staff_case_note"),
    path("<str:reference>/assign/", staff_views.case_assign, name="staff_case_assign"),
    path("<str:reference>/category/", staff_views.case_recategorise, name="staff_case_category"),
    path("<str:reference>/duplicate/", staff_views.case_duplicate, name="staff_case_duplicate"),
    path("<str:reference>/attachments/", staff_views.case_attachment, name="staff_case_attachment"),
    path(
        "<str:reference>/attachments/<uuid:attachment_id>/",
        staff_views.attachment_download,
        name="staff_attachment",
    ),
]
