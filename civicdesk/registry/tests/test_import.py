"""The registry import against the database: upserts by natural key, dry runs, all or nothing,
history, CSV dialects and XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from civicdesk.registry.importing import ImportSource, registry_import
from civicdesk.registry.models import (
    AccountHolder,
    AccountService,
    Building,
    ImportRun,
    OpeningBalance,
    PersonalAccount,
    Premises,
    Provider,
    Territory,
)

DATA = Path(__file__).parent / "data"
ALL = (
    "opening_balances",  # in the wrong order on purpose: the import sorts by dependency
    "holders",
    "account_services",
    "accounts",
    "premises",
    "buildings",
    "providers",
    "territories",
)
MODELS = (
    Territory,
    Provider,
    Building,
    Premises,
    PersonalAccount,
    AccountHolder,
    AccountService,
    OpeningBalance,
)


def source(name: str, data: bytes | None = None, suffix: str = ".csv") -> ImportSource:
    if data is None:
        data = (DATA / f"{name}.csv").read_bytes()
    return ImportSource(name=f"{name}{suffix}", stream=io.BytesIO(data))


def run(*names: str, **options):
    return registry_import([source(n) for n in names], **options)


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def history_counts() -> dict[str, int]:
    return {m.__name__: m.history.count() for m in MODELS if hasattr(m, "history")}


def errors(report) -> list[tuple[str, int, str, str]]:
    return [(e["file"], e["line"], e["field"], e["code"]) for e in report.errors]


@pytest.fixture
def staff(make_user):
    return make_user(role="operator_admin")


@pytest.fixture
def good(operator, staff):
    report = run(*ALL, user=staff)
    assert report.ok, report.errors
    return report


def test_good_files_create_every_record(good, operator):
    assert good.created == 22 and good.updated == 0 and good.refused == 0 and good.applied
    assert counts() == {
        "Territory": 2,
        "Provider": 2,
        "Building": 2,
        "Premises": 3,
        "PersonalAccount": 3,
        "AccountHolder": 4,
        "AccountService": 3,
        "OpeningBalance": 3,
    }
    assert Territory.objects.get(code="centurion").parent.code == "tshwane"
    water = Provider.objects.get(code="city-water")
    assert water.services == ["cold_water", "sewerage"] and str(water.phone) == "+27123580000"
    church = Building.objects.get(code="b-church-1")
    assert church.territory.code == "centurion" and church.total_area == Decimal("1200.50")
    assert church.latitude == Decimal("-25.746111")
    flat = Premises.objects.get(building=church, number="1")
    assert flat.municipal_valuation == Decimal("850000") and flat.valuation_date == dt.date(
        2023, 7, 1
    )
    assert Premises.objects.get(building__code="b-church-2").ownership_share == Decimal("0.5")
    closed = PersonalAccount.objects.get(number="0000001032")
    assert closed.status == "closed" and closed.closed_on == dt.date(2023, 12, 31)
    second = PersonalAccount.objects.get(number="0000001024")  # written with spaces in the file
    assert second.opened_on == dt.date(2021, 3, 1) and second.last_bill_amount is None
    tenant = AccountHolder.objects.get(role="tenant")
    assert tenant.full_name == "Sipho Mahlangu" and str(tenant.phone) == "+27827654321"
    assert AccountService.objects.filter(account__number="0000001016").count() == 2
    balances = {
        (b.provider.code if b.provider else None): (b.amount_minor, b.currency)
        for b in OpeningBalance.objects.filter(account__number="0000001016")
    }
    assert balances == {"city-water": (123456, "ZAR"), None: (-1000, "ZAR")}
    operator.refresh_from_db()
    assert operator.account_number_next == 104  # past 0000001032 (sequence 103)


def test_the_same_files_twice_write_nothing_the_second_time(good, staff):
    before, history = counts(), history_counts()
    again = run(*ALL, user=staff)
    assert again.ok and again.written == 0 and again.unchanged == 22
    assert counts() == before and history_counts() == history
    assert ImportRun.objects.get(pk=again.run.pk).rows_written == 0


def test_the_second_run_reads_in_bulk(good, staff):
    with CaptureQueriesContext(connection) as queries:
        run(*ALL, user=staff)
    # ImportRun, operator, ~2 reads per kind: never a query per row.
    assert len(queries) <= 12


def test_a_changed_row_is_updated_with_its_history(good, staff):
    data = (
        (DATA / "premises.csv")
        .read_bytes()
        .replace(b"b-church-1,2,residential,45,45", b"b-church-1,2,residential,46,45")
    )
    report = registry_import([source("premises", data)], user=staff)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    flat = Premises.objects.get(building__code="b-church-1", number="2")
    assert flat.total_area == Decimal("46")
    latest = flat.history.first()
    assert latest.history_type == "~" and latest.history_user == staff
    assert latest.history_change_reason == "import" and latest.total_area == Decimal("46")


def test_imported_records_have_history_naming_the_user(good, staff):
    for model in MODELS:
        if not hasattr(model, "history"):
            continue
        rows = model.history.all()
        assert rows.count() == model.objects.count()
        assert {(h.history_type, h.history_user_id, h.history_change_reason) for h in rows} == {
            ("+", staff.pk, "import")
        }


def test_import_run_is_recorded(good, staff):
    run_row = ImportRun.objects.get(pk=good.run.pk)
    assert run_row.status == "done" and not run_row.dry_run and run_row.started_by == staff
    assert run_row.rows_read == 22 and run_row.rows_written == 22 and run_row.errors == []
    assert {f["kind"] for f in run_row.files} == set(ALL) and run_row.finished_at


# --- bad rows -------------------------------------------------------------------------------

BAD_PREMISES = [
    ("premises_bad.csv", 3, "total_area", "not_a_number"),
    ("premises_bad.csv", 4, "building_code", "unknown_buildings"),
    ("premises_bad.csv", 5, "heated_area", "heated_exceeds_total"),
    ("premises_bad.csv", 7, "", "duplicate"),
]


@pytest.fixture
def buildings(operator, staff):
    assert run("territories", "buildings", user=staff).ok


def test_dry_run_writes_nothing_and_lists_each_bad_line(buildings, staff):
    before, history = counts(), history_counts()
    report = run("premises_bad", user=staff, dry_run=True)
    assert errors(report) == BAD_PREMISES
    assert (report.created, report.refused, report.applied) == (2, 4, False)
    assert counts() == before and history_counts() == history
    messages = [e["message"] for e in report.errors]
    assert messages[0] == "Not a number."
    assert messages[1] == "No building has the code b-nowhere."
    assert messages[3] == "The same record as line 2."
    run_row = ImportRun.objects.get(pk=report.run.pk)
    assert run_row.dry_run and run_row.status == "done" and len(run_row.errors) == 4
    assert run_row.rows_read == 6 and run_row.rows_written == 2  # what a real run would write


def test_real_run_writes_only_the_good_rows(buildings, staff):
    report = run("premises_bad", user=staff)
    assert errors(report) == BAD_PREMISES and report.applied
    assert sorted(Premises.objects.values_list("number", flat=True)) == ["10", "13"]
    assert Premises.objects.get(number="10").total_area == Decimal("60")  # line 2, not line 7


def test_all_or_nothing_writes_nothing(buildings, staff):
    before, history = counts(), history_counts()
    report = run("premises_bad", user=staff, all_or_nothing=True)
    assert errors(report) == BAD_PREMISES and not report.applied
    assert counts() == before and history_counts() == history
    run_row = ImportRun.objects.get(pk=report.run.pk)
    assert run_row.status == "failed" and run_row.rows_written == 0 and run_row.all_or_nothing


def test_all_or_nothing_with_good_files_writes_them_all(operator, staff):
    report = run(*ALL, user=staff, all_or_nothing=True)
    assert report.ok and report.applied and counts()["OpeningBalance"] == 3


def test_a_bad_row_in_a_later_file_undoes_the_earlier_files_in_all_or_nothing(operator, staff):
    report = run("territories", "buildings", "premises_bad", user=staff, all_or_nothing=True)
    assert not report.applied and counts()["Territory"] == 0 and counts()["Building"] == 0


def test_a_dry_run_sees_records_made_by_earlier_files_of_the_same_run(operator, staff):
    report = run(*ALL, user=staff, dry_run=True)
    assert report.ok and report.created == 22
    assert sum(counts().values()) == 0


def test_wrong_check_digit_and_unknown_premises(good, staff):
    report = run("accounts_bad", user=staff)
    assert errors(report) == [
        ("accounts_bad.csv", 3, "account_number", "account_number_check_digit"),
        ("accounts_bad.csv", 4, "premises_number", "unknown_premises"),
        ("accounts_bad.csv", 5, "opened_on", "not_a_date"),
    ]
    assert "check digit" in report.errors[0]["message"]
    assert report.errors[1]["message"] == "Building b-church-1 has no premises 99."
    assert PersonalAccount.objects.filter(number="0000001040").exists()


def test_rows_refer_to_records_that_exist_only_in_the_database(good, staff, registry):
    registry.building(code="b-old")
    data = b"building_code,number,total_area,heated_area\nb-old,7,50,40\n"
    report = registry_import([source("premises", data)], user=staff)
    assert report.ok and Premises.objects.filter(building__code="b-old", number="7").exists()


def test_an_area_must_be_part_of_a_district(operator, staff):
    data = b"code,name,kind,parent_code\nd,D,district,\na1,A1,area,d\na2,A2,area,a1\n"
    report = registry_import([source("territories", data)], user=staff)
    assert errors(report) == [("territories.csv", 4, "parent_code", "parent_not_district")]
    assert report.errors[0]["message"] == "a1 is not a district."


def test_a_posted_opening_balance_cannot_change(good, staff):
    OpeningBalance.objects.filter(provider__code="eskom").update(
        posted_at=dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
    )
    data = (
        (DATA / "opening_balances.csv")
        .read_bytes()
        .replace(b"eskom,2024-06-30,0,", b"eskom,2024-06-30,5,")
    )
    report = registry_import([source("opening_balances", data)], user=staff)
    assert errors(report) == [("opening_balances.csv", 4, "amount", "balance_posted")]
    assert OpeningBalance.objects.get(provider__code="eskom").amount_minor == 0


def test_duplicates_across_files_of_one_run_are_refused(buildings, staff):
    report = registry_import(
        [source("premises"), source("premises", suffix=".again.csv")], user=staff
    )
    assert report.refused == 3 and report.created == 3
    assert report.errors[0]["message"] == "The same record as line 2 of premises.csv."


def test_a_file_of_unknown_columns_is_reported_and_the_others_still_import(operator, staff):
    report = registry_import(
        [source("territories"), source("colours", b"colour,size\nred,1\n")], user=staff
    )
    assert errors(report) == [("colours.csv", 1, "", "unknown_header")]
    assert Territory.objects.count() == 2


def test_kind_can_be_forced_and_then_the_columns_must_fit(operator, staff):
    report = run("territories", user=staff, kind="buildings")
    assert errors(report)[0][3] == "missing_columns"
    assert report.errors[0]["message"].startswith("A buildings file needs the columns")


def test_kinds_not_allowed_are_refused(operator, staff):
    report = run("territories", user=staff, kinds_allowed={"accounts"})
    assert errors(report) == [("territories.csv", 1, "", "kind_not_allowed")]
    assert Territory.objects.count() == 0


def test_no_operator_no_import(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        run("territories")


def test_chunks_do_not_change_the_outcome(buildings, staff):
    report = run("premises_bad", user=staff, chunk_rows=2)
    assert errors(report) == BAD_PREMISES
    assert sorted(Premises.objects.values_list("number", flat=True)) == ["10", "13"]


def test_imported_numbers_move_the_operator_sequence_forward(good, staff):
    from civicdesk.registry.services import account_numbers_allocate

    assert account_numbers_allocate(1) == ["0000001040"]


# --- dialects and XLSX ----------------------------------------------------------------------


def test_semicolons_bom_and_decimal_commas(operator, staff):
    data = (
        "\ufeffcode;address;territory_code;total_area;heated_area;management_form\n"
        "b-1;1 Kerkstraat;tshwane;1 200,5;900;municipal\n"
    ).encode()
    report = registry_import([source("territories"), source("buildings", data)], user=staff)
    assert report.ok, report.errors
    assert Building.objects.get(code="b-1").total_area == Decimal("1200.5")


def test_bom_on_a_comma_file(operator, staff):
    data = b"\xef\xbb\xbf" + (DATA / "territories.csv").read_bytes()
    assert registry_import([source("territories", data)], user=staff).ok
    assert Territory.objects.count() == 2


def _typed(value: str):
    """What a spreadsheet would hold: numbers and dates as such, codes with zeros as text."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.date.fromisoformat(value)
    if re.fullmatch(r"-?(0|[1-9]\d*)", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value or None


def xlsx(name: str) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    with open(DATA / f"{name}.csv", encoding="utf-8") as handle:
        for i, row in enumerate(csv.reader(handle)):
            sheet.append(row if i == 0 else [_typed(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_imports_the_same_records_as_csv(operator, staff):
    sources = [source(name, xlsx(name), suffix=".xlsx") for name in ALL]
    report = registry_import(sources, user=staff)
    assert report.ok, report.errors
    assert report.created == 22
    # The CSV files then find every record already there, equal field by field.
    again = run(*ALL, user=staff)
    assert again.ok and again.written == 0 and again.unchanged == 22


def test_an_updated_operator_format_checks_numbers_with_it(operator, staff):
    operator.account_number_algorithm = "verhoeff"
    operator.save()
    assert run("territories", "buildings", "premises", user=staff).ok
    report = run("accounts", user=staff)
    assert {e["code"] for e in report.errors} == {"account_number_check_digit"}
