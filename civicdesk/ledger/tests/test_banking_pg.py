"""Bank statements under concurrency, from parallel connections (PostgreSQL): two officers
matching one line, and two people importing one file at the same moment, end with the money
moved once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from civicdesk.ledger import banking, selectors, services
from civicdesk.ledger.models import BankLine, BankStatement, LedgerAccount, Transaction
from civicdesk.ledger.tests.banking_support import csv_file, csv_format
from civicdesk.registry.tests import factories

pytestmark = [
    pytest.mark.pg,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks across connections need PostgreSQL (set DATABASE_URL)",
    ),
]

DAY = dt.date(2026, 3, 2)


def race(*jobs) -> list:
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


def test_two_officers_match_one_line_once(make_user, operator):
    officers = [make_user(role="revenue_officer") for _ in range(4)]
    account = factories.account()
    line = banking.statement_import(
        bank_format=csv_format(),
        data=csv_file([(DAY, "100.00", "x", "", "T1")]),
        file_name="s.csv",
        actor=None,
    ).lines.get()

    outcomes = race(
        *[
            (lambda o=o: banking.bank_line_match(line=line, account=account, actor=o))
            for o in officers
        ]
    )
    done = [o for o in outcomes if isinstance(o, BankLine)]
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert (len(done), len(refused)) == (1, 3), outcomes
    assert services.credit_available(account) == 10000
    suspense = services.system_account(LedgerAccount.Kind.SUSPENSE, "ZAR")
    assert selectors.balance(suspense.code) == 0
    assert Transaction.objects.filter(kind=Transaction.Kind.TRANSFER).count() == 1


def test_the_same_file_imported_twice_at_once(operator):
    account = factories.account()
    fmt = csv_format()
    data = csv_file([(DAY, "100.00", account.number, "", "T1")])

    outcomes = race(
        *[
            (
                lambda: banking.statement_import(
                    bank_format=fmt, data=data, file_name="s", actor=None
                )
            )
            for _ in range(3)
        ]
    )
    imported = [o for o in outcomes if isinstance(o, BankStatement)]
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert (len(imported), len(refused)) == (1, 2), outcomes
    assert all("already imported" in " ".join(e.messages) for e in refused)
    assert services.credit_available(account) == 10000
    assert BankLine.objects.count() == 1
