"""Reading and validating registry import files (pure: no Django).

A file is a table: CSV (UTF-8 with or without a BOM; comma, semicolon or tab, found from the
header line) or XLSX (the first sheet), whose first row names the columns. The columns tell
which kind of record the file holds (`detect_kind`); each later row becomes a `Record` — the
model's field values plus references to other records by their natural keys — or a list of
`Issue`s, each naming the line, the column and a reason code. `importing.py` resolves the
references, compares with the database, writes, and turns reason codes into translated
messages (like `validation.py`, this module speaks in codes).

Documented for operators in docs/import.md; keep the two in step.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, BinaryIO

import phonenumbers
from stdnum import iban as stdnum_iban

from civicdesk.core.identifiers import AccountNumberFormat, InvalidIdentifier, account_number_check
from civicdesk.registry.validation import provider_errors

# Applied in this order, so a row may refer to a record made by an earlier file of the run.
KINDS = (
    "territories",
    "providers",
    "buildings",
    "premises",
    "accounts",
    "holders",
    "account_services",
    "opening_balances",
)


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """Something wrong with a file or a row. `field` is the column ("" for the whole row)."""

    line: int
    field: str
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ref:
    """A reference to another record by its natural key, made in `column` of the file."""

    kind: str
    key: tuple
    column: str


@dataclass
class Record:
    """A valid row: `fields` are model field values (only for the columns in the file);
    `refs` maps a foreign-key field to the record it names (None: set it empty)."""

    kind: str
    line: int
    key: tuple
    fields: dict[str, Any]
    refs: dict[str, Ref | None]


@dataclass(frozen=True)
class Context:
    """What validation needs to know about the operator and the models' choices."""

    account_format: AccountNumberFormat
    jurisdiction: str = ""
    currency: str = ""
    choices: Mapping[str, frozenset[str]] = field(default_factory=dict)
    money_places: int = 2  # ZAR, UAH and RUB all have cents/kopecks


class Invalid(ValueError):
    """Raised by a cell parser; parse_row turns it into an Issue."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


class FileIssue(Exception):
    """The file itself cannot be read (any further)."""

    def __init__(self, code: str, line: int = 1, **params: Any):
        super().__init__(code)
        self.issue = Issue(line=line, field="", code=code, params=params)


# --- cell parsers ---------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", re.ASCII)
_INTEGER = re.compile(r"^[+-]?\d+$", re.ASCII)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$", re.ASCII)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_LIST_SPLIT = re.compile(r"[\s,;|]+")
_SPACES = re.compile(r"\s+")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


Parser = Callable[[str, Context], Any]


def text(max_length: int, *, collapse: bool = False) -> Parser:
    def parse(value: str, ctx: Context) -> str:
        if collapse:
            value = _SPACES.sub(" ", value)
        if len(value) > max_length:
            raise Invalid("too_long", max=max_length)
        return value

    return parse


def code(max_length: int) -> Parser:
    def parse(value: str, ctx: Context) -> str:
        if len(value) > max_length:
            raise Invalid("too_long", max=max_length)
        if not _SLUG.match(value):
            raise Invalid("code")
        return value

    return parse


def number(
    max_digits: int,
    places: int,
    *,
    minimum: Decimal | None = Decimal(0),
    maximum: Decimal | None = None,
) -> Parser:
    """A decimal with at most `places` decimals. A comma stands for the decimal point when
    there is no dot ("60,5"); spaces between thousands are ignored."""

    def parse(value: str, ctx: Context) -> Decimal:
        return decimal_parse(value, max_digits, places, minimum=minimum, maximum=maximum)

    return parse


def decimal_parse(
    value: str,
    max_digits: int,
    places: int,
    *,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
) -> Decimal:
    compact = value.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if "," in compact and "." not in compact and compact.count(",") == 1:
        compact = compact.replace(",", ".")
    if not _DECIMAL.match(compact):
        raise Invalid("not_a_number")
    amount = Decimal(compact)
    if amount and amount.adjusted() >= max_digits - places:
        raise Invalid("too_large", max_digits=max_digits - places)
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: the pattern allows digits only
    if -exponent > places:
        # Trailing zeros beyond the places are harmless ("60.500").
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            raise Invalid("too_many_decimals", places=places)
        amount = amount.quantize(Decimal(1).scaleb(-places))
    if minimum is not None and amount < minimum:
        raise Invalid("below_minimum", minimum=str(minimum))
    if maximum is not None and amount > maximum:
        raise Invalid("above_maximum", maximum=str(maximum))
    return amount


def integer(minimum: int = 0, maximum: int = 32767) -> Parser:
    def parse(value: str, ctx: Context) -> int:
        compact = value.replace(" ", "")
        if compact.endswith(".0"):  # a spreadsheet's 3.0
            compact = compact[:-2]
        if not _INTEGER.match(compact):
            raise Invalid("not_an_integer")
        result = int(compact)
        if result < minimum:
            raise Invalid("below_minimum", minimum=str(minimum))
        if result > maximum:
            raise Invalid("above_maximum", maximum=str(maximum))
        return result

    return parse


def date(value: str, ctx: Context) -> dt.date:
    """2024-03-31 (ISO) or 31.03.2024; a spreadsheet's date-time at midnight also passes."""
    if len(value) == 19 and value.endswith("T00:00:00"):
        value = value[:10]
    if m := _ISO_DATE.match(value):
        year, month, day = m.groups()
    elif m := _DOTTED_DATE.match(value):
        day, month, year = m.groups()
    else:
        raise Invalid("not_a_date")
    try:
        result = dt.date(int(year), int(month), int(day))
    except ValueError:
        raise Invalid("not_a_date") from None
    if result.year < 1900:
        raise Invalid("not_a_date")
    return result


def choice(name: str) -> Parser:
    """One of the model's choices; case, spaces and dashes do not matter ("Cold water")."""

    def parse(value: str, ctx: Context) -> str:
        allowed = ctx.choices.get(name, frozenset())
        normal = _SPACES.sub("_", value.strip().lower()).replace("-", "_")
        if normal not in allowed:
            raise Invalid("choice", choices=", ".join(sorted(allowed)))
        return normal

    return parse


def service_list(value: str, ctx: Context) -> list[str]:
    allowed = ctx.choices.get("service_type", frozenset())
    items = [v for v in _LIST_SPLIT.split(value.lower()) if v]
    unknown = sorted({v for v in items if v not in allowed})
    if unknown:
        raise Invalid("unknown_services", services=", ".join(unknown))
    return sorted(set(items))


def boolean(value: str, ctx: Context) -> bool:
    normal = value.strip().lower()
    if normal in _TRUE:
        return True
    if normal in _FALSE:
        return False
    raise Invalid("not_a_boolean")


def email(value: str, ctx: Context) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise Invalid("email")
    return value


def phone(value: str, ctx: Context) -> str:
    """E.164 ("+27821234567"); a national number is read in the operator's country."""
    try:
        parsed = phonenumbers.parse(value, ctx.jurisdiction or None)
    except phonenumbers.NumberParseException:
        raise Invalid("phone") from None
    if not phonenumbers.is_valid_number(parsed):
        raise Invalid("phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def account_number(value: str, ctx: Context) -> str:
    try:
        return account_number_check(ctx.account_format, value)
    except InvalidIdentifier as exc:
        raise Invalid(f"account_number_{exc.reason}") from None


def iban(value: str, ctx: Context) -> str:
    compact = stdnum_iban.compact(value)
    if len(compact) > 34:
        raise Invalid("too_long", max=34)
    return compact


def currency(value: str, ctx: Context) -> str:
    normal = value.strip().upper()
    if ctx.currency and normal != ctx.currency.upper():
        raise Invalid("currency", currency=ctx.currency)
    return normal


# --- kinds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    parse: Parser
    required: bool = False
    empty: Any = ""  # the value an empty cell in an optional column stands for
    model: bool = True  # a model field of the same name (else a key, a reference, …)


# (column values, model field values of the columns present, line, context)
Assemble = Callable[[dict[str, Any], dict[str, Any], int, Context], Record | list[Issue]]


@dataclass(frozen=True)
class Kind:
    name: str
    columns: tuple[Column, ...]
    assemble: Assemble

    @property
    def required(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns if c.required)

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns)


AREA = number(12, 2)


def _territory(v, fields, line, ctx):
    refs: dict[str, Ref | None] = {"parent": None}
    parent = v.get("parent_code", "")
    if v["kind"] == "district" and parent:
        return [Issue(line, "parent_code", "district_has_parent")]
    if v["kind"] != "district":
        if not parent:
            return [Issue(line, "parent_code", "area_needs_parent")]
        if parent == v["code"]:
            return [Issue(line, "parent_code", "own_parent")]
        refs["parent"] = Ref("territories", (parent,), "parent_code")
    return Record("territories", line, (v["code"],), fields, refs)


def _provider(v, fields, line, ctx):
    errors = provider_errors(
        jurisdiction=ctx.jurisdiction,
        iban=v.get("iban", ""),
        bank_account=v.get("bank_account", ""),
        bank_code=v.get("bank_code", ""),
        tax_number=v.get("tax_number", ""),
        correspondent_account=v.get("correspondent_account", ""),
    )
    if errors:
        return [Issue(line, column, reason) for column, reason in sorted(errors.items())]
    return Record("providers", line, (v["code"],), fields, {})


def _heated_within_total(v, line) -> list[Issue]:
    if v["heated_area"] > v["total_area"]:
        return [Issue(line, "heated_area", "heated_exceeds_total")]
    return []


def _building(v, fields, line, ctx):
    if issues := _heated_within_total(v, line):
        return issues
    refs = {"territory": Ref("territories", (v["territory_code"],), "territory_code")}
    return Record("buildings", line, (v["code"],), fields, refs)


def _premises(v, fields, line, ctx):
    issues = _heated_within_total(v, line)
    if v.get("valuation_date") is not None and v.get("municipal_valuation") is None:
        issues.append(Issue(line, "municipal_valuation", "valuation_needs_amount"))
    if issues:
        return issues
    refs = {"building": Ref("buildings", (v["building_code"],), "building_code")}
    return Record("premises", line, (v["building_code"], v["number"]), fields, refs)


def _account(v, fields, line, ctx):
    issues = []
    opened, closed = v["opened_on"], v.get("closed_on")
    if closed is not None and closed < opened:
        issues.append(Issue(line, "closed_on", "closed_before_opened"))
    status = v.get("status")
    if status == "closed" and closed is None:
        issues.append(Issue(line, "closed_on", "closed_needs_date"))
    if status == "suspended" and v.get("suspended_on") is None:
        issues.append(Issue(line, "suspended_on", "suspended_needs_date"))
    if issues:
        return issues
    fields["number"] = v["account_number"]
    premises = (v["building_code"], v["premises_number"])
    refs = {"premises": Ref("premises", premises, "premises_number")}
    return Record("accounts", line, (v["account_number"],), fields, refs)


def _holder(v, fields, line, ctx):
    refs = {"account": Ref("accounts", (v["account_number"],), "account_number")}
    key = (v["account_number"], v["full_name"], v["role"])
    return Record("holders", line, key, fields, refs)


def _service(v, fields, line, ctx):
    if v.get("ends_on") is not None and v["ends_on"] < v["starts_on"]:
        return [Issue(line, "ends_on", "ends_before_starts")]
    refs = {
        "account": Ref("accounts", (v["account_number"],), "account_number"),
        "provider": Ref("providers", (v["provider_code"],), "provider_code"),
    }
    key = (v["account_number"], v["service_type"], v["provider_code"], v["starts_on"])
    return Record("account_services", line, key, fields, refs)


def _balance(v, fields, line, ctx):
    places = ctx.money_places
    minor = int(v["amount"].scaleb(places))
    fields = {"as_of": v["as_of"], "amount_minor": minor, "currency": ctx.currency.upper()}
    provider = v.get("provider_code", "")
    refs: dict[str, Ref | None] = {
        "account": Ref("accounts", (v["account_number"],), "account_number"),
        "provider": Ref("providers", (provider,), "provider_code") if provider else None,
    }
    key = (v["account_number"], provider, v["as_of"])
    return Record("opening_balances", line, key, fields, refs)


def _money(value: str, ctx: Context) -> Decimal:
    return decimal_parse(value, 18, ctx.money_places)


_KIND_LIST = (
    Kind(
        "territories",
        (
            Column("code", code(40), required=True),
            Column("name", text(200), required=True),
            Column("kind", choice("territory_kind"), required=True),
            Column("parent_code", code(40), model=False),
        ),
        _territory,
    ),
    Kind(
        "providers",
        (
            Column("code", code(40), required=True),
            Column("name", text(200), required=True),
            Column("registration_number", text(40)),
            Column("tax_number", text(40)),
            Column("bank_name", text(200)),
            Column("iban", iban),
            Column("bank_account", text(34)),
            Column("bank_code", text(20)),
            Column("correspondent_account", text(20)),
            Column("services", service_list, empty=[]),
            Column("email", email),
            Column("phone", phone),
            Column("active", boolean, empty=True),
        ),
        _provider,
    ),
    Kind(
        "buildings",
        (
            Column("code", code(60), required=True),
            Column("address", text(300, collapse=True), required=True),
            Column("territory_code", code(40), required=True, model=False),
            Column("total_area", AREA, required=True),
            Column("heated_area", AREA, required=True),
            Column("management_form", choice("management_form"), required=True),
            Column("latitude", number(9, 6, minimum=Decimal(-90), maximum=Decimal(90)), empty=None),
            Column(
                "longitude", number(9, 6, minimum=Decimal(-180), maximum=Decimal(180)), empty=None
            ),
        ),
        _building,
    ),
    Kind(
        "premises",
        (
            Column("building_code", code(60), required=True, model=False),
            Column("number", text(20), required=True),
            Column("kind", choice("premises_kind"), empty="residential"),
            Column("total_area", AREA, required=True),
            Column("heated_area", AREA, required=True),
            Column("rooms", integer(), empty=1),
            Column("occupants", integer(), empty=0),
            Column("municipal_valuation", number(14, 2), empty=None),
            Column("valuation_date", date, empty=None),
            Column(
                "ownership_share",
                number(7, 6, maximum=Decimal(1)),
                empty=Decimal(1),
            ),
        ),
        _premises,
    ),
    Kind(
        "accounts",
        (
            Column("account_number", account_number, required=True, model=False),
            Column("building_code", code(60), required=True, model=False),
            Column("premises_number", text(20), required=True, model=False),
            Column("opened_on", date, required=True),
            Column("status", choice("account_status"), empty="open"),
            Column("suspended_on", date, empty=None),
            Column("closed_on", date, empty=None),
            Column("delivery_preference", choice("delivery_preference"), empty="portal"),
            Column("last_bill_amount", number(14, 2, minimum=None), empty=None),
        ),
        _account,
    ),
    Kind(
        "holders",
        (
            Column("account_number", account_number, required=True, model=False),
            Column("full_name", text(150, collapse=True), required=True),
            Column("role", choice("holder_role"), required=True),
            Column("id_number", text(40)),
            Column("email", email),
            Column("phone", phone),
        ),
        _holder,
    ),
    Kind(
        "account_services",
        (
            Column("account_number", account_number, required=True, model=False),
            Column("service_type", choice("service_type"), required=True),
            Column("provider_code", code(40), required=True, model=False),
            Column("starts_on", date, required=True),
            Column("tariff_code", text(60)),
            Column("ends_on", date, empty=None),
        ),
        _service,
    ),
    Kind(
        "opening_balances",
        (
            Column("account_number", account_number, required=True, model=False),
            Column("as_of", date, required=True),
            Column("amount", _money, required=True, model=False),
            Column("provider_code", code(40), model=False),
            Column("currency", currency, model=False),
        ),
        _balance,
    ),
)
SPECS: dict[str, Kind] = {k.name: k for k in _KIND_LIST}
assert tuple(SPECS) == KINDS


# --- headers --------------------------------------------------------------------------------


def header_names(cells: Iterable[str]) -> list[str]:
    """Column names as the specs spell them: trimmed, lower case, `_` for spaces and dashes;
    trailing empty cells (common in spreadsheets) dropped."""
    names = [
        _SPACES.sub("_", c.replace("\ufeff", "").strip().lower()).replace("-", "_") for c in cells
    ]
    while names and not names[-1]:
        names.pop()
    return names


def detect_kind(names: list[str], kind: str | None = None) -> str:
    """The kind of file these columns make, or FileIssue saying why none (or several) fit."""
    if not names:
        raise FileIssue("empty_file")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FileIssue("duplicate_columns", columns=", ".join(duplicates))
    if "" in names:
        raise FileIssue("unnamed_column", position=names.index("") + 1)
    given = frozenset(names)
    if kind is not None:
        if kind not in SPECS:
            raise FileIssue("unknown_kind", kind=kind, kinds=", ".join(KINDS))
        spec = SPECS[kind]
        missing = sorted(spec.required - given)
        unknown = sorted(given - spec.allowed)
        if missing:
            raise FileIssue("missing_columns", kind=kind, columns=", ".join(missing))
        if unknown:
            raise FileIssue("unknown_columns", kind=kind, columns=", ".join(unknown))
        return kind
    fits = [s.name for s in _KIND_LIST if s.required <= given <= s.allowed]
    if len(fits) == 1:
        return fits[0]
    if len(fits) > 1:  # pragma: no cover - the specs are built so that this cannot happen
        raise FileIssue("ambiguous_kind", kinds=", ".join(fits))
    raise FileIssue("unknown_header", columns=", ".join(names))


# --- rows -----------------------------------------------------------------------------------


def row_values(names: list[str], cells: list[str], line: int) -> tuple[dict[str, str], list[Issue]]:
    """The row as {column: text}; cells past the last column must be empty."""
    issues = []
    if len(cells) > len(names) and any(c.strip() for c in cells[len(names) :]):
        issues.append(Issue(line, "", "extra_values", {"columns": len(names)}))
    row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(names)}
    return row, issues


def row_is_empty(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


def parse_row(kind: str, row: Mapping[str, str], line: int, ctx: Context) -> Record | list[Issue]:
    """A Record for a valid row, else every Issue found (one per column at most)."""
    spec = SPECS[kind]
    present = frozenset(row)
    values: dict[str, Any] = {}
    issues: list[Issue] = []
    for column in spec.columns:
        if column.name not in present:
            continue
        raw = row[column.name]
        raw = raw.strip() if isinstance(raw, str) else str(raw).strip()
        if _CONTROL.search(raw):
            issues.append(Issue(line, column.name, "control_characters"))
            continue
        if not raw:
            if column.required:
                issues.append(Issue(line, column.name, "required"))
            else:
                values[column.name] = column.empty
            continue
        try:
            values[column.name] = column.parse(raw, ctx)
        except Invalid as exc:
            issues.append(Issue(line, column.name, exc.code, exc.params))
    issues.extend(Issue(line, name, "required") for name in sorted(spec.required - present))
    if issues:
        return issues
    fields = {c.name: values[c.name] for c in spec.columns if c.model and c.name in values}
    return spec.assemble(values, fields, line, ctx)


# --- files ----------------------------------------------------------------------------------

_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls


def file_format(stream: BinaryIO) -> str:
    """ "xlsx" or "csv" from the first bytes (never from the name); FileIssue otherwise."""
    head = stream.read(8)
    stream.seek(0)
    if head.startswith(_XLSX_MAGIC):
        return "xlsx"
    if head.startswith(_OLE_MAGIC):
        raise FileIssue("old_excel")
    return "csv"


def count_rows(stream: BinaryIO) -> int:
    """About how many data rows a file has (for progress): lines for CSV, the sheet's
    dimension for XLSX. Leaves the stream at its start."""
    fmt = file_format(stream)
    if fmt == "xlsx":
        try:
            with _workbook(stream) as sheet:
                total = max((sheet.max_row or 1) - 1, 0)
        except FileIssue:
            total = 0
        stream.seek(0)
        return total
    lines, last = 0, b"\n"
    for block in iter(lambda: stream.read(1 << 20), b""):
        lines += block.count(b"\n")
        last = block[-1:]
    stream.seek(0)
    return max(lines + (last != b"\n") - 1, 0)


def read_table(stream: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) for every row, the header first; XLSX cells come as text. Raises
    FileIssue (with the line) when the file cannot be read further."""
    if file_format(stream) == "xlsx":
        yield from _xlsx_rows(stream)
    else:
        yield from _csv_rows(stream)


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(stream: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    """Decodes line by line (so a bad byte is reported on its line) and never reads the whole
    file at once."""
    read = 0

    def lines() -> Iterator[str]:
        nonlocal read
        for raw in iter(stream.readline, b""):
            read += 1
            if read == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise FileIssue("not_utf8", line=read) from None

    source = lines()
    first = next(source, "")
    reader = csv.reader(_chain(first, source), delimiter=_sniff_delimiter(first))
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileIssue("bad_csv", line=start, reason=str(exc)) from None
        yield start, cells


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


@contextlib.contextmanager
def _workbook(stream: BinaryIO) -> Iterator[Any]:
    """The first sheet of an XLSX file, read-only (rows stream from the zip)."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        sheet = book.worksheets[0]
    except Exception:  # a broken file raises anything from zip to XML errors
        raise FileIssue("bad_xlsx") from None
    try:
        yield sheet
    finally:
        book.close()


def _xlsx_rows(stream: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    with _workbook(stream) as sheet:
        for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, [cell_text(v) for v in row]


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV would carry."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
