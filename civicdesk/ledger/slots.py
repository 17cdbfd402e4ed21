"""The ledger's part of the customer 360 page: each account's balance and the latest
transactions across the accounts in view. A fixed number of queries however many accounts
and however long their history. Registered from LedgerConfig.ready()."""

from __future__ import annotations

from django.db.models import Max, Q, Sum
from django.utils.translation import gettext_lazy as _

RECENT = 15


def _money(request, subject) -> dict | None:
    from civicdesk.ledger.models import LedgerAccount, Posting, Transaction

    if not subject.accounts:
        return None
    receivables = dict(
        LedgerAccount.objects.filter(
            personal_account_id__in=subject.account_ids, kind=LedgerAccount.Kind.RECEIVABLE
        ).values_list("pk", "currency")
    )
    totals = dict(
        Posting.objects.filter(account_id__in=receivables)
        .values("account__personal_account_id")
        .annotate(total=Sum("amount_minor"))
        .values_list("account__personal_account_id", "total")
    )
    currency = next(iter(receivables.values()), "")
    on_accounts = Q(postings__account_id__in=list(receivables))
    recent = list(
        Transaction.objects.filter(on_accounts)
        .annotate(
            amount_minor=Sum("postings__amount_minor", filter=on_accounts),
            account_number=Max("postings__account__personal_account__number", filter=on_accounts),
        )
        .order_by("-value_date", "-booked_at")[:RECENT]
    )
    return {
        "balances": [(account, int(totals.get(account.pk, 0))) for account in subject.accounts],
        "currency": currency,
        "recent": recent,
    }


def register() -> None:
    from civicdesk.core import slots

    slots.register(
        "ledger.money",
        title=_("Balance and transactions"),
        order=30,
        template="ledger/slot_money.html",
        context=_money,
        permission="ledger.view_transaction",
    )
