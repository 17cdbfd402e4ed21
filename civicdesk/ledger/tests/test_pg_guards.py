"""The database itself refuses unbalanced transactions and changes to the ledger (PostgreSQL).

These tests commit for real (transactional_db): the balance check runs at the end of each
INSERT statement on postings, and the "no empty transaction" check at commit.
"""

import uuid

import pytest
from django.db import DatabaseError, connection
from django.db import transaction as db_transaction

from civicdesk.ledger.models import Posting, Transaction
from civicdesk.ledger.postings import Leg
from civicdesk.ledger.services import transaction_post

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the ledger's database triggers exist only on PostgreSQL (set DATABASE_URL)",
    ),
]

INSERT_TXN = (
    "INSERT INTO ledger_transaction (id, kind, value_date, booked_at, reference, description,"
    " currency) VALUES (%s, 'charge', '2026-03-01', now(), 'raw', '', %s)"
)
INSERT_POSTING = (
    "INSERT INTO ledger_posting (transaction_id, account_id, amount_minor, currency)"
    " VALUES (%s, %s, %s, %s)"
)


def _raw(rows, currency="ZAR"):
    """Insert a transaction and its postings (one multi-row INSERT) with raw SQL, in one
    committed transaction."""
    txn_id = uuid.uuid4()
    with db_transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(INSERT_TXN, [txn_id, "ZAR"])
        if rows:
            values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
            sql = INSERT_POSTING.split(" VALUES ")[0] + " VALUES " + values
            params = [
                value
                for account_id, amount, posting_currency in rows
                for value in (txn_id, account_id, amount, posting_currency or currency)
            ]
            cursor.execute(sql, params)
    return txn_id


@pytest.fixture
def ids(chart):
    return chart["bank"].pk, chart["revenue"].pk


def test_balanced_raw_insert_commits(ids):
    bank, revenue = ids
    txn_id = _raw([(bank, 100, None), (revenue, -100, None)])
    assert Transaction.objects.filter(pk=txn_id).exists()


@pytest.mark.parametrize(
    "shape",
    ["unbalanced", "one_posting", "no_postings", "mixed_currency"],
)
def test_bad_raw_insert_fails_at_commit(ids, shape):
    bank, revenue = ids
    rows = {
        "unbalanced": [(bank, 100, None), (revenue, -99, None)],
        "one_posting": [(bank, 100, None)],
        "no_postings": [],
        "mixed_currency": [(bank, 100, None), (revenue, -100, "EUR")],
    }[shape]
    with pytest.raises(DatabaseError, match="ledger: "):
        _raw(rows)
    assert not Transaction.objects.exists()
    assert not Posting.objects.exists()


def test_postings_arrive_in_one_statement(ids):
    """A transaction's postings are written together: one leg at a time is refused at once."""
    bank, _revenue = ids
    txn_id = uuid.uuid4()
    with (
        pytest.raises(DatabaseError, match="needs at least two"),
        db_transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(INSERT_TXN, [txn_id, "ZAR"])
        cursor.execute(INSERT_POSTING, [txn_id, bank, 100, "ZAR"])
    assert not Transaction.objects.exists()


def test_no_posting_can_be_added_to_a_transaction_later(ids):
    bank, revenue = ids
    txn_id = _raw([(bank, 100, None), (revenue, -100, None)])
    with pytest.raises(DatabaseError, match="already has postings"):
        _add = "INSERT INTO ledger_posting (transaction_id, account_id, amount_minor, currency)"
        with db_transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _add + " VALUES (%s, %s, 5, 'ZAR'), (%s, %s, -5, 'ZAR')",
                [txn_id, bank, txn_id, revenue],
            )
    assert Posting.objects.filter(transaction_id=txn_id).count() == 2


def test_many_transactions_in_one_statement_are_each_checked(ids):
    bank, revenue = ids
    first, second = uuid.uuid4(), uuid.uuid4()
    add = "INSERT INTO ledger_posting (transaction_id, account_id, amount_minor, currency)"
    with (
        pytest.raises(DatabaseError, match="sum to"),
        db_transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(INSERT_TXN, [first, "ZAR"])
        cursor.execute(INSERT_TXN, [second, "ZAR"])
        cursor.execute(
            add + " VALUES (%s, %s, 7, 'ZAR'), (%s, %s, -7, 'ZAR'),"
            " (%s, %s, 7, 'ZAR'), (%s, %s, -6, 'ZAR')",
            [first, bank, first, revenue, second, bank, second, revenue],
        )
    assert not Transaction.objects.exists()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_posting SET amount_minor = amount_minor * 2",
        "DELETE FROM ledger_posting",
        "UPDATE ledger_transaction SET reference = 'changed'",
        "DELETE FROM ledger_transaction",
    ],
)
def test_raw_update_and_delete_are_refused(chart, sql):
    txn = transaction_post(
        kind="charge",
        legs=[Leg("bank", 100), Leg("revenue", -100)],
        currency="ZAR",
        value_date="2026-03-01",
        reference="ok",
    )
    with (
        pytest.raises(DatabaseError, match="append-only"),
        db_transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert sorted(txn.postings.values_list("amount_minor", flat=True)) == [-100, 100]
    assert Transaction.objects.get().reference == "ok"
