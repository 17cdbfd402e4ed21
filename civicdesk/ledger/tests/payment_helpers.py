"""Helpers for the online payment tests: ledger counts and balances, and driving the sandbox
gateway as its hosted page would."""

from __future__ import annotations

from civicdesk.ledger import payments
from civicdesk.ledger.gateways.sandbox import sandbox_decide, sandbox_notification
from civicdesk.ledger.models import Allocation, LedgerAccount, Payment, Posting, Transaction
from civicdesk.ledger.services import receivable_for


def balance_minor(account) -> int:
    receivable = receivable_for(account)
    return sum(receivable.postings.values_list("amount_minor", flat=True))


def ledger_counts() -> tuple[int, int, int]:
    """(transactions, postings, allocations): nothing posted means none of them changed."""
    return Transaction.objects.count(), Posting.objects.count(), Allocation.objects.count()


def clearing_balance(gateway: str = "sandbox", currency: str = "ZAR") -> int:
    account = LedgerAccount.objects.filter(code=f"gateway:{gateway}:{currency}").first()
    if account is None:
        return 0
    return sum(account.postings.values_list("amount_minor", flat=True))


def deliver(result) -> tuple[Payment | None, tuple]:
    """Send the sandbox's signed notification for ``result`` through notification_receive."""
    body, headers = sandbox_notification(result)
    return payments.notification_receive(
        "sandbox", body, headers["Content-Type"], headers, "127.0.0.1"
    )


def decide(payment: Payment, outcome: str):
    """The resident's choice on the sandbox page (the result to notify, None for timeout)."""
    return sandbox_decide(payment.gateway_ref, outcome)
