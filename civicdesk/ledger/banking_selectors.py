"""Reads for bank statements and missing payments: the officer's queues and the residents'
own reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from civicdesk.ledger.models import BankLine, BankStatement, MissingPaymentReport

# A bank books a payment a few days after the resident made it (weekends, clearing); a
# resident may misremember the day by a little.
DAYS_BEFORE = 3
DAYS_AFTER = 10


@dataclass(frozen=True)
class StatementSummary:
    lines: int
    matched: int
    suspense: int
    resolved: int
    ignored: int
    total_minor: int  # money in: the sum of the credit lines
    matched_minor: int
    suspense_minor: int
    currency: str


def statement_summary(statement: BankStatement) -> StatementSummary:
    status = BankLine.Status
    credit = Q(amount_minor__gt=0)
    totals = statement.lines.aggregate(
        lines=Count("pk"),
        matched=Count("pk", filter=Q(status=status.MATCHED)),
        suspense=Count("pk", filter=Q(status=status.SUSPENSE)),
        resolved=Count("pk", filter=Q(status=status.RESOLVED)),
        ignored=Count("pk", filter=Q(status=status.IGNORED)),
        total_minor=Coalesce(Sum("amount_minor", filter=credit), 0),
        matched_minor=Coalesce(Sum("amount_minor", filter=credit & Q(status=status.MATCHED)), 0),
        suspense_minor=Coalesce(Sum("amount_minor", filter=credit & Q(status=status.SUSPENSE)), 0),
    )
    return StatementSummary(currency=statement.currency, **totals)


def statements_list() -> QuerySet[BankStatement]:
    status = BankLine.Status
    return (
        BankStatement.objects.select_related("bank_format", "imported_by")
        .annotate(
            suspense_count=Count("lines", filter=Q(lines__status=status.SUSPENSE)),
            ignored_count=Count("lines", filter=Q(lines__status=status.IGNORED)),
            resolved_count=Count("lines", filter=Q(lines__status=status.RESOLVED)),
        )
        .order_by("-imported_at")
    )


def statement_lines(statement: BankStatement) -> QuerySet[BankLine]:
    return statement.lines.select_related("account", "report__case", "resolved_by").order_by(
        "line_no"
    )


def unmatched_lines(
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    amount_minor: int | None = None,
    text: str = "",
) -> QuerySet[BankLine]:
    """Lines waiting in suspense for an officer, oldest booking first. ``text`` looks in the
    reference, the payer and the bank's reference."""
    lines = BankLine.objects.filter(status=BankLine.Status.SUSPENSE).select_related(
        "statement__bank_format"
    )
    if date_from:
        lines = lines.filter(booked_on__gte=date_from)
    if date_to:
        lines = lines.filter(booked_on__lte=date_to)
    if amount_minor is not None:
        lines = lines.filter(amount_minor=amount_minor)
    text = (text or "").strip()
    if text:
        lines = lines.filter(
            Q(reference__icontains=text)
            | Q(counterparty__icontains=text)
            | Q(bank_ref__icontains=text)
        )
    return lines.order_by("booked_on", "statement__imported_at", "line_no")


def _rank_text(report: MissingPaymentReport, line: BankLine) -> int:
    """0 when the line mentions the report's bank reference or account number, else 1."""
    haystack = f"{line.reference} {line.bank_ref} {line.counterparty}".lower()
    needles = [report.bank_reference.lower(), report.account.number]
    return 0 if any(n and n in haystack for n in needles) else 1


def candidate_lines(report: MissingPaymentReport) -> list[BankLine]:
    """Unmatched lines that could be the reported payment: the same amount and currency,
    booked from a few days before to ten days after the reported date; those mentioning the
    bank reference or the account number first, then the nearest dates."""
    lines = BankLine.objects.filter(
        status=BankLine.Status.SUSPENSE,
        amount_minor=report.amount_minor,
        currency=report.currency,
        booked_on__gte=report.paid_on - dt.timedelta(days=DAYS_BEFORE),
        booked_on__lte=report.paid_on + dt.timedelta(days=DAYS_AFTER),
    ).select_related("statement__bank_format")
    if report.bank_reference:
        lines = lines | BankLine.objects.filter(
            status=BankLine.Status.SUSPENSE,
            currency=report.currency,
            bank_ref__iexact=report.bank_reference,
        ).select_related("statement__bank_format")
    return sorted(
        lines.distinct()[:200],
        key=lambda line: (_rank_text(report, line), abs((line.booked_on - report.paid_on).days)),
    )


def candidate_reports(line: BankLine) -> QuerySet[MissingPaymentReport]:
    """Open reports the line could answer: the same amount and currency, reported as paid
    from ten days before to a few days after its booking date."""
    return (
        MissingPaymentReport.objects.filter(
            status=MissingPaymentReport.Status.OPEN,
            amount_minor=line.amount_minor,
            currency=line.currency,
            paid_on__gte=line.booked_on - dt.timedelta(days=DAYS_AFTER),
            paid_on__lte=line.booked_on + dt.timedelta(days=DAYS_BEFORE),
        )
        .select_related("account", "case", "reporter")
        .order_by("paid_on", "created_at")
    )


def open_reports() -> QuerySet[MissingPaymentReport]:
    return (
        MissingPaymentReport.objects.filter(status=MissingPaymentReport.Status.OPEN)
        .select_related("account", "case", "reporter")
        .order_by("created_at")
    )


def reports_for_staff(*, status: str = "") -> QuerySet[MissingPaymentReport]:
    reports = MissingPaymentReport.objects.select_related("account", "case", "reporter")
    if status:
        reports = reports.filter(status=status)
    return reports.order_by("-created_at")


def reports_for_user(user) -> QuerySet[MissingPaymentReport]:
    """A resident's own reports, on accounts still linked to them."""
    return (
        MissingPaymentReport.objects.filter(
            reporter=user, account__links__user=user, account__links__revoked_at=None
        )
        .select_related("account", "case")
        .distinct()
        .order_by("-created_at")
    )


def lines_for_report(report: MissingPaymentReport) -> QuerySet[BankLine]:
    return report.bank_lines.select_related("statement", "resolved_by").order_by("booked_on")
