"""Notifications, replays and the reconciler racing on one payment from parallel connections
settle it once (PostgreSQL: real row locks; SQLite serialises writers anyway)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from civicdesk.ledger import payments
from civicdesk.ledger.models import Payment, Transaction
from civicdesk.ledger.tests.payment_helpers import balance_minor, decide, deliver

pytest_plugins = ["civicdesk.ledger.tests.payments_support"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="parallel connections need PostgreSQL (set DATABASE_URL)",
    ),
]

WORKERS = 8


def test_parallel_notifications_and_reconciler_post_once(household):
    payment = payments.payment_create(
        account=household.account,
        amount=Decimal("100.00"),
        gateway="sandbox",
        actor=household.resident,
        channel="portal",
    )
    result = decide(payment, "success")
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            if index % 2:
                deliver(result)
            else:
                payments.payment_check(payment)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert Transaction.objects.filter(reference=str(payment.pk)).count() == 1
    assert balance_minor(household.account) == 5_000
