"""`manage.py import_readings`: the printed report, the progress bar, the exit status."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from civicdesk.metering.models import MeterRegister, Reading, ReadingImport
from civicdesk.metering.tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now(operator):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def meters():
    meter = factories.meter(serial="W-1")
    MeterRegister.objects.create(
        meter=meter,
        register="T",
        last_value=100,
        last_real_value=100,
        last_taken_at=datetime(2026, 2, 15, tzinfo=UTC),
        last_real_taken_at=datetime(2026, 2, 15, tzinfo=UTC),
    )
    factories.meter(serial="W-2")
    return meter


def write(tmp_path, *rows: str, name: str = "round.csv"):
    path = tmp_path / name
    path.write_text("\n".join(["serial,value,taken_at", *rows]) + "\n", encoding="utf-8")
    return path


def command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_readings", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_imports_with_a_report_and_a_progress_bar(tmp_path, meters, make_user):
    officer = make_user(role="revenue_officer")
    path = write(tmp_path, "W-1,110,2026-03-10", "W-1,90,2026-03-11", "W-2,5,2026-03-10")
    out, err = command(str(path), "--user", officer.email)
    assert "round.csv: Imported." in out
    assert "Rows read: 3; accepted 2, flagged for review 0, rejected 1" in out
    assert "lower_than_previous: The reading is lower than the previous one." in out
    assert "3/3" in err and "rows" in err  # tqdm
    record = ReadingImport.objects.get()
    assert record.started_by == officer and record.status == "done"
    assert f"Import {record.public_id}." in out
    assert Reading.objects.count() == 3


def test_a_dry_run_writes_nothing(tmp_path, meters):
    out, _err = command(str(write(tmp_path, "W-1,110,2026-03-10")), "--dry-run", "--no-progress")
    assert "Dry run: nothing was written." in out and "accepted 1" in out
    assert Reading.objects.count() == 0


def test_rows_that_cannot_be_read_refuse_the_import(tmp_path, meters):
    path = write(tmp_path, "W-1,110,2026-03-10", "W-9,5,2026-03-10", "W-2,five,2026-03-10")
    with pytest.raises(CommandError, match="Refused: nothing was written"):
        command(str(path), "--no-progress")
    assert Reading.objects.count() == 0
    out, _err = StringIO(), StringIO()
    with pytest.raises(CommandError):
        call_command("import_readings", str(path), "--no-progress", stdout=out)
    text = out.getvalue()
    assert "line 3, serial: No meter has the serial number W-9." in text
    assert "line 4, value: Not a number" in text
    assert "Errors (2 of 2):" in text


def test_a_dry_run_with_unreadable_rows_fails(tmp_path, meters):
    path = write(tmp_path, "W-1,110,2026-03-10", "W-9,5,2026-03-10")
    with pytest.raises(CommandError, match="a real import would write nothing"):
        command(str(path), "--dry-run", "--no-progress")


def test_skip_invalid_imports_the_good_rows(tmp_path, meters):
    path = write(tmp_path, "W-1,110,2026-03-10", "W-9,5,2026-03-10")
    out, _err = command(str(path), "--skip-invalid", "--no-progress")
    assert "Imported." in out and "rows that cannot be read 1" in out
    assert Reading.objects.count() == 1


def test_a_malformed_file_is_refused(tmp_path, meters):
    path = tmp_path / "readings.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(200))
    out = StringIO()
    with pytest.raises(CommandError, match="Refused"):
        call_command("import_readings", str(path), "--no-progress", stdout=out)
    assert "This is a spreadsheet, not CSV" in out.getvalue()
    assert ReadingImport.objects.get().status == "refused"


def test_a_missing_file_or_user(tmp_path, meters):
    with pytest.raises(CommandError, match="No such file"):
        command(str(tmp_path / "nope.csv"))
    with pytest.raises(CommandError, match="No member of staff"):
        command(str(write(tmp_path, "W-1,110,2026-03-10")), "--user", "nobody@example.org")
    assert not ReadingImport.objects.exists()
