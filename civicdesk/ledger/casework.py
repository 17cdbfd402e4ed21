"""The ledger's bridge to the CRM: money requests become cases in the revenue team's queue.

Cases are written only through ``civicdesk.cases.services`` (the CRM owns its rules); this
module finds the category for a kind of request and files the case.
"""

from __future__ import annotations

from collections.abc import Iterable

from civicdesk.cases import services as case_services
from civicdesk.cases.models import Case, Category, Channel

# Category codes the operator configures (the demo ships them, routed to the revenue team);
# if an installation has none, the first request creates a plain one of the right kind.
CATEGORY_CODES = {
    Category.Kind.MISSING_PAYMENT: "missing-payment",
    Category.Kind.REFUND: "refund",
}
DEFAULT_NAMES = {
    Category.Kind.MISSING_PAYMENT: {
        "en": "Missing payment",
        "af": "Ontbrekende betaling",
        "uk": "Платіж не зараховано",
        "ru": "Платёж не зачислен",
    },
    Category.Kind.REFUND: {
        "en": "Refund request",
        "af": "Terugbetalingsversoek",
        "uk": "Повернення коштів",
        "ru": "Возврат средств",
    },
}


def money_category(kind: str) -> Category:
    category = Category.objects.filter(kind=kind, active=True).order_by("order", "pk").first()
    if category is not None:
        return category
    category, _created = Category.objects.get_or_create(
        code=CATEGORY_CODES[kind],
        defaults={"kind": kind, "names": DEFAULT_NAMES[kind]},
    )
    return category


def money_case_open(
    *,
    kind: str,
    account,
    requester,
    subject: str,
    description: str,
    channel: str = Channel.PORTAL,
    attachments: Iterable = (),
    actor=None,
) -> Case:
    """File a missing-payment or refund case about ``account`` for ``requester``; it is routed
    like any other case (the operator's routing rules send these to the revenue team)."""
    intake = case_services.Intake(
        category=money_category(kind),
        channel=channel,
        subject=subject,
        description=description,
        requester=requester,
        concerns=[account],
        actor=actor or requester,
    )
    return case_services.case_create(intake, attachments=attachments)
