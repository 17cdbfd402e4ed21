"""The ledger's part of the customer 360 page: each account's balance and its latest
transactions. Registered from LedgerConfig.ready()."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

RECENT = 10


def _money(request, subject) -> dict | None:
    from civicdesk.ledger import selectors
    from civicdesk.registry.selectors import operator_get

    if not subject.accounts:
        return None
    operator = operator_get()
    currency = operator.currency if operator else ""
    accounts = []
    for account in subject.accounts:
        recent = list(selectors.account_transactions(account)[:RECENT])
        accounts.append(
            {
                "account": account,
                "summary": selectors.account_summary(account, currency=currency),
                "rows": selectors.statement_rows(account, recent),
            }
        )
    return {"accounts": accounts}


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
