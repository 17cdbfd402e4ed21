"""Bank statements: read CSV (columns mapped per bank) and ISO 20022 camt.053, and match lines.

No Django here. The import service stores the file's ``digest`` (and each line's ``bank_ref``)
to recognise and refuse a statement already imported, matches every credit line with
:func:`match_line` and sends what does not match to suspense.

CSV (:func:`parse_csv`)
    A :class:`CsvMapping` (stored per bank as JSON, read with :meth:`CsvMapping.from_dict`)
    names the delimiter, the encoding, the date format, the decimal and thousands separators,
    how many non-blank rows precede the data (the last of them holds the column names) and
    which column holds what. Rows are read one at a time; a UTF-8 or UTF-16 byte-order mark
    wins over the configured encoding. Amounts are parsed exactly into ``Decimal`` (signed,
    or from separate credit and debit columns); a line without a bank reference column gets
    a digest of its row (the n-th identical row gets a different one, so re-importing the
    same file yields the same references).

camt.053 (:func:`parse_camt053`)
    Versions .001.02 to .001.08 (and later ones of the same shape): elements are matched by
    local name, so the namespace (or its absence) does not matter. Parsed with defusedxml
    with every DTD refused: no entity expansion (XML bombs) and no external entities. Only
    booked entries (status ``BOOK``, or none given) become lines; a batched entry with
    several ``TxDtls`` becomes one line per transaction, and their amounts must add up to the
    entry's.

Matching (:func:`find_account_numbers`, :func:`match_line`)
    Account numbers are found in the free-text reference as runs of digits (letters around
    them, e.g. an operator prefix, are ignored; groups separated by up to three spaces,
    dashes, dots or slashes are tried joined) and each candidate is confirmed by the
    operator's check-digit callback.

Errors are :class:`StatementError` with a stable ``code``, ``params`` (among them ``line`` for
CSV rows, ``statement``/``entry`` for camt) and an English ``str()``, so services can translate
them.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from civicdesk.ledger.postings import PostingError, currency_exponent, to_minor

if TYPE_CHECKING:  # pragma: no cover
    from xml.etree.ElementTree import Element  # only the type: parsing goes through defusedxml

REPORT_WINDOW_DAYS = 3
MAX_ACCOUNT_DIGITS = 34  # the longest identifier worth checking (an IBAN's length)


class StatementError(ValueError):
    """A statement file or a mapping that cannot be read. ``params`` may carry ``line`` (the
    1-based physical line of a CSV file), ``column``, ``value``, ``statement``, ``entry``,
    ``element`` and ``field``."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params

    @property
    def line(self) -> int | None:
        return self.params.get("line")  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# the parsed shape


@dataclass(frozen=True, slots=True)
class StatementLine:
    line_no: int  # CSV: the physical line the row starts on; camt: position in the statement
    booked_on: date
    value_date: date
    amount: Decimal  # signed: money in is positive
    currency: str
    reference: str
    counterparty: str
    bank_ref: str  # the bank's unique id for the entry, or a synthetic one (see below)
    raw: dict = field(default_factory=dict, compare=False)
    bank_ref_synthetic: bool = False  # True when the bank gave no id and we made one up

    @property
    def amount_minor(self) -> int:
        return to_minor(self.amount, currency_exponent(self.currency))


@dataclass(slots=True)
class ParsedStatement:
    statement_id: str
    account: str  # IBAN or the bank's account number; "" when the file does not say
    currency: str
    created_at: datetime | None
    lines: list[StatementLine]
    digest: str  # sha256 hex of the file's bytes (shared by the statements of one file)
    opening_minor: int | None = None
    closing_minor: int | None = None
    opening_on: date | None = None
    closing_on: date | None = None
    format: str = ""  # "csv", "camt.053.001.02", ...

    @property
    def balance_gap_minor(self) -> int | None:
        """closing - opening - sum(lines) when both balances are known: 0 for a complete
        statement; anything else means missing or extra lines."""
        if self.opening_minor is None or self.closing_minor is None:
            return None
        return self.closing_minor - self.opening_minor - sum(ln.amount_minor for ln in self.lines)


# ---------------------------------------------------------------------------------------------
# CSV mapping

LOGICAL_COLUMNS = (
    "date",
    "value_date",
    "amount",
    "credit",
    "debit",
    "currency",
    "reference",
    "counterparty",
    "bank_ref",
    "statement_id",
    "account",
)
MULTI_COLUMNS = ("reference", "counterparty")  # may name several columns, joined by a space
DECIMAL_SEPARATORS = (".", ",")
THOUSANDS_SEPARATORS = ("", " ", ",", ".", "'", "\u00a0", "\u202f")
SPACES = " \u00a0\u202f\u2009"
MAX_HEADER_ROWS = 50
_CURRENCY = re.compile(r"[A-Z]{3}")


def _mapping_error(code: str, message: str, field_name: str, **params: object) -> StatementError:
    return StatementError(code, message, field=field_name, **params)


@dataclass(frozen=True, kw_only=True)
class CsvMapping:
    """How one bank writes its CSV statements. ``columns`` maps logical names (see
    ``LOGICAL_COLUMNS``) to header names, or to 1-based column numbers when ``header_rows``
    is 0; ``reference`` and ``counterparty`` may name a list of columns."""

    columns: dict[str, str | list[str]]
    delimiter: str = ","
    encoding: str = "utf-8"
    date_format: str = "%Y-%m-%d"
    decimal_separator: str = "."
    thousands_separator: str = ""
    header_rows: int = 1
    default_currency: str = ""
    statement_id: str = ""  # prefix of the statement id when no column gives one

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "columns":
                continue
            if f.name == "header_rows":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise _mapping_error("bad_setting", "header_rows must be an integer", f.name)
            elif not isinstance(value, str):
                raise _mapping_error("bad_setting", f"{f.name} must be a string", f.name)
        if len(self.delimiter) != 1 or self.delimiter in '"\r\n' or self.delimiter.isalnum():
            raise _mapping_error(
                "bad_delimiter", f"delimiter {self.delimiter!r} is not one character", "delimiter"
            )
        try:
            "0".encode(self.encoding)  # a text encoding (codecs.lookup also knows rot13, hex...)
        except LookupError:
            raise _mapping_error(
                "unknown_encoding", f"unknown encoding {self.encoding!r}", "encoding"
            ) from None
        self._check_date_format()
        if self.decimal_separator not in DECIMAL_SEPARATORS:
            raise _mapping_error(
                "bad_decimal_separator",
                f"decimal separator must be one of {DECIMAL_SEPARATORS}",
                "decimal_separator",
            )
        if (
            self.thousands_separator not in THOUSANDS_SEPARATORS
            or self.thousands_separator == self.decimal_separator
        ):
            raise _mapping_error(
                "bad_thousands_separator",
                "thousands separator must differ from the decimal separator and be one of "
                f"{THOUSANDS_SEPARATORS}",
                "thousands_separator",
            )
        if not 0 <= self.header_rows <= MAX_HEADER_ROWS:
            raise _mapping_error(
                "bad_header_rows", f"header_rows must be 0-{MAX_HEADER_ROWS}", "header_rows"
            )
        if self.default_currency and not _CURRENCY.fullmatch(self.default_currency):
            raise _mapping_error(
                "bad_currency",
                f"{self.default_currency!r} is not an ISO 4217 code",
                "default_currency",
            )
        self._check_columns()

    def _check_date_format(self) -> None:
        sample = date(2024, 11, 28)
        try:
            round_trip = datetime.strptime(sample.strftime(self.date_format), self.date_format)
        except ValueError:
            round_trip = None
        if round_trip is None or round_trip.date() != sample:
            raise _mapping_error(
                "bad_date_format",
                f"date format {self.date_format!r} does not read back a full date",
                "date_format",
            )

    def _check_columns(self) -> None:
        columns = self.columns
        if not isinstance(columns, dict) or not columns:
            raise _mapping_error("bad_setting", "columns must be a non-empty mapping", "columns")
        for logical, header in columns.items():
            if logical not in LOGICAL_COLUMNS:
                raise _mapping_error(
                    "unknown_column",
                    f"unknown logical column {logical!r}",
                    "columns",
                    column=logical,
                )
            names = header if isinstance(header, list) and logical in MULTI_COLUMNS else [header]
            if not names or not all(isinstance(n, str) and n.strip() for n in names):
                raise _mapping_error(
                    "bad_column",
                    f"column for {logical!r} must name a header",
                    "columns",
                    column=logical,
                )
            if self.header_rows == 0 and not all(n.strip().isdigit() and int(n) > 0 for n in names):
                raise _mapping_error(
                    "bad_column",
                    f"without a header row, {logical!r} must be a 1-based column number",
                    "columns",
                    column=logical,
                )
        for required in ("date", "reference"):
            if required not in columns:
                raise _mapping_error(
                    "column_required",
                    f"the {required!r} column is required",
                    "columns",
                    column=required,
                )
        has_amount = "amount" in columns
        has_split = ("credit" in columns, "debit" in columns)
        if has_amount and any(has_split):
            raise _mapping_error(
                "ambiguous_amount_columns",
                "map either 'amount' or both 'credit' and 'debit', not both",
                "columns",
            )
        if not has_amount and not all(has_split):
            raise _mapping_error(
                "column_required",
                "map 'amount', or both 'credit' and 'debit'",
                "columns",
                column="amount",
            )
        if "currency" not in columns and not self.default_currency:
            raise _mapping_error(
                "currency_required",
                "map a 'currency' column or set default_currency",
                "default_currency",
            )

    @classmethod
    def from_dict(cls, data: object) -> CsvMapping:
        """Validate a mapping read from JSON; errors name the offending ``field``."""
        if not isinstance(data, dict):
            raise _mapping_error("bad_setting", "a CSV mapping must be an object", "")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise _mapping_error("unknown_setting", f"unknown setting {key!r}", str(key))
        if "columns" not in data:
            raise _mapping_error("bad_setting", "columns are required", "columns")
        columns = data["columns"]
        if isinstance(columns, dict):
            columns = {k: list(v) if isinstance(v, list | tuple) else v for k, v in columns.items()}
        return cls(**{**data, "columns": columns})

    def to_dict(self) -> dict:
        """The mapping as JSON-ready data (``from_dict(to_dict())`` gives it back)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["columns"] = {
            k: list(v) if isinstance(v, list) else v for k, v in self.columns.items()
        }
        return data


# ---------------------------------------------------------------------------------------------
# CSV reading

_UTF8_BOM = codecs.BOM_UTF8
_BLANK = " \t\r\n\ufeff\u00a0\u202f"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _is_ascii_compatible(encoding: str) -> bool:
    probe = "\r\n;,\"'0123456789.-"
    try:
        return probe.encode(encoding) == probe.encode("ascii")
    except (UnicodeError, LookupError):
        return False


def _decoded_lines(body: bytes, encoding: str) -> Iterator[str]:
    """Physical lines of ``body``, each decoded with its line ending kept (as ``csv`` wants)."""
    if _is_ascii_compatible(encoding):
        lines = io.BytesIO(body) if b"\n" in body else iter(body.splitlines(keepends=True))
        decoder = codecs.getdecoder(encoding)
        for number, raw in enumerate(lines, start=1):
            try:
                yield decoder(raw)[0]
            except UnicodeDecodeError:
                raise StatementError(
                    "bad_encoding",
                    f"line {number} is not valid {encoding}",
                    line=number,
                    encoding=encoding,
                ) from None
        return
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        number = body[: exc.start].decode(encoding, errors="replace").count("\n") + 1
        raise StatementError(
            "bad_encoding", f"line {number} is not valid {encoding}", line=number, encoding=encoding
        ) from None
    # str.splitlines would also split on form feeds, U+2028 and the like; csv wants \r and \n
    yield from io.StringIO(text, newline="")


def _rows(data: bytes, mapping: CsvMapping) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) of every non-blank record."""
    encoding = mapping.encoding
    if data.startswith(_UTF8_BOM):
        data, encoding = data[len(_UTF8_BOM) :], "utf-8"
    elif data.startswith(_UTF16_BOMS):
        encoding = "utf-16"  # the codec reads and drops the mark itself
    reader = csv.reader(
        _decoded_lines(data, encoding), delimiter=mapping.delimiter, quotechar='"', strict=True
    )
    consumed = 0
    while True:
        start = consumed + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # reported where the broken record starts (e.g. its open quote)
            raise StatementError("bad_csv", f"line {start}: {exc}", line=start) from None
        consumed = reader.line_num
        if any(cell.strip(_BLANK) for cell in row):
            yield start, row


def _norm_header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).casefold()


def _column_indexes(
    mapping: CsvMapping, header: list[str] | None, header_line: int
) -> dict[str, list[int]]:
    indexes: dict[str, list[int]] = {}
    positions: dict[str, int] = {}
    if header is not None:
        for position, name in enumerate(header):
            positions.setdefault(_norm_header(name), position)
    for logical, spec in mapping.columns.items():
        names = spec if isinstance(spec, list) else [spec]
        found = []
        for name in names:
            if header is None:
                found.append(int(name) - 1)
                continue
            position = positions.get(_norm_header(name))
            if position is None:
                raise StatementError(
                    "missing_column",
                    f"line {header_line}: no column {name!r} (for {logical!r}) in the header",
                    line=header_line,
                    column=logical,
                    header=name,
                )
            found.append(position)
        indexes[logical] = found
    return indexes


_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_amount(text: str, decimal_separator: str = ".", thousands_separator: str = "") -> Decimal:
    """Exact Decimal of a bank's amount text: a sign in front or behind, or parentheses, for
    negative amounts; grouping by ``thousands_separator`` (any space when it is a space) must
    be in threes. Raises ValueError with a short reason."""
    s = text.strip()
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    if s and s[0] in "+-":
        negative, s = (s[0] == "-") != negative, s[1:].strip()
    elif s and s[-1] in "+-":
        negative, s = (s[-1] == "-") != negative, s[:-1].strip()
    if not s:
        raise ValueError("no digits")
    if thousands_separator and thousands_separator in SPACES:
        groups_sep = SPACES
    else:
        groups_sep = thousands_separator
    integer, _, fraction = s.partition(decimal_separator)
    if decimal_separator in fraction:
        raise ValueError("two decimal separators")
    if groups_sep and any(ch in groups_sep for ch in integer):
        parts = re.split("[" + re.escape(groups_sep) + "]", integer)
        if not (1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:])):
            raise ValueError("digit grouping is not in threes")
        integer = "".join(parts)
    plain = integer + ("." + fraction if decimal_separator in s else "")
    if not _PLAIN_NUMBER.fullmatch(plain):
        raise ValueError("not a number")
    amount = Decimal(plain)
    return -amount if negative and amount else amount


def _row_digest(row: list[str], occurrence: int) -> str:
    payload = "\x1f".join(cell.strip() for cell in row) + f"\x1e{occurrence}"
    return "row:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def parse_csv(data: bytes, mapping: CsvMapping) -> ParsedStatement:
    """Read a bank's CSV statement with its mapping; see the module docstring."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise StatementError("bad_input", "statement data must be bytes")
    if not isinstance(mapping, CsvMapping):
        raise StatementError("bad_input", "a CsvMapping is required")
    data = bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    rows = _rows(data, mapping)

    header: list[str] | None = None
    header_line = 0
    for _ in range(mapping.header_rows):
        item = next(rows, None)
        if item is None:
            break
        header_line, header = item
    if mapping.header_rows and header is None:
        raise StatementError("empty_file", "the file has no rows")
    indexes = _column_indexes(mapping, header, header_line)
    names = header if header is not None else []

    def cell(row: list[str], logical: str) -> str:
        parts = [row[i].strip() for i in indexes.get(logical, ()) if i < len(row)]
        return " ".join(" ".join(p.split()) for p in parts if p)

    def fail(code: str, line: int, logical: str, value: str, why: str) -> StatementError:
        return StatementError(
            code, f"line {line}: {logical} {value!r}: {why}", line=line, column=logical, value=value
        )

    def parse_day(row: list[str], line: int, logical: str) -> date | None:
        value = cell(row, logical)
        if not value:
            return None
        try:
            return datetime.strptime(value, mapping.date_format).date()
        except ValueError:
            raise fail("bad_date", line, logical, value, f"not {mapping.date_format}") from None

    def parse_money(row: list[str], line: int, logical: str) -> Decimal | None:
        value = cell(row, logical)
        if not value:
            return None
        try:
            return parse_amount(value, mapping.decimal_separator, mapping.thousands_separator)
        except (ValueError, InvalidOperation) as exc:
            raise fail("bad_amount", line, logical, value, str(exc)) from None

    lines: list[StatementLine] = []
    seen_rows: dict[tuple[str, ...], int] = {}
    currency = ""
    statement_id = ""
    account = ""
    data_rows = 0
    for line, row in rows:
        data_rows += 1
        booked = parse_day(row, line, "date")
        if booked is None:
            raise fail("missing_value", line, "date", "", "the date is empty")
        value_date = parse_day(row, line, "value_date") or booked
        if "amount" in indexes:
            amount = parse_money(row, line, "amount")
            if amount is None:
                raise fail("missing_value", line, "amount", "", "the amount is empty")
        else:
            credit = parse_money(row, line, "credit")
            debit = parse_money(row, line, "debit")
            if credit is None and debit is None:
                raise fail("missing_value", line, "amount", "", "credit and debit are empty")
            if credit and debit:
                raise fail(
                    "bad_amount",
                    line,
                    "amount",
                    f"{cell(row, 'credit')} / {cell(row, 'debit')}",
                    "both credit and debit are filled in",
                )
            if credit:
                amount = abs(credit)
            elif debit:
                amount = -abs(debit)
            else:  # a zero in either column
                amount = abs(credit if credit is not None else debit)
        line_currency = (cell(row, "currency") or mapping.default_currency).upper()
        if not _CURRENCY.fullmatch(line_currency):
            raise fail("bad_currency", line, "currency", line_currency, "not an ISO 4217 code")
        if currency and line_currency != currency:
            raise fail(
                "mixed_currency", line, "currency", line_currency, f"the statement is in {currency}"
            )
        currency = line_currency
        try:
            to_minor(amount, currency_exponent(currency))
        except PostingError as exc:
            raise fail("bad_amount", line, "amount", str(amount), str(exc)) from None
        statement_id = statement_id or cell(row, "statement_id")
        account = account or cell(row, "account")
        bank_ref = cell(row, "bank_ref")
        synthetic = not bank_ref
        if synthetic:
            key = tuple(c.strip() for c in row)
            seen_rows[key] = seen_rows.get(key, 0) + 1
            bank_ref = _row_digest(row, seen_rows[key])
        raw = {(names[i] if i < len(names) else str(i + 1)): value for i, value in enumerate(row)}
        lines.append(
            StatementLine(
                line_no=line,
                booked_on=booked,
                value_date=value_date,
                amount=amount,
                currency=currency,
                reference=cell(row, "reference"),
                counterparty=cell(row, "counterparty"),
                bank_ref=bank_ref,
                raw=raw,
                bank_ref_synthetic=synthetic,
            )
        )
    if header is None and data_rows == 0:
        raise StatementError("empty_file", "the file has no rows")
    return ParsedStatement(
        statement_id=statement_id or f"{mapping.statement_id or 'csv'}-{digest[:16]}",
        account=account,
        currency=currency or mapping.default_currency,
        created_at=None,
        lines=lines,
        digest=digest,
        format="csv",
    )


# ---------------------------------------------------------------------------------------------
# camt.053

_CAMT_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3}\.\d{3}\.\d{2})")
_XML_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_XML_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: Element | None, *path: str) -> Element | None:
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if _local(c.tag) == name), None)
    return element


def _children(element: Element | None, name: str) -> list[Element]:
    return [] if element is None else [c for c in element if _local(c.tag) == name]


def _text(element: Element | None, *path: str) -> str:
    found = _child(element, *path)
    return " ".join((found.text or "").split()) if found is not None else ""


class _Where:
    """Context for camt errors: which statement and entry."""

    def __init__(self, statement: str = "", entry: int | None = None) -> None:
        self.statement, self.entry = statement, entry

    def error(self, code: str, message: str, **params: object) -> StatementError:
        where = {"statement": self.statement} if self.statement else {}
        if self.entry is not None:
            where["entry"] = self.entry
        prefix = ", ".join(f"{k} {v}" for k, v in where.items())
        return StatementError(
            code, f"{prefix}: {message}" if prefix else message, **where, **params
        )


def _xml_date(holder: Element | None, where: _Where, element: str) -> date | None:
    """A DateAndDateTimeChoice (``Dt`` or ``DtTm``): the date as the bank wrote it."""
    if holder is None:
        return None
    text = _text(holder, "Dt") or _text(holder, "DtTm")
    match = _XML_DATE.match(text)
    try:
        if match:
            return date.fromisoformat(match.group())
    except ValueError:
        pass
    raise where.error("bad_date", f"{element} {text!r} is not a date", element=element, value=text)


def _xml_amount(element: Element | None, where: _Where, name: str) -> tuple[Decimal, str]:
    if element is None:
        raise where.error("missing_element", f"no {name}", element=name)
    text = (element.text or "").strip()
    currency = (element.get("Ccy") or "").strip().upper()
    if not _XML_DECIMAL.fullmatch(text):
        raise where.error(
            "bad_amount", f"{name} {text!r} is not an amount", element=name, value=text
        )
    if not _CURRENCY.fullmatch(currency):
        raise where.error(
            "bad_currency", f"{name} has no valid Ccy ({currency!r})", element=name, value=currency
        )
    amount = Decimal(text)
    try:
        to_minor(amount, currency_exponent(currency))
    except PostingError as exc:
        raise where.error("bad_amount", f"{name} {text}: {exc}", element=name, value=text) from None
    return amount, currency


def _sign(indicator: str, where: _Where, element: str) -> int:
    if indicator == "CRDT":
        return 1
    if indicator == "DBIT":
        return -1
    raise where.error(
        "bad_credit_debit",
        f"{element} CdtDbtInd {indicator!r} is neither CRDT nor DBIT",
        element=element,
        value=indicator,
    )


def _party_name(parties: Element | None, role: str) -> str:
    party = _child(parties, role)
    # camt.053.001.02-.06: Dbtr/Nm; .07 on: Dbtr is a choice of Pty (a party) or Agt.
    return (
        _text(party, "Nm") or _text(party, "Pty", "Nm") or _text(party, "Agt", "FinInstnId", "Nm")
    )


def _bank_transaction_code(element: Element | None) -> str:
    """Domain/family/sub-family (e.g. ``PMNT/RCDT/ESCT``), else the proprietary code."""
    code = _child(element, "BkTxCd")
    domain = _child(code, "Domn")
    if domain is not None:
        parts = [
            _text(domain, "Cd"),
            _text(domain, "Fmly", "Cd"),
            _text(domain, "Fmly", "SubFmlyCd"),
        ]
        return "/".join(p for p in parts if p)
    return _text(code, "Prtry", "Cd")


def _remittance(tx: Element | None) -> str:
    parts: list[str] = []
    for info in _children(tx, "RmtInf"):
        parts.extend(_text(u) for u in _children(info, "Ustrd"))
        for structured in _children(info, "Strd"):
            parts.extend(_text(r, "Ref") for r in _children(structured, "CdtrRefInf"))
    distinct: list[str] = []
    for part in parts:
        if part and part not in distinct:
            distinct.append(part)
    return " ".join(distinct)


def _entry_lines(
    entry: Element, where: _Where, first_line_no: int, statement_id: str, position: int
) -> list[StatementLine]:
    amount, currency = _xml_amount(_child(entry, "Amt"), where, "Ntry/Amt")
    sign = _sign(_text(entry, "CdtDbtInd"), where, "Ntry")
    booked = _xml_date(_child(entry, "BookgDt"), where, "BookgDt")
    value_date = _xml_date(_child(entry, "ValDt"), where, "ValDt")
    if booked is None and value_date is None:
        raise where.error("missing_element", "no BookgDt or ValDt", element="BookgDt")
    booked = booked or value_date
    value_date = value_date or booked
    entry_ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
    entry_info = _text(entry, "AddtlNtryInf")
    transactions = [tx for d in _children(entry, "NtryDtls") for tx in _children(d, "TxDtls")]
    batched = len(transactions) > 1

    lines = []
    for index, tx in enumerate(transactions or [None], start=1):
        tx_where = f"TxDtls[{index}]"
        if batched:
            amount_element = _child(tx, "Amt")  # .001.03 on
            if amount_element is None:
                amount_element = _child(tx, "AmtDtls", "TxAmt", "Amt")
            line_amount, line_currency = _xml_amount(amount_element, where, f"{tx_where}/Amt")
            indicator = _text(tx, "CdtDbtInd")
            line_sign = _sign(indicator, where, tx_where) if indicator else sign
        else:
            line_amount, line_currency, line_sign = amount, currency, sign
        tx_ref = _text(tx, "Refs", "AcctSvcrRef")
        if batched:
            bank_ref = tx_ref or (f"{entry_ref}/{index}" if entry_ref else "")
        else:
            bank_ref = entry_ref or tx_ref
        synthetic = not bank_ref
        if synthetic:
            bank_ref = f"{statement_id}:{position}" + (f"/{index}" if batched else "")
        parties = _child(tx, "RltdPties")
        payer, payee = _party_name(parties, "Dbtr"), _party_name(parties, "Cdtr")
        if not payer:
            payer = _party_name(parties, "UltmtDbtr")
        counterparty = (payer or payee) if line_sign > 0 else (payee or payer)
        reference = _remittance(tx) or _text(tx, "AddtlTxInf") or entry_info
        raw = {
            "entry": position,
            "transaction": index if transactions else None,
            "entry_ref": _text(entry, "NtryRef"),
            "entry_acct_svcr_ref": _text(entry, "AcctSvcrRef"),
            "tx_acct_svcr_ref": tx_ref,
            "end_to_end_id": _text(tx, "Refs", "EndToEndId"),
            "counterparty_iban": _text(
                parties, "DbtrAcct" if line_sign > 0 else "CdtrAcct", "Id", "IBAN"
            ),
            "bank_tx_code": _bank_transaction_code(tx) or _bank_transaction_code(entry),
            "reversal": _text(entry, "RvslInd").lower() == "true",
            "additional_info": entry_info,
        }
        lines.append(
            StatementLine(
                line_no=first_line_no + len(lines),
                booked_on=booked,
                value_date=value_date,
                amount=line_sign * line_amount,
                currency=line_currency,
                reference=reference,
                counterparty=counterparty,
                bank_ref=bank_ref,
                raw={k: v for k, v in raw.items() if v not in ("", None, False)},
                bank_ref_synthetic=synthetic,
            )
        )
    if batched and all(ln.currency == currency for ln in lines):
        total = sum(ln.amount for ln in lines)
        if total != sign * amount:
            raise where.error(
                "batch_total_mismatch",
                f"the transactions add up to {total}, the entry says {sign * amount}",
                element="NtryDtls",
                value=str(total),
            )
    return lines


def _balances(statement: Element, where: _Where) -> dict[str, tuple[int, date | None, str]]:
    found: dict[str, tuple[int, date | None, str]] = {}
    for balance in _children(statement, "Bal"):
        code = _text(balance, "Tp", "CdOrPrtry", "Cd") or _text(balance, "Tp", "CdOrPrtry", "Prtry")
        amount, currency = _xml_amount(_child(balance, "Amt"), where, f"Bal[{code}]/Amt")
        sign = _sign(_text(balance, "CdtDbtInd"), where, f"Bal[{code}]")
        minor = sign * to_minor(amount, currency_exponent(currency))
        found.setdefault(code, (minor, _xml_date(_child(balance, "Dt"), where, "Bal/Dt"), currency))
    return found


def _created_at(text: str, where: _Where) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise where.error(
            "bad_date", f"CreDtTm {text!r} is not a date-time", element="CreDtTm", value=text
        ) from None


BOOKED_STATUSES = ("", "BOOK")


def parse_camt053(data: bytes) -> list[ParsedStatement]:
    """Every statement (``Stmt``) of a camt.053 file; see the module docstring."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise StatementError("bad_input", "statement data must be bytes")
    data = bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise StatementError("empty_file", "the file is empty")
    try:
        root = SafeElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise StatementError(
            "xml_forbidden",
            f"the file declares a DTD or entities, refused ({type(exc).__name__})",
        ) from None
    except SafeElementTree.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise StatementError("bad_xml", f"not well-formed XML: {exc}", line=line) from None

    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    version_match = _CAMT_NAMESPACE.fullmatch(namespace)
    version = version_match.group(1) if version_match else ""
    container = _child(root, "BkToCstmrStmt") if _local(root.tag) == "Document" else None
    if container is None or (namespace and not version.startswith("camt.053.")):
        raise StatementError(
            "not_camt053",
            f"not a camt.053 statement (root {_local(root.tag)!r}, namespace {namespace!r})",
            namespace=namespace,
        )
    header_created = _text(container, "GrpHdr", "CreDtTm")
    statements_xml = _children(container, "Stmt")
    if not statements_xml:
        raise StatementError("missing_element", "the file holds no Stmt", element="Stmt")

    statements = []
    for position, statement in enumerate(statements_xml, start=1):
        where = _Where()
        statement_id = _text(statement, "Id")
        if not statement_id:
            raise StatementError(
                "missing_element",
                f"statement {position} has no Id",
                element="Stmt/Id",
                statement=str(position),
            )
        where.statement = statement_id
        account_element = _child(statement, "Acct", "Id")
        account = _text(account_element, "IBAN") or _text(account_element, "Othr", "Id")
        if not account:
            raise where.error("missing_element", "no Acct/Id/IBAN or Othr/Id", element="Acct/Id")
        balances = _balances(statement, where)
        opening = balances.get("OPBD") or balances.get("PRCD")
        closing = balances.get("CLBD")
        currency = _text(statement, "Acct", "Ccy").upper()
        lines: list[StatementLine] = []
        for entry_position, entry in enumerate(_children(statement, "Ntry"), start=1):
            where.entry = entry_position
            status = _text(entry, "Sts") or _text(entry, "Sts", "Cd")
            if status not in BOOKED_STATUSES:
                continue
            lines.extend(_entry_lines(entry, where, len(lines) + 1, statement_id, entry_position))
        where.entry = None
        currency = currency or (opening or closing or (0, None, ""))[2]
        currency = currency or (lines[0].currency if lines else "")
        statements.append(
            ParsedStatement(
                statement_id=statement_id,
                account=account.replace(" ", ""),
                currency=currency,
                created_at=_created_at(_text(statement, "CreDtTm") or header_created, where),
                lines=lines,
                digest=digest,
                opening_minor=opening[0] if opening else None,
                closing_minor=closing[0] if closing else None,
                opening_on=opening[1] if opening else None,
                closing_on=closing[1] if closing else None,
                format=version or "camt.053",
            )
        )
    return statements


# ---------------------------------------------------------------------------------------------
# matching

_DIGITS = re.compile(r"[0-9]+")
_JOINERS = frozenset(SPACES + "\t-./\u2010\u2011\u2012\u2013\u2014")
MAX_JOINER_RUN = 3


def find_account_numbers(reference: str, *, check: Callable[[str], str | None]) -> list[str]:
    """Distinct account numbers in ``reference``, in order of appearance, each confirmed by
    ``check`` (which returns the normalised number or None)."""
    if not reference:
        return []
    chains: list[list[re.Match[str]]] = []
    for match in _DIGITS.finditer(reference):
        if chains:
            gap = reference[chains[-1][-1].end() : match.start()]
            if 0 < len(gap) <= MAX_JOINER_RUN and all(ch in _JOINERS for ch in gap):
                chains[-1].append(match)
                continue
        chains.append([match])
    candidates: list[tuple[int, int, str]] = []
    for chain in chains:
        for first in range(len(chain)):
            digits = ""
            for last in range(first, len(chain)):
                digits += chain[last].group()
                if len(digits) > MAX_ACCOUNT_DIGITS:
                    break
                number = check(digits)
                if number:
                    candidates.append((chain[first].start(), chain[last].end(), number))
    found: list[str] = []
    for _, _, number in sorted(candidates, key=lambda c: (c[0], c[1])):
        if number not in found:
            found.append(number)
    return found


@dataclass(frozen=True, slots=True)
class ReportHint:
    """A resident's missing-payment report, as the matcher needs it."""

    id: object
    account_number: str
    amount_minor: int
    paid_on: date
    bank_reference: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    kind: str  # "account" | "report" | "ambiguous" | "none"
    account_number: str | None
    report_id: object | None
    reason_code: str
    candidates: tuple[str, ...] = ()  # the account numbers found, when ambiguous


MATCH_KINDS = ("account", "report", "ambiguous", "none")
_REF_NOISE = re.compile(r"[\s\-./]")


def _norm_ref(text: str) -> str:
    return _REF_NOISE.sub("", text or "").casefold()


def _reference_confirmed(line: StatementLine, hint: ReportHint) -> bool:
    """The report's bank reference is the line's bank id, or appears in its reference."""
    wanted = _norm_ref(hint.bank_reference)
    if not wanted:
        return False
    if not line.bank_ref_synthetic and wanted == _norm_ref(line.bank_ref):
        return True
    return wanted in _norm_ref(line.reference)


def _hint_fits(line: StatementLine, hint: ReportHint, amount_minor: int, window: int) -> bool:
    if hint.amount_minor != amount_minor:
        return False
    days = min(
        abs((line.booked_on - hint.paid_on).days), abs((line.value_date - hint.paid_on).days)
    )
    if days > window:
        return False
    if hint.bank_reference.strip() and line.bank_ref and not line.bank_ref_synthetic:
        # both have one: they must agree
        return _reference_confirmed(line, hint)
    return True


def match_line(
    line: StatementLine,
    *,
    check: Callable[[str], str | None],
    open_reports: Sequence[ReportHint] = (),
    window_days: int = REPORT_WINDOW_DAYS,
) -> Match:
    """Decide where a statement line's money goes.

    - a debit or zero line: ``none``/``not_a_credit`` (the service books it elsewhere);
    - exactly one valid account number in the reference: ``account``/``account_in_reference``
      (with ``report_id`` of an open report that fits it, so the service can close it);
    - several: ``ambiguous``/``several_accounts`` (suspense; ``candidates`` lists them);
    - none: an open missing-payment report with the same amount, paid within ``window_days``
      of the booking or value date, and the same bank reference when both have one:
      ``report``/``missing_payment_report``; several such reports: ``ambiguous``/
      ``several_reports``; else ``none``/``no_match`` (suspense).
    """
    if line.amount <= 0:
        return Match("none", None, None, "not_a_credit")
    try:
        amount_minor = line.amount_minor
    except PostingError as exc:
        raise StatementError(
            "bad_amount", f"line {line.line_no}: {exc}", line=line.line_no, value=str(line.amount)
        ) from None
    numbers = find_account_numbers(line.reference, check=check)
    fitting = [h for h in open_reports if _hint_fits(line, h, amount_minor, window_days)]
    if len(numbers) == 1:
        same_account = [h for h in fitting if h.account_number == numbers[0]]
        report_id = same_account[0].id if len(same_account) == 1 else None
        return Match("account", numbers[0], report_id, "account_in_reference")
    if numbers:
        return Match("ambiguous", None, None, "several_accounts", tuple(numbers))
    if len(fitting) > 1:  # a report whose bank reference the line confirms wins over others
        confirmed = [h for h in fitting if _reference_confirmed(line, h)]
        if len(confirmed) == 1:
            fitting = confirmed
    if len(fitting) == 1:
        hint = fitting[0]
        return Match("report", hint.account_number, hint.id, "missing_payment_report")
    if fitting:
        return Match(
            "ambiguous",
            None,
            None,
            "several_reports",
            tuple(dict.fromkeys(h.account_number for h in fitting)),
        )
    return Match("none", None, None, "no_match")
