from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from civicdesk.core.models import AuditEvent
from civicdesk.identity import roles


@dataclass(frozen=True)
class Panel:
    role: object
    title: object
    description: object
    links: tuple[tuple[object, str], ...]


CUSTOMER_360 = (_("Customer 360"), "backoffice:customer_search")
LINK_REVIEWS = (_("Documents to review"), "backoffice:link_reviews")
WORK_QUEUE = (_("Work queue"), "cases:staff_queue")
CALL_CONSOLE = (_("Call console"), "cases:console")
CASE_DASHBOARDS = (_("Case dashboards"), "cases:dashboards")
CALL_FIGURES = (_("Call-centre figures"), "cases:call_metrics")
PAYMENTS = (_("Online payments"), "backoffice:payments")
BANK_LINES = (_("Unmatched bank lines"), "backoffice:bank_lines")
BANK_STATEMENTS = (_("Bank statements"), "backoffice:bank_statements")
MISSING_PAYMENTS = (_("Missing payments"), "backoffice:missing_reports")
REFUNDS = (_("Refunds to approve and pay"), "backoffice:refunds")
METERS = (_("Meters"), "backoffice:metering_search")
READING_REVIEW = (_("Readings to review"), "backoffice:metering_queue")
READING_IMPORTS = (_("Import meter readings"), "backoffice:metering_imports")
TARIFFS = (_("Tariffs"), "backoffice:tariffs")
BILLING_RUNS = (_("Billing runs"), "backoffice:billing_runs")
BILLING_EXCEPTIONS = (_("Billing exceptions"), "backoffice:billing_exceptions")
INVOICES = (_("Invoices"), "backoffice:billing_invoices")

# What each role's landing page offers. Later issues add their consoles to these lists.
_PANELS = {
    roles.CALL_CENTRE_AGENT: (
        _("Call centre"),
        _("Identify callers, log calls and raise cases for them."),
        (
            CALL_CONSOLE,
            CUSTOMER_360,
            WORK_QUEUE,
            CALL_FIGURES,
            PAYMENTS,
            METERS,
            INVOICES,
            TARIFFS,
        ),
    ),
    roles.REVENUE_OFFICER: (
        _("Revenue"),
        _("Payments, unmatched bank lines, refunds and billing runs."),
        (
            CUSTOMER_360,
            WORK_QUEUE,
            PAYMENTS,
            BANK_LINES,
            MISSING_PAYMENTS,
            REFUNDS,
            BANK_STATEMENTS,
            METERS,
            READING_REVIEW,
            READING_IMPORTS,
            TARIFFS,
            BILLING_RUNS,
            BILLING_EXCEPTIONS,
            INVOICES,
        ),
    ),
    roles.CASE_SPECIALIST: (
        _("Cases"),
        _("Work the cases routed to your team within their SLAs."),
        (WORK_QUEUE, CUSTOMER_360, CASE_DASHBOARDS, READING_REVIEW),
    ),
    roles.SERVICE_CENTRE_ADMIN: (
        _("Service centre"),
        _("Welcome visitors, run the queue and send them to a specialist."),
        (CUSTOMER_360, LINK_REVIEWS, WORK_QUEUE),
    ),
    roles.QUALITY_CONTROLLER: (
        _("Quality control"),
        _("Check service against the standards and read the audit log."),
        (
            CUSTOMER_360,
            WORK_QUEUE,
            CASE_DASHBOARDS,
            CALL_FIGURES,
            TARIFFS,
            (_("Audit log"), "backoffice:audit_log"),
        ),
    ),
    roles.OPERATOR_ADMIN: (
        _("Operator administration"),
        _("Operator settings, users and roles, and the audit log."),
        (
            CUSTOMER_360,
            LINK_REVIEWS,
            WORK_QUEUE,
            CASE_DASHBOARDS,
            CALL_FIGURES,
            PAYMENTS,
            REFUNDS,
            METERS,
            READING_REVIEW,
            TARIFFS,
            BILLING_RUNS,
            BILLING_EXCEPTIONS,
            INVOICES,
            (_("Admin portal"), "admin:index"),
            (_("Audit log"), "backoffice:audit_log"),
        ),
    ),
}


def landing_for(user) -> list[Panel]:
    names = {g.name for g in user.groups.all()}
    panels = []
    for key, (title, description, links) in _PANELS.items():
        role = roles.ROLES[key]
        if role.name in names or (user.is_superuser and key == roles.OPERATOR_ADMIN):
            panels.append(
                Panel(role.label, title, description, tuple((t, reverse(u)) for t, u in links))
            )
    return panels


def audit_events(*, action: str = "") -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor")
    if action:
        events = events.filter(action=action)
    return events
