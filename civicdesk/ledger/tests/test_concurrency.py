"""50 payments and refunds on one account at once, from parallel database connections
(PostgreSQL): the account ends with exactly the expected balance, every refund that went
through was covered by credit at the time, and the ledger still balances."""

import random
import threading
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection, connections
from django.db.models import Count, Sum

from civicdesk.ledger import selectors, services
from civicdesk.ledger.models import LedgerAccount, Posting, Transaction

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="parallel connections need PostgreSQL (make test-pg)",
    ),
]

WORKERS = 50


def test_fifty_concurrent_payments_and_refunds_on_one_account(operator, registry):
    account = registry.account()
    gateway = services.system_account(LedgerAccount.Kind.GATEWAY_CLEARING, "ZAR", key="sandbox")
    services.receivable_for(account)
    services.payment_post(
        account=account,
        amount_minor=50_000,
        currency="ZAR",
        value_date=date(2026, 1, 1),
        source=gateway,
        reference="opening credit",
    )
    rng = random.Random(20261122)
    jobs = []
    for n in range(WORKERS):
        if n % 2 == 0:
            jobs.append(("pay", rng.randint(1, 5_000)))
        else:
            # Together the refunds ask for more than there will ever be: some must be refused.
            jobs.append(("refund", rng.randint(1_000, 12_000)))
    barrier = threading.Barrier(WORKERS)
    outcome: dict[int, str] = {}
    errors: list[BaseException] = []

    def work(n: int, kind: str, amount: int) -> None:
        try:
            barrier.wait(timeout=60)
            if kind == "pay":
                services.payment_post(
                    account=account,
                    amount_minor=amount,
                    currency="ZAR",
                    value_date=date(2026, 1, 2),
                    source=gateway,
                    reference=f"PAY-{n}",
                )
                outcome[n] = "paid"
            else:
                try:
                    services.refund_reserve(
                        account=account, amount_minor=amount, currency="ZAR", reference=f"R-{n}"
                    )
                    outcome[n] = "refunded"
                except ValidationError:
                    outcome[n] = "refused"
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=work, args=(n, kind, amount))
        for n, (kind, amount) in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    close_old_connections()
    assert not errors, errors
    assert len(outcome) == WORKERS

    paid = sum(amount for n, (kind, amount) in enumerate(jobs) if outcome[n] == "paid")
    refunded = sum(amount for n, (kind, amount) in enumerate(jobs) if outcome[n] == "refunded")
    refused = [n for n in outcome if outcome[n] == "refused"]
    assert refused, "the refunds asked for more than the credit; some must have been refused"
    receivable = services.receivable_for(account)
    expected = -50_000 - paid + refunded
    assert selectors.balance(receivable.code) == expected
    assert expected <= 0, "no refund may take more than the credit"
    refunds = services.system_account(LedgerAccount.Kind.REFUNDS_PAYABLE, "ZAR")
    assert selectors.balance(refunds.code) == -refunded
    assert selectors.balance(gateway.code) == 50_000 + paid
    # Each refund was covered when it was booked: replaying the postings in booking order,
    # the account never owes money.
    running = 0
    for amount in (
        Posting.objects.filter(account=receivable)
        .order_by("transaction__booked_at", "id")
        .values_list("amount_minor", flat=True)
    ):
        running += amount
        assert running <= 0
    assert (
        Transaction.objects.annotate(n=Count("postings"), s=Sum("postings__amount_minor"))
        .exclude(n__gte=2, s=0)
        .count()
        == 0
    )
