"""Reads from the ledger. Balances are always the sum of postings; nothing is cached."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from civicdesk.ledger import postings
from civicdesk.ledger.models import LedgerAccount, Posting
from civicdesk.registry.models import PersonalAccount


def balance(account_code: str) -> int:
    """Balance of a ledger account in minor units: debits positive, credits negative."""
    total = Posting.objects.filter(account__code=account_code).aggregate(total=Sum("amount_minor"))
    return int(total["total"] or 0)


def account_balance(personal_account: PersonalAccount) -> Decimal:
    """What the resident owes (positive) or has in credit (negative), in the ledger currency."""
    receivable = (
        LedgerAccount.objects.filter(
            personal_account=personal_account, kind=LedgerAccount.Kind.RECEIVABLE
        )
        .only("code", "currency")
        .first()
    )
    if receivable is None:
        return postings.from_minor(0)
    return postings.from_minor(
        balance(receivable.code), postings.currency_exponent(receivable.currency)
    )
