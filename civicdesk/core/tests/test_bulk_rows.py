"""bulk_insert at scale: many statements (SQLite) and the fast COPY text (PostgreSQL) write
what the ORM would have written, whatever the values; a row of the wrong width is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.core import bulk
from civicdesk.core.bulk import bulk_insert
from civicdesk.metering.models import READING_BULK_FIELDS, MeterRegister, Reading

pytestmark = pytest.mark.django_db

FIELDS = READING_BULK_FIELDS


@pytest.fixture
def meter_id(operator):
    from civicdesk.metering.tests import factories

    return factories.meter().pk


def row(meter_id, n, *, reasons="", taken_at=None, value=None):
    return (
        uuid.uuid4(),
        meter_id,
        "T",
        value if value is not None else Decimal(n) + Decimal("0.125"),
        taken_at or datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=n),
        date(2026, 3, 1),
        None if n % 3 == 0 else Decimal("1.500"),
        n % 2 == 0,
        "import",
        "accepted",
        reasons,
        None,
        "",
        datetime(2026, 3, 30, 8, 15, 0, 123456, tzinfo=UTC),
    )


def stored(public_id):
    r = Reading.objects.get(public_id=public_id)
    return (
        r.public_id,
        r.meter_id,
        r.register,
        r.value,
        r.taken_at,
        r.period,
        r.consumption,
        r.rolled_over,
        r.source,
        r.status,
        r.reasons,
        r.submitted_by_id,
        r.photo.name,
        r.created_at,
    )


def test_many_statements_and_a_remainder(meter_id, monkeypatch):
    monkeypatch.setattr(bulk, "SQLITE_ROWS", 7)  # several statements on SQLite, and a rest
    rows = [row(meter_id, n) for n in range(45)]
    with transaction.atomic():
        assert bulk_insert(Reading, FIELDS, rows) == 45
    assert Reading.objects.filter(meter_id=meter_id).count() == 45
    for made in rows[::11]:
        assert stored(made[0]) == made


def test_a_generator_of_rows_is_fine(meter_id):
    with transaction.atomic():
        assert bulk_insert(Reading, FIELDS, (row(meter_id, n) for n in range(5))) == 5


def test_a_row_of_the_wrong_width_is_refused(meter_id):
    rows = [row(meter_id, 1), row(meter_id, 2)[:-1]]
    with pytest.raises(ValueError, match="13 values for 14 fields"), transaction.atomic():
        bulk_insert(Reading, FIELDS, rows)
    assert not Reading.objects.filter(meter_id=meter_id).exists()


texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)
moments = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2090, 1, 1),
    timezones=st.sampled_from([UTC, ZoneInfo("Europe/Kyiv"), timezone(timedelta(hours=-3))]),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    reasons=texts,
    taken_at=moments,
    value=st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False),
)
def test_any_text_time_and_number_read_back_as_written(meter_id, reasons, taken_at, value):
    """Tabs, line ends and backslashes (written the slow way by COPY), any zone, any fold."""
    made = row(meter_id, 1, reasons=reasons[:200], taken_at=taken_at, value=value)
    with transaction.atomic():
        bulk_insert(Reading, FIELDS, [made])
        back = stored(made[0])
        assert back[:4] == made[:4] and back[5:] == made[5:]
        # The same instant (== is False across zones for an ambiguous wall time, PEP 495).
        assert back[4].timestamp() == made[4].timestamp()
        transaction.set_rollback(True)


def test_json_and_null_columns(meter_id):
    recent = [["2026-02", "1.250"], ["2026-03", "3"]]
    value = recent
    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        value = Jsonb(recent)
    fields = (
        "meter_id",
        "register",
        "last_value",
        "last_taken_at",
        "last_period",
        "last_real_value",
        "last_real_taken_at",
        "estimated_periods",
        "estimated_quantity",
        "recent",
    )
    made = (meter_id, "T", None, None, None, None, None, 0, Decimal("0"), value)
    with transaction.atomic():
        bulk_insert(MeterRegister, fields, [made])
    register = MeterRegister.objects.get(meter_id=meter_id, register="T")
    assert register.recent == recent and register.last_value is None


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgres_copy_text_falls_back_for_what_it_does_not_write(meter_id):
    rows = [row(meter_id, 1, reasons="a\tb\\c\nd"), row(meter_id, 2)]
    naive = list(row(meter_id, 3))
    naive[4] = datetime(2026, 3, 1, 12, 0)  # naive: psycopg's own dumper decides
    with transaction.atomic():
        assert bulk_insert(Reading, FIELDS, [*rows, tuple(naive)]) == 3
    assert stored(rows[0][0])[10] == "a\tb\\c\nd"
