"""The database itself refuses unbalanced transactions and changes to the ledger (PostgreSQL).

These tests commit for real (transactional_db), because the balance check runs at commit.
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
    """Insert a transaction and its postings with raw SQL, in one committed transaction."""
    txn_id = uuid.uuid4()
    with db_transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(INSERT_TXN, [txn_id, "ZAR"])
        for account_id, amount, posting_currency in rows:
            cursor.execute(
                INSERT_POSTING, [txn_id, account_id, amount, posting_currency or currency]
            )
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


def test_the_check_is_deferred_to_commit(ids):
    """Postings may arrive one at a time within the transaction; only the commit is checked."""
    bank, revenue = ids
    txn_id = uuid.uuid4()
    with db_transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(INSERT_TXN, [txn_id, "ZAR"])
        cursor.execute(INSERT_POSTING, [txn_id, bank, 100, "ZAR"])
        cursor.execute("SELECT count(*) FROM ledger_posting")  # unbalanced here, and allowed
        cursor.execute(INSERT_POSTING, [txn_id, revenue, -100, "ZAR"])
    assert Posting.objects.filter(transaction_id=txn_id).count() == 2


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
