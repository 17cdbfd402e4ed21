"""Billing's part of the customer 360 page: the recent bills of the accounts in view (the last
six of each), with period, charges, amount due and due date, each linking to the invoice's
back-office page. One query however many accounts and bills (none without accounts): a
window function keeps six per account. Registered from BillingConfig.ready()."""

from __future__ import annotations

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils.translation import gettext_lazy as _

RECENT = 6


def _bills(request, subject) -> dict | None:
    from civicdesk.billing.models import Invoice

    if not subject.accounts:
        return None
    numbers = {account.pk: account.number for account in subject.accounts}
    invoices = list(
        Invoice.objects.filter(account_id__in=list(numbers))
        .annotate(
            recent=Window(
                RowNumber(),
                partition_by=[F("account_id")],
                order_by=[F("period").desc(), F("pk").desc()],
            )
        )
        .filter(recent__lte=RECENT)
        .only(
            "number",
            "account_id",
            "period",
            "currency",
            "due_on",
            "charges_minor",
            "adjustments_minor",
            "closing_minor",
            "revision",
        )
        .order_by("-period", "number")
    )
    for invoice in invoices:
        invoice.account_number = numbers[invoice.account_id]
        invoice.period_minor = invoice.charges_minor + invoice.adjustments_minor
    return {"invoices": invoices, "several": len(numbers) > 1}


def register() -> None:
    from civicdesk.core import slots

    slots.register(
        "billing.bills",
        title=_("Recent bills"),
        order=35,
        template="backoffice/billing/slot_bills.html",
        context=_bills,
        permission="billing.view_invoice",
    )
