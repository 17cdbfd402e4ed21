"""The pure side of the registry import: cells, rows, headers and files, without a database."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.core.identifiers import AccountNumberFormat, account_number_make
from civicdesk.registry import importer
from civicdesk.registry.importer import KINDS, SPECS, FileIssue, Issue, Record, parse_row

CHOICES = {
    "territory_kind": frozenset({"district", "area"}),
    "management_form": frozenset({"municipal", "owners_association"}),
    "premises_kind": frozenset({"residential", "non_residential", "business"}),
    "account_status": frozenset({"open", "suspended", "closed"}),
    "delivery_preference": frozenset({"email", "portal", "paper"}),
    "holder_role": frozenset({"owner", "tenant", "payer"}),
    "service_type": frozenset({"cold_water", "electricity", "sewerage"}),
}
CTX = importer.Context(AccountNumberFormat(), "ZA", "ZAR", CHOICES)
NUMBER = account_number_make(AccountNumberFormat(), 101)  # 0000001016


def issues_of(result) -> dict[str, str]:
    assert isinstance(result, list), result
    return {i.field: i.code for i in result}


# --- rows -----------------------------------------------------------------------------------


def test_a_good_premises_row_becomes_model_values_and_a_reference():
    row = {
        "building_code": "b1",
        "number": " 12 ",
        "total_area": "60,5",
        "heated_area": "55.00",
        "rooms": "3.0",
        "municipal_valuation": "1 250 000",
        "valuation_date": "01.07.2023",
    }
    record = parse_row("premises", row, 7, CTX)
    assert isinstance(record, Record)
    assert record.key == ("b1", "12") and record.line == 7
    assert record.fields == {
        "number": "12",
        "total_area": Decimal("60.5"),
        "heated_area": Decimal("55.00"),
        "rooms": 3,
        "municipal_valuation": Decimal("1250000"),
        "valuation_date": dt.date(2023, 7, 1),
    }
    assert record.refs["building"] == importer.Ref("buildings", ("b1",), "building_code")


def test_bad_cells_are_each_named_with_their_reason():
    row = {
        "building_code": "b 1",
        "number": "",
        "total_area": "sixty",
        "heated_area": "5.555",
        "rooms": "-1",
        "ownership_share": "1.5",
        "valuation_date": "2023-02-30",
    }
    assert issues_of(parse_row("premises", row, 3, CTX)) == {
        "building_code": "code",
        "number": "required",
        "total_area": "not_a_number",
        "heated_area": "too_many_decimals",
        "rooms": "below_minimum",
        "ownership_share": "above_maximum",
        "valuation_date": "not_a_date",
    }


def test_a_missing_required_column_is_reported_on_every_row():
    result = parse_row("premises", {"building_code": "b1", "number": "1"}, 2, CTX)
    assert issues_of(result) == {"total_area": "required", "heated_area": "required"}


@pytest.mark.parametrize(
    "row,expected",
    [
        ({"total_area": "50", "heated_area": "60"}, {"heated_area": "heated_exceeds_total"}),
        (
            {"total_area": "50", "heated_area": "40", "valuation_date": "2024-01-01"},
            {"municipal_valuation": "valuation_needs_amount"},
        ),
    ],
)
def test_premises_rules(row, expected):
    row = {"building_code": "b1", "number": "1", **row}
    assert issues_of(parse_row("premises", row, 2, CTX)) == expected


@pytest.mark.parametrize(
    "extra,expected",
    [
        ({"account_number": NUMBER[:-1] + "7"}, {"account_number": "account_number_check_digit"}),
        ({"account_number": "12345"}, {"account_number": "account_number_length"}),
        ({"account_number": "00000010A6"}, {"account_number": "account_number_format"}),
        ({"status": "closed"}, {"closed_on": "closed_needs_date"}),
        ({"status": "suspended"}, {"suspended_on": "suspended_needs_date"}),
        ({"closed_on": "2019-12-31"}, {"closed_on": "closed_before_opened"}),
        ({"status": "dormant"}, {"status": "choice"}),
    ],
)
def test_account_rules(extra, expected):
    row = {
        "account_number": NUMBER,
        "building_code": "b1",
        "premises_number": "1",
        "opened_on": "2020-01-01",
        **extra,
    }
    assert issues_of(parse_row("accounts", row, 2, CTX)) == expected


def test_account_numbers_are_normalised_and_refer_to_premises():
    row = {
        "account_number": "0000 0010-16",
        "building_code": "b1",
        "premises_number": "1",
        "opened_on": "2020-01-01",
        "status": "Closed",
        "closed_on": "2024-01-01",
    }
    record = parse_row("accounts", row, 2, CTX)
    assert record.key == (NUMBER,) and record.fields["number"] == NUMBER
    assert record.fields["status"] == "closed"
    assert record.refs["premises"].key == ("b1", "1")


def test_holders_phone_email_and_name():
    row = {
        "account_number": NUMBER,
        "full_name": "  Sipho   Mahlangu ",
        "role": "Tenant",
        "phone": "082 765 4321",
        "email": "sipho@example.org",
    }
    record = parse_row("holders", row, 2, CTX)
    assert record.key == (NUMBER, "Sipho Mahlangu", "tenant")
    assert record.fields["phone"] == "+27827654321"
    bad = parse_row("holders", {**row, "phone": "12345", "email": "not-an-address"}, 2, CTX)
    assert issues_of(bad) == {"phone": "phone", "email": "email"}


def test_opening_balance_in_minor_units_and_refuses_a_third_decimal():
    row = {"account_number": NUMBER, "as_of": "2024-06-30", "amount": "-1 234,5"}
    record = parse_row("opening_balances", row, 2, CTX)
    assert record.fields == {
        "as_of": dt.date(2024, 6, 30),
        "amount_minor": -123450,
        "currency": "ZAR",
    }
    assert record.refs["provider"] is None and record.key == (NUMBER, "", dt.date(2024, 6, 30))
    assert issues_of(parse_row("opening_balances", {**row, "amount": "10.005"}, 2, CTX)) == {
        "amount": "too_many_decimals"
    }
    assert (
        parse_row("opening_balances", {**row, "amount": "10.500"}, 2, CTX).fields["amount_minor"]
        == 1050
    )
    assert issues_of(parse_row("opening_balances", {**row, "currency": "USD"}, 2, CTX)) == {
        "currency": "currency"
    }


def test_providers_use_the_registry_validation():
    row = {"code": "water", "name": "Water", "tax_number": "0001339051", "bank_code": "12"}
    assert issues_of(parse_row("providers", row, 2, CTX)) == {
        "tax_number": "tax_number_invalid",
        "bank_code": "za_branch_code",
    }
    good = {"code": "water", "name": "Water", "iban": "gb82 west 1234 5698 7654 32", "services": ""}
    record = parse_row("providers", good, 2, CTX)
    assert record.fields["iban"] == "GB82WEST12345698765432" and record.fields["services"] == []
    unknown = parse_row("providers", {**good, "services": "cold_water, gas"}, 2, CTX)
    assert issues_of(unknown) == {"services": "unknown_services"}


def test_territory_rules():
    assert issues_of(
        parse_row("territories", {"code": "a", "name": "A", "kind": "area"}, 2, CTX)
    ) == {"parent_code": "area_needs_parent"}
    district = {"code": "d", "name": "D", "kind": "district", "parent_code": "x"}
    assert issues_of(parse_row("territories", district, 2, CTX)) == {
        "parent_code": "district_has_parent"
    }
    area = parse_row(
        "territories", {"code": "a", "name": "A", "kind": "area", "parent_code": "d"}, 2, CTX
    )
    assert area.refs["parent"] == importer.Ref("territories", ("d",), "parent_code")


def test_control_characters_are_refused():
    row = {"code": "w", "name": "Bad\x00name"}
    assert issues_of(parse_row("providers", row, 2, CTX)) == {"name": "control_characters"}


def test_extra_values_past_the_header():
    row, issues = importer.row_values(["a", "b"], ["1", "2", "3"], 4)
    assert row == {"a": "1", "b": "2"} and issues[0].code == "extra_values"
    row, issues = importer.row_values(["a", "b"], ["1"], 4)
    assert row == {"a": "1", "b": ""} and not issues


# --- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_told_by_its_required_columns_and_by_all_its_columns(kind):
    spec = SPECS[kind]
    assert importer.detect_kind(sorted(spec.required)) == kind
    assert importer.detect_kind(sorted(spec.allowed)) == kind


def test_header_names_are_forgiving_about_case_spaces_and_the_bom():
    assert importer.header_names(["\ufeffAccount Number", "Full-Name ", " role", "", ""]) == [
        "account_number",
        "full_name",
        "role",
    ]


@pytest.mark.parametrize(
    "names,kind,code",
    [
        ([], None, "empty_file"),
        (["code", "name", "code"], None, "duplicate_columns"),
        (["code", "", "name"], None, "unnamed_column"),
        (["colour", "size"], None, "unknown_header"),
        (["building_code", "number"], "premises", "missing_columns"),
        (["code", "name", "colour"], "providers", "unknown_columns"),
        (["code"], "meters", "unknown_kind"),
    ],
)
def test_header_errors(names, kind, code):
    with pytest.raises(FileIssue) as caught:
        importer.detect_kind(names, kind)
    assert caught.value.issue.code == code and caught.value.issue.line == 1


# --- files ----------------------------------------------------------------------------------


def rows_of(data: bytes) -> list[tuple[int, list[str]]]:
    return list(importer.read_table(io.BytesIO(data)))


def test_csv_with_bom_semicolons_and_a_quoted_newline_keeps_line_numbers():
    data = '\ufeffcode;name\r\na;"two\r\nlines"\r\nb;B\r\n'.encode()
    assert rows_of(data) == [(1, ["code", "name"]), (2, ["a", "two\r\nlines"]), (4, ["b", "B"])]


def test_csv_stream_is_left_open_for_the_caller():
    stream = io.BytesIO(b"code,name\na,A\n")
    assert len(list(importer.read_table(stream))) == 2
    assert not stream.closed


def test_csv_that_is_not_utf8_says_so_with_the_line():
    data = b"code,name\na,A\nb,\xff\xfe\n" + b"c,C\n" * 5000
    stream = importer.read_table(io.BytesIO(data))
    assert next(stream) == (1, ["code", "name"])
    with pytest.raises(FileIssue) as caught:
        list(stream)
    assert caught.value.issue.code == "not_utf8" and caught.value.issue.line == 3


def test_old_excel_and_broken_xlsx_are_refused():
    with pytest.raises(FileIssue) as caught:
        rows_of(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest")
    assert caught.value.issue.code == "old_excel"
    with pytest.raises(FileIssue) as caught:
        rows_of(b"PK\x03\x04 not really a zip")
    assert caught.value.issue.code == "bad_xlsx"


def test_xlsx_cells_read_as_the_text_a_csv_would_have():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["as_of", "amount", "rooms", "account_number", "active"])
    sheet.append([dt.datetime(2024, 6, 30), 1234.5, 3.0, "0000001016", True])
    sheet.append([None, None, None, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    assert rows_of(data)[1] == (2, ["2024-06-30", "1234.5", "3", "0000001016", "true"])
    assert importer.count_rows(io.BytesIO(data)) == 2


def test_count_rows_of_a_csv():
    assert importer.count_rows(io.BytesIO(b"a,b\n1,2\n3,4\n")) == 2
    assert importer.count_rows(io.BytesIO(b"a,b\n1,2\n3,4")) == 2
    assert importer.count_rows(io.BytesIO(b"")) == 0


# --- properties -----------------------------------------------------------------------------

_cells = st.text(max_size=40) | st.sampled_from(
    ["", " ", "0", "-1", "1e5", "NaN", "Infinity", "١٢٣", "²", "31.02.2024", "2024-02-29", "+27"]
)


@st.composite
def _rows(draw):
    kind = draw(st.sampled_from(KINDS))
    names = draw(st.lists(st.sampled_from(sorted(SPECS[kind].allowed)), unique=True))
    return kind, {name: draw(_cells) for name in names}


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_rows(), st.integers(min_value=2, max_value=10**6))
def test_any_row_gives_a_record_or_issues_never_an_exception(kind_row, line):
    kind, row = kind_row
    result = parse_row(kind, row, line, CTX)
    if isinstance(result, Record):
        assert result.kind == kind and result.line == line
    else:
        assert result and all(isinstance(i, Issue) and i.line == line for i in result)


@settings(max_examples=200)
@given(st.lists(st.text(max_size=20), max_size=8), st.sampled_from([None, *KINDS]))
def test_any_header_gives_a_kind_or_a_file_issue(cells, kind):
    try:
        assert importer.detect_kind(importer.header_names(cells), kind) in KINDS
    except FileIssue as exc:
        assert exc.issue.line == 1


@settings(max_examples=200)
@given(st.binary(max_size=300) | st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b))
def test_any_bytes_give_rows_or_a_file_issue(data):
    try:
        for line, cells in importer.read_table(io.BytesIO(data)):
            assert line >= 1 and all(isinstance(c, str) for c in cells)
    except FileIssue as exc:
        assert exc.issue.code


def test_every_reason_code_has_a_message():
    """Codes are spelled in importer.py; importing.py must translate each of them."""
    from civicdesk.registry.importing import MESSAGES
    from civicdesk.registry.models.organisation import PROVIDER_ERRORS

    source = Path(importer.__file__).read_text()
    codes = set(re.findall(r'(?:Invalid|FileIssue)\(\s*"(\w+)"', source))
    codes |= set(re.findall(r'Issue\([^()]*?,\s*"\w*",\s*"(\w+)"', source))
    codes |= {"duplicate", "duplicate_elsewhere", "database", "kind_not_allowed"}
    codes |= {f"unknown_{kind}" for kind in ("territories", "providers", "buildings", "premises")}
    codes |= {"unknown_accounts", "parent_not_district", "balance_posted"}
    assert len(codes) > 40
    missing = sorted(c for c in codes if c not in MESSAGES and c not in PROVIDER_ERRORS)
    assert not missing
