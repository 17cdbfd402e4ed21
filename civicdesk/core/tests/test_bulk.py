"""bulk_insert writes what the ORM would have written: UUIDs, dates, aware datetimes, foreign
keys and text read back equal (SQLite executemany; COPY under make test-pg)."""

import datetime as dt
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicdesk.core.bulk import bulk_insert
from civicdesk.ledger.models import Transaction

pytestmark = pytest.mark.django_db

FIELDS = ["id", "kind", "value_date", "booked_at", "reference", "description", "currency"]


@settings(max_examples=25, deadline=None)
@given(
    day=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31)),
    moment=st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
        lambda d: d.replace(tzinfo=dt.UTC)
    ),
    text=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
)
def test_rows_read_back_as_written(day, moment, text):
    from django.db import transaction

    row_id = uuid.uuid4()
    with transaction.atomic():
        # Transactions need postings at commit on PostgreSQL; roll this one back.
        assert bulk_insert(Transaction, FIELDS, [(row_id, "charge", day, moment, text, "", "ZAR")])
        stored = Transaction.objects.get(pk=row_id)
        assert (stored.value_date, stored.booked_at, stored.reference) == (day, moment, text)
        transaction.set_rollback(True)


def test_nothing_to_insert_is_fine():
    assert bulk_insert(Transaction, FIELDS, []) == 0
    assert not Transaction.objects.exists()
