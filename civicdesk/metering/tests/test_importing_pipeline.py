"""The import's second thread (`importing._Pipeline`): chunk after chunk, a register's state
carries over even when the next chunk's meters were read before the last chunk's writes; a
failure there refuses the whole import, naming the chunk's lines, and writes nothing."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from civicdesk.metering import importing
from civicdesk.metering.importing import readings_import
from civicdesk.metering.models import MeterRegister, Reading, ReadingImport
from civicdesk.metering.tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 20, 10, 0, tzinfo=UTC)
D = Decimal


@pytest.fixture(autouse=True)
def _now(operator):
    with time_machine.travel(NOW, tick=False):
        yield


def run(*rows: str, chunk_rows: int = 1, **options) -> ReadingImport:
    data = ("\n".join(["serial,register,value,taken_at", *rows]) + "\n").encode()
    options.setdefault("dry_run", False)
    return readings_import(
        stream=io.BytesIO(data), file_name="round.csv", chunk_rows=chunk_rows, **options
    )


def test_a_new_register_read_in_chunk_after_chunk():
    """Never read before: the first chunk creates its row, the next ones (read before it was
    written) update it by meter and register; the months of use add up."""
    meter = factories.meter(serial="N-1")
    other = factories.meter(serial="N-2")
    record = run(
        "N-1,T,100,2026-02-16",
        "N-2,T,5,2026-02-16",
        "N-1,T,110,2026-03-16",
        "N-1,T,125,2026-04-16",
        "N-2,T,6,2026-04-16",
        "N-1,T,131,2026-05-16",
    )
    assert record.status == ReadingImport.Status.DONE, record.errors
    assert (record.accepted, record.rejected, record.flagged) == (6, 0, 0)
    row = MeterRegister.objects.get(meter=meter, register="T")
    assert row.last_value == D("131.000") and row.last_period == date(2026, 5, 1)
    assert row.recent == [["2026-03", "10.000"], ["2026-04", "15.000"], ["2026-05", "6.000"]]
    assert MeterRegister.objects.get(meter=other).last_value == D("6.000")
    assert MeterRegister.objects.filter(meter__in=[meter, other]).count() == 2
    consumption = list(
        Reading.objects.filter(meter=meter)
        .order_by("taken_at")
        .values_list("consumption", flat=True)
    )
    assert consumption == [None, D("10.000"), D("15.000"), D("6.000")]


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 100])
def test_the_chunk_size_changes_nothing(chunk_rows):
    meters = [factories.meter(serial=f"C-{n}") for n in range(3)]
    rows = [f"C-{n},T,{10 * month + n},2026-0{month}-16" for month in (2, 3, 4) for n in range(3)]
    record = run(*rows, "C-1,T,5,2026-05-16", chunk_rows=chunk_rows)  # lower: rejected
    assert (record.accepted, record.rejected) == (9, 1)
    states = [
        MeterRegister.objects.values_list("last_value", "recent").get(meter=m) for m in meters
    ]
    assert states[1] == (D("41.000"), [["2026-03", "10.000"], ["2026-04", "10.000"]])


def test_a_database_failure_in_the_second_thread_refuses_everything(monkeypatch):
    factories.meter(serial="F-1")
    factories.meter(serial="F-2")
    calls = []
    real = importing._Job._write

    def failing(job, batch):
        calls.append(batch)
        if len(calls) == 2:  # the second chunk's writes, in the second thread
            from django.db import IntegrityError

            raise IntegrityError("boom")
        return real(job, batch)

    monkeypatch.setattr(importing._Job, "_write", failing)
    before = Reading.objects.count()
    record = run("F-1,T,10,2026-03-16", "F-2,T,20,2026-03-16", "F-1,T,30,2026-04-16")
    assert record.status == ReadingImport.Status.REFUSED
    assert record.errors[0]["code"] == "database"
    assert record.errors[0]["line"] == 3  # the failing chunk's first line
    assert Reading.objects.count() == before
    assert not MeterRegister.objects.filter(meter__serial__in=["F-1", "F-2"]).exists()


def test_a_dry_run_over_many_chunks_writes_nothing_and_counts_exactly():
    factories.meter(serial="D-1")
    record = run(*(f"D-1,T,{10 * m},2026-0{m}-16" for m in range(1, 6)), dry_run=True)
    assert record.status == ReadingImport.Status.CHECKED
    assert (record.rows_read, record.accepted) == (5, 5)
    assert not Reading.objects.filter(meter__serial="D-1").exists()
