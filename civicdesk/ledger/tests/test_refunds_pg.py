"""Refunds under concurrency, from parallel connections (PostgreSQL): requests that together
exceed the credit cannot both take it; a payout and a cancel racing on one refund end with one
of them, and the books balance either way."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from civicdesk.ledger import refunds
from civicdesk.ledger import services as ledger
from civicdesk.ledger.models import RefundRequest
from civicdesk.ledger.tests.refund_helpers import ZA_BANK, balances

pytest_plugins = ["civicdesk.ledger.tests.refund_support"]

pytestmark = [
    pytest.mark.pg,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks across connections need PostgreSQL (set DATABASE_URL)",
    ),
]


def race(*jobs) -> list:
    """Run the jobs at once, each in its own thread and database connection; their outcomes
    (a result or the exception) in order."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list = [None] * len(jobs)

    def run(index, job):
        try:
            barrier.wait()
            outcomes[index] = job()
        except Exception as exc:  # the outcome is the exception
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.parametrize(("amount", "parallel", "granted"), [("300.00", 4, 1), ("100.00", 6, 5)])
def test_concurrent_requests_never_take_more_than_the_credit(
    resident, account_with_credit, amount, parallel, granted
):
    def ask():
        return refunds.refund_request(
            account=account_with_credit, requester=resident, amount=Decimal(amount), **ZA_BANK
        )

    outcomes = race(*([ask] * parallel))
    made = [o for o in outcomes if isinstance(o, RefundRequest)]
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert (len(made), len(refused)) == (granted, parallel - granted), outcomes
    assert RefundRequest.objects.count() == granted
    taken = granted * int(Decimal(amount) * 100)
    assert ledger.credit_available(account_with_credit) == 50000 - taken
    assert balances(account_with_credit) == {
        "receivable": -50000 + taken,
        "payable": -taken,
        "payouts": 0,
    }


def test_payout_and_cancel_race_one_wins(resident, account_with_credit, officer, ask):
    refund = ask("100.00")
    refunds.refund_decide(refund=refund, approver=officer, decision="approve")
    outcomes = race(
        lambda: refunds.refund_pay(refund=refund, actor=officer, payout_reference="EFT 1"),
        lambda: refunds.refund_cancel(refund=refund, actor=resident),
    )
    winners = [o for o in outcomes if isinstance(o, RefundRequest)]
    assert len(winners) == 1 and isinstance(
        next(o for o in outcomes if o not in winners), ValidationError
    ), outcomes
    refund.refresh_from_db()
    if refund.status == RefundRequest.Status.PAID:
        assert balances(account_with_credit) == {
            "receivable": -40000,
            "payable": 0,
            "payouts": -10000,
        }
    else:
        assert refund.status == RefundRequest.Status.CANCELLED
        assert balances(account_with_credit) == {"receivable": -50000, "payable": 0, "payouts": 0}


def test_two_approvers_at_once_record_both_votes(ask, officer, second_officer, operator):
    operator.refund_second_approval_minor = 1000
    operator.save()
    refund = ask("100.00")
    outcomes = race(
        lambda: refunds.refund_decide(refund=refund, approver=officer, decision="approve"),
        lambda: refunds.refund_decide(refund=refund, approver=second_officer, decision="approve"),
    )
    assert all(isinstance(o, RefundRequest) for o in outcomes), outcomes
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.APPROVED
    assert refund.approvals.count() == 2
