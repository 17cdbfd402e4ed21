"""Helpers for the refund tests (plain functions; the fixtures are in refund_support)."""

from __future__ import annotations

import datetime as dt

from civicdesk.ledger import selectors
from civicdesk.ledger import services as ledger
from civicdesk.ledger.models import LedgerAccount
from civicdesk.registry.models import AccountLink

ZA_BANK = {
    "holder": "Naledi Mahlangu",
    "bank_account_number": "62000012345",
    "branch_code": "250655",
}
UA_BANK = {"holder": "Іван Петренко", "iban": "UA213223130000026007233566001"}
RU_BANK = {
    "holder": "Иван Петров",
    "bank_account_number": "40602810700000000025",
    "branch_code": "049805746",
}


def credit(account, minor: int, *, currency: str = "ZAR", reference: str = "PAY-1"):
    """Pay ``minor`` into ``account`` through the sandbox gateway: credit when nothing is owed."""
    return ledger.payment_post(
        account=account,
        amount_minor=minor,
        currency=currency,
        value_date=dt.date(2026, 3, 1),
        source=ledger.system_account(LedgerAccount.Kind.GATEWAY_CLEARING, currency, key="sandbox"),
        reference=reference,
        actor=None,
    )


def balances(account, currency: str = "ZAR") -> dict[str, int]:
    """Receivable (negative = credit), refunds payable and payouts clearing, in minor units."""
    return {
        "receivable": selectors.balance(f"receivable:{account.number}"),
        "payable": selectors.balance(f"refunds-payable:{currency}"),
        "payouts": selectors.balance(f"bank:payouts:{currency}"),
    }


def link(user, account):
    return AccountLink.objects.create(user=user, account=account, role="owner", method="code")
