"""The bulk import of meter readings (`metering.importing.readings_import`): the file format,
what is checked, dry runs, all or nothing, malformed files, chunking, and that a file's
readings get the same verdicts as the services give the same readings one by one."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.metering import importing, services
from civicdesk.metering.importing import readings_import
from civicdesk.metering.models import (
    ConsumptionAlert,
    EstimateTrueUp,
    MeteringSettings,
    MeterRegister,
    Reading,
    ReadingImport,
)
from civicdesk.metering.selectors import metering_settings
from civicdesk.metering.tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
HEADER = "serial,register,value,taken_at"
D = Decimal


@pytest.fixture(autouse=True)
def _now(operator):
    with time_machine.travel(NOW, tick=False):
        yield


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def run(data: bytes, **options) -> ReadingImport:
    options.setdefault("dry_run", False)
    return readings_import(stream=io.BytesIO(data), file_name="round.csv", **options)


def state(meter, register: str = "T", **fields) -> MeterRegister:
    """A register with a previous reading on record (and optionally months of use)."""
    defaults = {
        "last_value": D("100.000"),
        "last_taken_at": datetime(2026, 2, 15, 8, 0, tzinfo=UTC),
        "last_period": date(2026, 2, 1),
        "last_real_value": D("100.000"),
        "last_real_taken_at": datetime(2026, 2, 15, 8, 0, tzinfo=UTC),
    }
    defaults.update(fields)
    return MeterRegister.objects.create(meter=meter, register=register, **defaults)


def codes(record: ReadingImport) -> list[tuple[int, str, str]]:
    return [(e["line"], e["field"], e["code"]) for e in record.errors]


# --- the happy path ---------------------------------------------------------------------------


def test_a_round_is_imported_and_moves_the_registers(make_user):
    officer = make_user(role="revenue_officer")
    water = factories.meter(serial="W-1")
    state(water, recent=[["2026-01", "10.000"], ["2026-02", "12.000"]])
    power = factories.meter(serial="E-1", resource="electricity", rates="day_night")
    record = run(
        csv_bytes(
            "W-1,T,112.5,2026-03-15",
            "E-1,T1,1500,2026-03-15T08:30",
            "E-1,T2,700.25,2026-03-15T08:30",
        ),
        actor=officer,
    )
    assert record.status == ReadingImport.Status.DONE
    assert (record.rows_read, record.accepted, record.flagged, record.rejected) == (3, 3, 0, 0)
    assert record.error_count == 0 and record.errors == []
    assert record.started_by == officer and record.finished_at is not None
    assert ReadingImport.objects.get(pk=record.pk).status == "done"

    reading = Reading.objects.get(meter=water)
    assert reading.value == D("112.500")
    assert reading.consumption == D("12.500")
    assert reading.source == Reading.Source.IMPORT
    assert reading.status == Reading.Status.ACCEPTED and reading.reasons == ""
    assert reading.submitted_by == officer
    assert reading.period == date(2026, 3, 1)
    # A date alone is the start of that day in the operator's zone (UTC+2).
    assert reading.taken_at == datetime(2026, 3, 14, 22, 0, tzinfo=UTC)
    assert reading.created_at == NOW
    row = MeterRegister.objects.get(meter=water)
    assert row.last_value == D("112.500") and row.last_real_value == D("112.500")
    assert row.last_taken_at == reading.taken_at and row.last_period == date(2026, 3, 1)
    assert row.recent == [["2026-01", "10.000"], ["2026-02", "12.000"], ["2026-03", "12.500"]]

    # Day/night meter: both registers created (first readings: no consumption yet).
    rows = {r.register: r for r in MeterRegister.objects.filter(meter=power)}
    assert rows["T1"].last_value == D("1500.000") and rows["T2"].last_value == D("700.250")
    assert rows["T1"].last_taken_at == datetime(2026, 3, 15, 6, 30, tzinfo=UTC)
    assert Reading.objects.filter(meter=power, consumption__isnull=True).count() == 2
    assert len(set(Reading.objects.values_list("public_id", flat=True))) == 3


def test_bom_semicolons_decimal_commas_aliases_and_date_formats():
    meter = factories.meter(serial="W-2")
    state(meter)
    data = (
        "\ufeffMeter; Reading ;Date;Account\nW-2;101,5;15.03.2026;\nW-2;102,25;16.03.2026 07:45;\n"
    )
    record = run(data.encode("utf-8"))
    assert record.status == "done", record.errors
    values = list(Reading.objects.order_by("taken_at").values_list("value", "taken_at"))
    assert values == [
        (D("101.500"), datetime(2026, 3, 14, 22, 0, tzinfo=UTC)),
        (D("102.250"), datetime(2026, 3, 16, 5, 45, tzinfo=UTC)),
    ]


def test_offsets_in_the_file_are_respected():
    meter = factories.meter(serial="W-3")
    state(meter)
    record = run(csv_bytes("W-3,,101,2026-03-15T08:30:00Z", "W-3,,102,2026-03-16T08:30+03:00"))
    assert record.status == "done", record.errors
    assert list(Reading.objects.order_by("taken_at").values_list("taken_at", flat=True)) == [
        datetime(2026, 3, 15, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 16, 5, 30, tzinfo=UTC),
    ]


def test_tab_separated_files_and_blank_lines_are_read():
    meter = factories.meter(serial="W-4")
    state(meter)
    record = run(b"serial\tvalue\ttaken_at\n\nW-4\t105\t2026-03-15\n\t\t\n\n")
    assert (record.status, record.rows_read, record.accepted) == ("done", 1, 1)


# --- the rules: the same as the services' -----------------------------------------------------


def test_business_rejections_are_stored_and_counted_per_reason():
    low = factories.meter(serial="LOW")
    state(low)
    dup = factories.meter(serial="DUP")
    state(dup, last_taken_at=datetime(2026, 3, 15, 8, 0, tzinfo=UTC))
    digits = factories.meter(serial="DIG", digits=3)
    future = factories.meter(serial="FUT")
    removed = factories.meter(serial="REM", status="removed")
    faulty = factories.meter(serial="FLT", status="faulty")
    early = factories.meter(serial="NEW", installed_on=date(2026, 3, 18))
    record = run(
        csv_bytes(
            "LOW,,90,2026-03-15",
            "DUP,,100,2026-03-15T12:00",
            "DIG,,1234,2026-03-15",
            "FUT,,5,2026-03-25",
            "REM,,5,2026-03-15",
            "FLT,,5,2026-03-15",
            "NEW,,5,2026-03-15",
            "LOW,,-3,2026-03-16",
            "LOW,,100.1234,2026-03-17",
        )
    )
    assert record.status == "done"
    assert (record.accepted, record.flagged, record.rejected) == (0, 0, 9)
    assert record.reasons == {
        "bad_value": 1,
        "before_installation": 1,
        "duplicate": 1,
        "in_future": 1,
        "lower_than_previous": 1,
        "meter_faulty": 1,
        "meter_removed": 1,
        "negative": 1,
        "too_many_digits": 1,
    }
    stored = dict(Reading.objects.values_list("meter__serial", "reasons").filter(value__gt=0))
    assert stored["LOW"] in {"lower_than_previous", "bad_value"}
    assert Reading.objects.filter(status="rejected", consumption__isnull=False).count() == 0
    # A rejected value keeps what fits the column (rounded to thousandths).
    assert Reading.objects.filter(meter=low, value=D("100.123")).exists()
    # Nothing moved.
    assert MeterRegister.objects.get(meter=low).last_value == D("100.000")
    assert not MeterRegister.objects.filter(meter__in=[digits, future, removed]).exists()
    assert not MeterRegister.objects.filter(meter__in=[faulty, early]).exists()


def test_a_spike_is_flagged_stored_and_does_not_move_the_register():
    meter = factories.meter(serial="SPK")
    history = [["2025-11", "10.000"], ["2025-12", "10.000"], ["2026-01", "10.000"]]
    state(meter, recent=history)
    record = run(csv_bytes("SPK,,200,2026-03-15"))
    assert (record.accepted, record.flagged, record.rejected) == (0, 1, 0)
    assert record.reasons == {"spike": 1}
    reading = Reading.objects.get(meter=meter)
    assert reading.status == "flagged" and reading.consumption == D("100.000")
    row = MeterRegister.objects.get(meter=meter)
    assert row.last_value == D("100.000") and row.recent == history


def test_several_readings_of_a_register_are_decided_in_order():
    meter = factories.meter(serial="SEQ")
    state(meter)
    record = run(
        csv_bytes(
            "SEQ,,110,2026-03-02",
            "SEQ,,105,2026-03-03",  # lower than the 110 just accepted
            "SEQ,,125,2026-03-04T09:00",
            "SEQ,,125,2026-03-04T10:00",  # the same value the same day: a duplicate
            "SEQ,,130,2026-03-01",  # before the latest reading
        )
    )
    verdicts = list(
        Reading.objects.order_by("id").values_list("value", "status", "reasons", "consumption")
    )
    assert verdicts == [
        (D("110.000"), "accepted", "", D("10.000")),
        (D("105.000"), "rejected", "lower_than_previous", None),
        (D("125.000"), "accepted", "", D("15.000")),
        (D("125.000"), "rejected", "duplicate", None),
        (D("130.000"), "rejected", "before_previous", None),
    ]
    assert (record.accepted, record.rejected) == (2, 3)
    row = MeterRegister.objects.get(meter=meter)
    assert row.last_value == D("125.000") and row.recent == [["2026-03", "25.000"]]


def test_roll_over_and_a_multiplier():
    meter = factories.meter(serial="ROLL", digits=4, multiplier="10")
    state(meter, last_value=D("9990"), last_real_value=D("9990"))
    run(csv_bytes("ROLL,,15,2026-03-15"))
    reading = Reading.objects.get(meter=meter)
    assert reading.status == "accepted" and reading.reasons == "rolled_over"
    assert reading.rolled_over and reading.consumption == D("250.000")


def test_a_real_reading_after_estimates_records_the_true_up():
    meter = factories.meter(serial="EST")
    state(
        meter,
        last_value=D("130.000"),
        last_taken_at=datetime(2026, 2, 28, 21, 59, tzinfo=UTC),
        last_period=date(2026, 2, 1),
        last_real_value=D("100.000"),
        last_real_taken_at=datetime(2025, 12, 15, 8, 0, tzinfo=UTC),
        estimated_periods=2,
        estimated_quantity=D("30.000"),
    )
    for period, value in ((date(2026, 1, 1), "115"), (date(2026, 2, 1), "130")):
        Reading.objects.create(
            meter=meter,
            value=D(value),
            taken_at=datetime(period.year, period.month, 28, tzinfo=UTC),
            period=period,
            consumption=D("15"),
            source="estimate",
            status="accepted",
            created_at=NOW,
        )
    record = run(csv_bytes("EST,,150,2026-03-15"))
    assert record.accepted == 1
    true_up = EstimateTrueUp.objects.get(meter=meter)
    assert true_up.reading == Reading.objects.get(meter=meter, source="import")
    assert (true_up.first_period, true_up.last_period) == (date(2026, 1, 1), date(2026, 2, 1))
    assert (true_up.estimated, true_up.actual, true_up.difference) == (
        D("30.000"),
        D("50.000"),
        D("20.000"),
    )
    row = MeterRegister.objects.get(meter=meter)
    assert row.estimated_periods == 0 and row.last_real_value == D("150.000")


# --- format errors: all or nothing ------------------------------------------------------------


def _bad_file():
    factories.meter(serial="OK-1")
    factories.meter(serial="DN-1", resource="electricity", rates="day_night")
    account_meter = factories.meter(serial="AC-1")
    return csv_bytes(
        "OK-1,T,10,2026-03-10",  # 2 good
        "OK-1,T,abc,2026-03-11",  # 3 not a number
        ",T,10,2026-03-11",  # 4 no serial
        "OK-1,T",  # 5 short line
        "OK-1,T,11,2026-03-11,,extra",  # 6 extra value
        "OK-1,T,11,11/03/2026",  # 7 not a date
        "NOPE,T,11,2026-03-11",  # 8 unknown meter
        "DN-1,,11,2026-03-11",  # 9 no register T on a day/night meter
        "OK-1,T,12,2026-03-10",  # 10 the same time as line 2
        "OK-1,T,1e30,2026-03-12",  # 11 absurd
        "DN-1,T1,11,2026-03-11",  # 12 good
        f"AC-1,T,5,2026-03-11,{account_meter.account.number}",  # 13 good, account checked
        "AC-1,T,6,2026-03-12,999999",  # 14 not the meter's account
        header="serial,register,value,taken_at,account",
    )


def test_format_errors_write_nothing_but_are_all_reported():
    data = _bad_file()
    record = run(data)
    assert record.status == ReadingImport.Status.REFUSED
    assert Reading.objects.count() == 0 and MeterRegister.objects.count() == 0
    assert codes(record) == [
        (3, "value", "not_a_number"),
        (4, "serial", "required"),
        (5, "value", "missing_value"),
        (5, "taken_at", "missing_value"),
        (6, "", "extra_values"),
        (7, "taken_at", "not_a_date"),
        (8, "serial", "unknown_meter"),
        (9, "register", "unknown_register"),
        (10, "", "duplicate_row"),
        (11, "value", "too_large"),
        (14, "account", "account_mismatch"),
    ]
    assert record.error_count == 11
    messages = {e["code"]: e["message"] for e in record.errors}
    assert messages["unknown_meter"] == "No meter has the serial number NOPE."
    assert messages["unknown_register"] == "Meter DN-1 has no register T: it has T1, T2."
    assert messages["duplicate_row"] == "The same meter, register and time as line 2."
    # The counts say what the good rows would have given.
    assert (record.rows_read, record.accepted, record.rejected) == (13, 3, 0)
    assert ReadingImport.objects.filter(pk=record.pk, status="refused").exists()


def test_skip_invalid_imports_the_good_rows():
    record = run(_bad_file(), skip_invalid=True)
    assert record.status == ReadingImport.Status.DONE
    assert record.error_count == 11 and record.accepted == 3
    assert Reading.objects.count() == 3
    assert sorted(Reading.objects.values_list("meter__serial", "register")) == [
        ("AC-1", "T"),
        ("DN-1", "T1"),
        ("OK-1", "T"),
    ]


def test_a_dry_run_writes_nothing_and_counts_exactly():
    meters = [factories.meter(serial=f"DRY-{n}") for n in range(3)]
    for meter in meters:
        state(meter, recent=[["2025-12", "5"], ["2026-01", "5"], ["2026-02", "5"]])
    data = csv_bytes(
        "DRY-0,,106,2026-03-10",
        "DRY-0,,104,2026-03-11",
        "DRY-1,,180,2026-03-10",
        "DRY-2,,107,2026-03-10",
        "DRY-2,,108,2026-03-11",
        "GONE,,1,2026-03-11",
    )
    before = list(MeterRegister.objects.order_by("id").values())
    dry = run(data, dry_run=True, skip_invalid=True, chunk_rows=2)
    assert dry.status == ReadingImport.Status.CHECKED and dry.dry_run
    assert Reading.objects.count() == 0
    assert list(MeterRegister.objects.order_by("id").values()) == before
    real = run(data, skip_invalid=True, chunk_rows=2)
    assert real.status == "done"
    fields = ("rows_read", "accepted", "flagged", "rejected", "error_count", "reasons", "errors")
    assert {f: getattr(dry, f) for f in fields} == {f: getattr(real, f) for f in fields}
    assert (real.accepted, real.flagged, real.rejected, real.error_count) == (3, 1, 1, 1)
    assert Reading.objects.count() == 5
    assert ReadingImport.objects.count() == 2


def test_a_dry_run_with_format_errors_reports_them():
    record = run(_bad_file(), dry_run=True)
    assert record.status == ReadingImport.Status.CHECKED
    assert record.error_count == 11 and Reading.objects.count() == 0


def test_only_the_first_thousand_errors_are_kept_but_all_are_counted():
    factories.meter(serial="X")
    rows = [f"X,,bad{n},2026-03-10" for n in range(1500)]
    record = run(csv_bytes(*rows), chunk_rows=400)
    assert record.error_count == 1500 and len(record.errors) == importing.KEPT_ERRORS
    assert [e["line"] for e in record.errors] == list(range(2, 1002))


# --- malformed files: refused, nothing written --------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code", "line"),
    [
        (b"", "empty_file", 1),
        (b"\n\n  \n", "empty_file", 1),
        (HEADER.encode() + b"\n", "no_rows", 2),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "binary", 1),
        (b"PK\x03\x04" + b"\x00" * 100, "spreadsheet", 1),
        (b"serial,value,taken_at\nA,1,2026-03-01\n\x00\x01\x02", "binary", 3),
        (b"serial,value\nA,1\n", "missing_columns", 1),
        (b"serial,value,taken_at,colour\nA,1,2026-03-01,red\n", "unknown_columns", 1),
        (b"serial,meter,value,taken_at\nA,A,1,2026-03-01\n", "duplicate_columns", 1),
        (b"serial,value,taken_at\nA,1,2026-03-01\nB,\xff\xfe,2026-03-01\n", "not_utf8", 3),
        (b"serial,value,taken_at\nA,1,2026-03-01\n" + b"9" * 100_000 + b"\n", "line_too_long", 3),
        (b"serial,value,taken_at\nA,1" + b"2" * 10_000_000, "line_too_long", 2),
        (b"serial,value,taken_at\nA,1\r2,2026-03-01\n", "bad_csv", 2),
    ],
)
def test_a_malformed_file_is_refused_with_a_clear_error(data, code, line):
    factories.meter(serial="A")
    record = run(data, skip_invalid=True)
    assert record.status == ReadingImport.Status.REFUSED
    assert record.errors[0]["code"] == code, record.errors
    assert record.errors[0]["line"] == line
    assert record.errors[0]["message"]
    assert Reading.objects.count() == 0 and MeterRegister.objects.count() == 0
    assert ReadingImport.objects.filter(pk=record.pk).exists()


def test_a_file_refused_half_way_writes_nothing():
    meter = factories.meter(serial="HALF")
    state(meter)
    rows = [f"HALF,,{101 + n},2026-03-{1 + n % 9:02d}T{n % 24:02d}:00" for n in range(50)]
    data = csv_bytes(*rows) + b"HALF,\xc3\x28,2026-03-19\n"
    record = run(data, chunk_rows=10)
    assert record.status == "refused" and record.errors[0]["code"] == "not_utf8"
    assert record.errors[0]["line"] == 52
    assert Reading.objects.count() == 0
    assert MeterRegister.objects.get(meter=meter).last_value == D("100.000")


def test_lines_are_counted_from_the_top_of_the_file():
    factories.meter(serial="A")
    record = run(b"\n\nserial,value,taken_at\nA,1,2026-03-01\nA,x,2026-03-02\n")
    assert codes(record) == [(5, "value", "not_a_number")]
    record = run(b"\n\nserial,value\nA,1\n")
    assert codes(record) == [(3, "", "missing_columns")]


def test_header_messages_name_the_columns():
    record = run(b"serial,value\nA,1\n")
    assert "taken_at" in record.errors[0]["message"]
    record = run(b"serial,value,taken_at,colour\nA,1,2026-03-01,red\n")
    assert "colour" in record.errors[0]["message"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2000))
def test_any_bytes_give_a_report_never_an_exception(data):
    record = run(data, dry_run=True)
    assert record.status in {"checked", "refused"}
    assert all(set(e) == {"line", "field", "code", "message"} for e in record.errors)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300))
def test_any_text_gives_a_report_never_an_exception(text):
    record = run(("serial;value;taken_at\n" + text).encode(), dry_run=True)
    assert record.status in {"checked", "refused"}


# --- chunks -----------------------------------------------------------------------------------


def test_chunks_carry_the_registers_state_across():
    """A register read in several chunks (created by the first) is decided against the state
    each chunk left."""
    meters = [factories.meter(serial=f"CH-{n}") for n in range(4)]
    rows = []
    for day in range(1, 11):
        for n, _meter in enumerate(meters):
            rows.append(f"CH-{n},,{100 + day * (n + 1)},2026-03-{day:02d}")
    rows.insert(17, "CH-0,,1,2026-03-05T12:00")  # lower: rejected
    record = run(csv_bytes(*rows), chunk_rows=3)
    assert (record.accepted, record.rejected, record.error_count) == (40, 1, 0)
    for n, meter in enumerate(meters):
        row = MeterRegister.objects.get(meter=meter)
        assert row.last_value == 100 + 10 * (n + 1)
        assert row.recent == [["2026-03", f"{9 * (n + 1)}.000"]]
    assert MeterRegister.objects.count() == 4


def test_progress_is_reported():
    factories.meter(serial="P")
    calls = []
    run(
        csv_bytes(*(f"P,,{n},2026-03-{n:02d}" for n in range(1, 8))),
        chunk_rows=3,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (7, 7)
    assert [done for done, _total in calls] == sorted(done for done, _total in calls)


# --- the same verdicts as the services --------------------------------------------------------


def _twin_meters(count: int, **options):
    """Pairs of identical meters: one for the import, one for the services."""
    pairs = []
    for n in range(count):
        history = [["2025-12", "10.000"], ["2026-01", "12.000"], ["2026-02", "11.000"]]
        pair = []
        for prefix in ("I", "S"):
            meter = factories.meter(serial=f"{prefix}{n}", **options)
            for register in meter.registers:
                state(meter, register, recent=history)
            pair.append(meter)
        pairs.append(pair)
    return pairs


def _outcome(reading):
    return (reading.status, reading.reasons, reading.value, reading.consumption, reading.period)


def _register_state(meter):
    return [
        (r.register, r.last_value, r.last_taken_at, r.last_period, r.recent, r.last_real_value)
        for r in MeterRegister.objects.filter(meter=meter).order_by("register")
    ]


readings_strategy = st.lists(
    st.tuples(
        st.integers(0, 2),  # which meter
        st.sampled_from(["95", "100", "100.5", "104.25", "112", "150", "99999", "100.0004"]),
        st.integers(0, 40),  # days after 2026-02-10
        st.sampled_from(["", "T07:30", "T23:30"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=readings_strategy, chunk=st.integers(1, 5))
def test_a_file_gets_the_services_verdicts_one_by_one(entries, chunk):
    with transaction.atomic():
        pairs = _twin_meters(3)
        rows, seen = [], set()
        for index, value, days, clock in entries:
            day = date(2026, 2, 10) + timedelta(days=days)
            stamp = f"{day.isoformat()}{clock}"
            if (index, stamp) in seen:
                continue  # a duplicate row is a format error of the file, not a verdict
            seen.add((index, stamp))
            rows.append((index, value, stamp))
        record = run(csv_bytes(*(f"I{i},,{v},{s}" for i, v, s in rows)), chunk_rows=chunk)
        assert record.error_count == 0, record.errors
        for index, value, stamp in rows:
            taken_at = datetime.fromisoformat(stamp)
            services.readings_submit(
                meter=pairs[index][1],
                values={"T": value},
                taken_at=taken_at,
                source=Reading.Source.STAFF,
                keep_rejected=True,
            )
        for imported, submitted in pairs:
            mine = [_outcome(r) for r in Reading.objects.filter(meter=imported).order_by("id")]
            theirs = [_outcome(r) for r in Reading.objects.filter(meter=submitted).order_by("id")]
            assert mine == theirs
            assert _register_state(imported) == _register_state(submitted)
        transaction.set_rollback(True)


def test_a_day_night_meter_gets_the_services_verdicts():
    ((imported, submitted),) = _twin_meters(1, resource="electricity", rates="day_night")
    entries = [
        ("2026-03-01", "112", "105"),
        ("2026-03-05", "99", "108"),
        ("2026-03-09T12:00", "140", "140"),
    ]
    rows = []
    for stamp, day_value, night_value in entries:
        rows += [f"I0,T1,{day_value},{stamp}", f"I0,T2,{night_value},{stamp}"]
        services.readings_submit(
            meter=submitted,
            values={"T1": day_value, "T2": night_value},
            taken_at=datetime.fromisoformat(stamp),
            source=Reading.Source.STAFF,
            keep_rejected=True,
        )
    run(csv_bytes(*rows))

    def outcomes(meter):
        found = Reading.objects.filter(meter=meter).order_by("taken_at", "register")
        return [(r.register, *_outcome(r)) for r in found]

    assert outcomes(imported) == outcomes(submitted)
    assert _register_state(imported) == _register_state(submitted)
    assert {r[1] for r in outcomes(imported)} == {"accepted", "rejected", "flagged"}


# --- interval data ----------------------------------------------------------------------------


def test_interval_data_raises_a_night_flow_alert():
    settings_row = metering_settings()
    MeteringSettings.objects.filter(pk=settings_row.pk).update(leak_night_hours=4)
    meter = factories.meter(serial="AMR-1")
    state(meter, last_taken_at=datetime(2026, 3, 9, 21, 0, tzinfo=UTC))
    rows = [f"AMR-1,,{100 + hour * 0.05:.3f},2026-03-10T{hour:02d}:00" for hour in range(7)]
    dry = run(csv_bytes(*rows), dry_run=True)
    assert dry.accepted == 7 and not ConsumptionAlert.objects.exists()
    record = run(csv_bytes(*rows))
    assert record.accepted == 7
    alert = ConsumptionAlert.objects.get(meter=meter)
    assert alert.kind == ConsumptionAlert.Kind.NIGHT_FLOW
    assert alert.period == date(2026, 3, 1)


def test_a_monthly_file_does_not_look_for_night_flow(monkeypatch):
    calls = []
    monkeypatch.setattr(services, "night_flow_check", lambda **kw: calls.append(kw))
    meter = factories.meter(serial="MON")
    state(meter)
    run(csv_bytes("MON,,110,2026-03-10"))
    assert calls == []


# --- PostgreSQL -------------------------------------------------------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: COPY, temporary table, row locks"
)


@postgres_only
def test_postgres_two_imports_in_one_transaction_reuse_the_temporary_table():
    meter = factories.meter(serial="PG-1")
    state(meter)
    with transaction.atomic():
        first = run(csv_bytes("PG-1,,110,2026-03-10"))
        second = run(csv_bytes("PG-1,,120,2026-03-11"))
    assert first.status == second.status == "done"
    assert MeterRegister.objects.get(meter=meter).last_value == D("120.000")
    assert MeterRegister.objects.get(meter=meter).recent == [["2026-03", "20.000"]]


@postgres_only
def test_postgres_a_refused_import_inside_a_transaction_keeps_its_record():
    meter = factories.meter(serial="PG-2")
    state(meter)
    with transaction.atomic():
        record = run(csv_bytes("PG-2,,110,2026-03-10", "PG-2,,x,2026-03-11"))
        assert record.status == "refused"
        assert ReadingImport.objects.filter(pk=record.pk).exists()
        assert Reading.objects.count() == 0
        # The transaction is still usable.
        assert MeterRegister.objects.get(meter=meter).last_value == D("100.000")


@postgres_only
def test_postgres_jsonb_and_numeric_round_trip_through_copy():
    meter = factories.meter(serial="PG-3", multiplier="2.5")
    run(csv_bytes("PG-3,,10.125,2026-03-01", "PG-3,,12.5,2026-03-02"), chunk_rows=1)
    row = MeterRegister.objects.get(meter=meter)
    reading = Reading.objects.get(value=D("12.500"))
    assert reading.consumption == D("5.938")  # 2.375 × 2.5, to the thousandth
    assert [(month, D(use)) for month, use in row.recent] == [("2026-03", D("5.938"))]
    assert Reading.objects.get(value=D("10.125")).consumption is None


# --- the pieces -------------------------------------------------------------------------------


def _month(index: int) -> date:
    return date(2025 + index // 12, index % 12 + 1, 1)


@settings(max_examples=200, deadline=None)
@given(
    months=st.lists(st.integers(0, 40), unique=True, max_size=12),
    new=st.integers(0, 45),
    use=st.decimals(min_value=0, max_value=10_000, places=3, allow_nan=False),
)
def test_the_recent_months_text_is_what_json_dumps_would_write(months, new, use):
    """The register's JSON text kept up to date by appending (no json.dumps per register)
    says exactly what `state.recent_to_json` + json.dumps of `state.recent_add` would."""
    import json

    from civicdesk.metering import state as register_state

    old = tuple((_month(m).strftime("%Y-%m"), str(D(m) / 4)) for m in sorted(months))
    text = json.dumps(register_state.recent_to_json(old))
    try:
        recent = register_state.recent_add(old, _month(new), use)
    except TypeError:  # the month is on record (as text): the import parses the months
        parsed = tuple((k, D(v)) for k, v in old)
        recent = register_state.recent_add(parsed, _month(new), use)
    appended = importing._json_appended(text, old, recent)
    expected = json.dumps(register_state.recent_to_json(recent))
    if appended is not None:
        assert appended == expected
    if old and _month(new).strftime("%Y-%m") > old[-1][0]:
        assert appended == expected  # a later month: always the fast way


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-03-15", datetime(2026, 3, 14, 22, 0, tzinfo=UTC)),
        ("2026-03-15T08:30", datetime(2026, 3, 15, 6, 30, tzinfo=UTC)),
        ("2026-03-15 08:30:15", datetime(2026, 3, 15, 6, 30, 15, tzinfo=UTC)),
        ("2026-03-15T08:30:00Z", datetime(2026, 3, 15, 8, 30, tzinfo=UTC)),
        ("2026-03-15T08:30+03:00", datetime(2026, 3, 15, 5, 30, tzinfo=UTC)),
        ("15.03.2026", datetime(2026, 3, 14, 22, 0, tzinfo=UTC)),
        ("5.3.2026 7:05", datetime(2026, 3, 5, 5, 5, tzinfo=UTC)),
        ("15/03/2026", None),
        ("2026-02-30", None),
        ("31.02.2026", None),
        ("0001-01-01", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_dates_and_times(text, utc):
    from zoneinfo import ZoneInfo

    when = importing._parse_when(text, ZoneInfo("Africa/Johannesburg"))
    assert (when.utc if when else None) == utc
    if when is not None:
        assert when.day == when.local.astimezone(ZoneInfo("Africa/Johannesburg")).date()


def test_every_code_has_a_message():
    assert set(importing.MESSAGES) >= importing.FILE_CODES
    for code in importing.MESSAGES:
        text = importing.error_message(
            code,
            {
                "line": 1,
                "max": 2,
                "reason": "r",
                "columns": 3,
                "known": "k",
                "first": 1,
                "last": 2,
                "serial": "s",
                "register": "T",
                "registers": "T1",
                "account": "a",
            },
        )
        assert text and "%(" not in text
