"""Bulk import of meter readings: CSV files from meter-reading contractors and AMR systems.

`readings_import(stream=..., file_name=..., dry_run=...)` reads the file as a stream, a chunk
of rows at a time (CHUNK_ROWS), and per chunk:

1. parses each row (serial, register, value, taken at, optional account) in memory;
2. reads the chunk's meters and their registers' validation state with one set-based query
   (SQLite: ``IN`` lists sliced below the variable limit, the rows as one JSON text;
   PostgreSQL: ``= ANY(%s)``, locking the meters like the services do);
3. decides every reading with the same pure rules as the services
   (`validation.validate`, `state.state_after`, `state.recent_add`), in file order, each
   against the state the previous reading of its register left;
4. writes the readings with `core.bulk.bulk_insert` (COPY on PostgreSQL, multi-row INSERTs on
   SQLite), creates missing register rows the same way, updates the others in bulk
   (PostgreSQL: COPY into a temporary table + ``UPDATE ... FROM``; SQLite: one ``UPDATE ...
   FROM json_each(...)``) and records the true-ups of real readings after estimates.

From the second chunk on, steps 2 and 4 run in a second thread on the same connection and
transaction (`_Pipeline`): it reads chunk n + 1's meters and writes chunk n - 1's rows while
this thread parses and decides. The registers chunk n - 1 moved are taken from memory when
chunk n + 1 is decided (its read may precede that chunk's writes). PostgreSQL checks the
foreign keys of the rows written at each statement rather than at commit (`_checks_immediate`).

Accepted readings move their register; flagged ones (spikes) are stored for review and do
not; rejected ones (lower than before, duplicate, too many digits, in the future, meter
removed...) are stored with status rejected and their reasons, counted per reason.

Row format errors (not a number, not a date, a missing value, an unknown meter serial, a
register the meter does not have, a row twice in the file, an account that is not the
meter's) are reported with line, column, code and message. They make the whole import write
nothing (one transaction, rolled back) unless ``skip_invalid``, which imports the good rows.
A file that cannot be a reading file (binary, a spreadsheet, not UTF-8, a wrong header, a
huge line, empty) is refused and nothing is written. A dry run does the same work in a
transaction that is rolled back, so its counts are exact. Every run leaves a ReadingImport
row with its counts, reasons and first 1,000 errors, written after (and outside) the work's
transaction. The file format: docs/reading-import.md.
"""

from __future__ import annotations

import codecs
import csv
import gc
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, BinaryIO

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicdesk.core.bulk import bulk_insert, copy_rows
from civicdesk.core.identifiers import uuid7s
from civicdesk.metering import selectors, validation
from civicdesk.metering import state as register_state
from civicdesk.metering.models import (
    READING_BULK_FIELDS,
    REGISTERS,
    EstimateTrueUp,
    Meter,
    MeterRegister,
    Reading,
    ReadingImport,
    Resource,
)

logger = logging.getLogger(__name__)

CHUNK_ROWS = 25_000  # rows parsed, validated and written together
KEPT_ERRORS = 1000  # errors kept on the ReadingImport (error_count counts them all)
MAX_LINE_CHARS = 4096  # a reading row is short: a longer line means this is not our file
BLOCK_BYTES = 1 << 20
MAX_VALUE = Decimal(10) ** 12  # what the reading column can hold (15 digits, 3 decimals)
STEP = validation.STEP
SOURCE = Reading.Source.IMPORT.value
WATER = frozenset({Resource.COLD_WATER.value, Resource.HOT_WATER.value})
REGISTER_INDEX = {"T": 0, "T1": 1, "T2": 2, "T3": 3}
ONE_DAY = timedelta(days=1)
RegisterState = validation.RegisterState
_SET_RECENT = RegisterState.recent.__set__  # a state private to the import gets its months
Progress = Callable[[int, int], None]  # (rows done, rows expected or 0)

# Canonical column → the header names accepted for it (compared lower-case, with spaces and
# dashes as underscores).
COLUMNS: dict[str, tuple[str, ...]] = {
    "serial": ("serial", "meter", "meter_serial", "serial_number"),
    "register": ("register",),
    "value": ("value", "reading"),
    "taken_at": ("taken_at", "date", "taken_on"),
    "account": ("account", "account_number"),
}
REQUIRED_COLUMNS = ("serial", "value", "taken_at")
_ALIASES = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}

READING_FIELDS = READING_BULK_FIELDS
REGISTER_FIELDS = (
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
TRUE_UP_FIELDS = (
    "meter_id",
    "register",
    "reading_id",
    "first_period",
    "last_period",
    "estimated",
    "actual",
    "difference",
    "created_at",
)

# --- messages -------------------------------------------------------------------------------

MESSAGES = {
    # the file
    "empty_file": gettext_lazy("The file is empty."),
    "no_rows": gettext_lazy("The file has a header but no readings."),
    "binary": gettext_lazy("This is not a CSV text file."),
    "spreadsheet": gettext_lazy("This is a spreadsheet, not CSV: save it as “CSV UTF-8”."),
    "not_utf8": gettext_lazy("The file is not UTF-8 text (line %(line)d): save it as “CSV UTF-8”."),
    "line_too_long": gettext_lazy(
        "Line %(line)d is longer than %(max)d characters: this is not a meter-reading file."
    ),
    "bad_csv": gettext_lazy("Unreadable CSV at line %(line)d: %(reason)s."),
    "missing_columns": gettext_lazy(
        "The header lacks the columns %(columns)s. It needs serial, value and taken_at; "
        "register and account are optional."
    ),
    "unknown_columns": gettext_lazy("Unknown columns %(columns)s. Known columns: %(known)s."),
    "duplicate_columns": gettext_lazy("Columns named twice: %(columns)s."),
    "database": gettext_lazy(
        "The database refused the readings (lines %(first)d-%(last)d); nothing was written."
    ),
    # a row
    "missing_value": gettext_lazy("The line ends before this column."),
    "extra_values": gettext_lazy("More values than the %(columns)d columns of the header."),
    "required": gettext_lazy("This column is required."),
    "not_a_number": gettext_lazy("Not a number: write the reading like 1234.567 or 1234,567."),
    "too_large": gettext_lazy("Not a meter reading: far too large."),
    "not_a_date": gettext_lazy(
        "Not a date: write 2026-03-15, 2026-03-15T08:30, 2026-03-15T08:30+02:00 or 15.03.2026."
    ),
    "unknown_meter": gettext_lazy("No meter has the serial number %(serial)s."),
    "unknown_register": gettext_lazy(
        "Meter %(serial)s has no register %(register)s: it has %(registers)s."
    ),
    "account_mismatch": gettext_lazy("Meter %(serial)s is not on account %(account)s."),
    "duplicate_row": gettext_lazy("The same meter, register and time as line %(line)d."),
}


# Codes that refuse the whole file (the others are about one row).
FILE_CODES = frozenset(
    {
        "empty_file",
        "no_rows",
        "binary",
        "spreadsheet",
        "not_utf8",
        "line_too_long",
        "bad_csv",
        "missing_columns",
        "unknown_columns",
        "duplicate_columns",
        "database",
    }
)


def error_message(code: str, params: dict | None = None) -> str:
    """The error's sentence in the active language."""
    template = MESSAGES.get(code)
    if template is None:  # pragma: no cover - every code has a message (tested)
        return code
    return str(template) % params if params else str(template)


def error_line(error: dict) -> str:
    """ "line 17, value: Not a number: ..." — how an error reads on its own."""
    if error.get("field"):
        where = _("line %(line)d, %(field)s") % {"line": error["line"], "field": error["field"]}
    else:
        where = _("line %(line)d") % {"line": error["line"]}
    return f"{where}: {error['message']}"


class FileRefused(Exception):
    """The file cannot be imported at all."""

    def __init__(self, code: str, *, line: int = 0, field: str = "", **params: Any):
        super().__init__(code)
        self.code = code
        self.line = line
        self.field = field
        self.params = params

    def as_error(self) -> dict:
        return {
            "line": self.line,
            "field": self.field,
            "code": self.code,
            "message": error_message(self.code, {"line": self.line, **self.params}),
        }


class _RollBack(Exception):
    """A dry run, or format errors without skip_invalid: undo the writes."""


# --- reading the file -----------------------------------------------------------------------

_SPREADSHEET_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # XLSX/ODS (zip), old .xls (OLE)
_BINARY_MAGIC = (b"%PDF-", b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"\x1f\x8b", b"7z\xbc\xaf")


def _check_head(head: bytes) -> None:
    if not head:
        raise FileRefused("empty_file", line=1)
    if head.startswith(_SPREADSHEET_MAGIC):
        raise FileRefused("spreadsheet", line=1)
    if head.startswith(_BINARY_MAGIC):
        raise FileRefused("binary", line=1)
    if b"\x00" in head:
        raise FileRefused("binary", line=head[: head.index(b"\x00")].count(b"\n") + 1)


def _text_lines(stream: BinaryIO) -> Iterator[str]:
    """The file's lines, decoded (UTF-8, a byte-order mark dropped), without line ends.
    Refuses undecodable bytes and any line over MAX_LINE_CHARS, never holding more than one
    block and one line in memory."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    pending = ""
    done = 0  # lines yielded
    first = True
    while True:
        block = stream.read(BLOCK_BYTES)
        final = not block
        # ``pending`` is the start of line done + 1 (it has no line end).
        if b"\x00" in block:
            line = done + block[: block.index(b"\x00")].count(b"\n") + 1
            raise FileRefused("binary", line=line)
        try:
            text = decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            line = done + block[: max(0, exc.start)].count(b"\n") + 1
            raise FileRefused("not_utf8", line=line) from exc
        if first:
            first = False
            if text.startswith("\ufeff"):
                text = text[1:]
        parts = (pending + text).split("\n")
        pending = "" if final else parts.pop()
        if parts and max(map(len, parts)) > MAX_LINE_CHARS:
            index = next(i for i, part in enumerate(parts) if len(part) > MAX_LINE_CHARS)
            raise FileRefused("line_too_long", line=done + index + 1, max=MAX_LINE_CHARS)
        if len(pending) > MAX_LINE_CHARS:
            raise FileRefused("line_too_long", line=done + len(parts) + 1, max=MAX_LINE_CHARS)
        if final:
            if parts and parts[-1] == "":
                parts.pop()  # the file ended with a line end
            yield from parts
            return
        done += len(parts)
        yield from parts


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _column_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _header(cells: list[str]) -> dict[str, int]:
    """Canonical column → its position; refuses a wrong header."""
    positions: dict[str, int] = {}
    twice, unknown = [], []
    for index, cell in enumerate(cells):
        key = _column_key(cell)
        if not key:
            continue
        column = _ALIASES.get(key)
        if column is None:
            unknown.append(cell.strip())
        elif column in positions:
            twice.append(cell.strip())
        else:
            positions[column] = index
    if twice:
        raise FileRefused("duplicate_columns", line=1, columns=", ".join(twice))
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if missing:
        raise FileRefused("missing_columns", line=1, columns=", ".join(missing))
    if unknown:
        known = ", ".join(a for aliases in COLUMNS.values() for a in aliases)
        raise FileRefused("unknown_columns", line=1, columns=", ".join(unknown[:10]), known=known)
    return positions


_DOTTED = re.compile(
    r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$", re.ASCII
)


class _When:
    """A parsed "taken at": as the services see it (aware, in the operator's zone when the
    file gave no offset), in UTC (stored), the operator's local day, and a number that is
    equal for equal instants (duplicate detection)."""

    __slots__ = ("day", "day_before", "key", "local", "utc")

    def __init__(self, local: datetime, zone):
        self.local = local
        self.utc = local.astimezone(UTC)
        self.day_before = self.utc - ONE_DAY
        self.day = local.astimezone(zone).date()
        delta = self.utc - _EPOCH
        # Microseconds since 1970, offset to be positive: with a register's index above it, a
        # key for (register, instant) (duplicate rows).
        self.key = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        self.key += 1 << 62


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _parse_when(text: str, zone) -> _When | None:
    """ISO date or date-time (with or without an offset; without one, the operator's local
    time), or dd.mm.yyyy [HH:MM[:SS]]. A date alone is the start of that day, local time."""
    try:
        match = _DOTTED.match(text)
        if match:
            day, month, year, hour, minute, second = match.groups()
            moment = datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
            )
        else:
            if not text or not text[0].isdigit() or len(text) > 40:
                return None
            moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        if not 1900 <= moment.year <= 9998:
            return None
        return _When(moment, zone)
    except (ValueError, OverflowError):
        return None


def _expected_rows(stream: BinaryIO) -> int:
    """Lines in a seekable stream (for the progress bar), or 0."""
    try:
        if not stream.seekable():
            return 0
        start = stream.tell()
        count = 0
        while block := stream.read(BLOCK_BYTES):
            count += block.count(b"\n")
        stream.seek(start)
        return max(0, count - 1)
    except (AttributeError, OSError, ValueError):
        return 0


# --- decoding stored values -----------------------------------------------------------------


class _Decoder:
    """Stored values as Django reads them, from a raw cursor: PostgreSQL hands back Python
    values; on SQLite the query casts decimals, dates and times to text (no per-row
    converters), and the few distinct dates, times and monthly quantities are parsed once."""

    def __init__(self):
        self.moments: dict[str, datetime] = {}
        self.days: dict[str, date] = {}

    def quantity(self, value) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(value) if isinstance(value, str) else Decimal(str(value))

    def moment(self, value) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            found = self.moments.get(value)
            if found is None:
                if len(self.moments) > 100_000:
                    self.moments.clear()
                found = self.moments[value] = _aware_utc(datetime.fromisoformat(value))
            return found
        return _aware_utc(value)

    def day(self, value) -> date | None:
        if value is None or isinstance(value, date):
            return value
        found = self.days.get(value)
        if found is None:
            found = self.days[value] = date.fromisoformat(value)
        return found


def _dec(value) -> Decimal:
    return Decimal(str(value))


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _multiplier(value) -> Decimal:
    """The multiplier as Django reads it (four decimal places)."""
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(Decimal("0.0001"))


# --- meters and registers in memory -----------------------------------------------------------


class _Register:
    """One register's state while a chunk is decided.

    ``recent`` is the register's recent monthly use as `state.recent_add` keeps it, the
    stored months' quantities still as their JSON text (a month this import adds is a
    Decimal); ``state.recent`` (Decimals, what `validation.validate` reads) is filled in from
    it just before the register is next validated (``fresh`` says whether it is up to date),
    so a register read once a month converts its history once and never again."""

    __slots__ = (
        "dirty",
        "fresh",
        "id",
        "index",
        "inserted",
        "last_period",
        "meter_id",
        "name",
        "recent",
        "recent_text",
        "state",
    )

    def __init__(self, meter_id: int, name: str, row: tuple | None, decode: _Decoder):
        self.meter_id = meter_id
        self.name = name
        self.index = (meter_id << 2) | REGISTER_INDEX[name]
        self.dirty = False
        self.fresh = True
        self.inserted = False  # a new register's row, written by a batch (its id unknown)
        if row is None:
            self.id = None
            self.last_period = None
            self.recent: tuple = ()
            self.recent_text: str | None = "[]"
            self.state = RegisterState()
            return
        # row: register id, then the columns from last_value on (see _Job._select).
        recent = row[18]
        # The JSON text as stored, kept up to date while months are appended (see
        # _json_appended) so that writing the register back needs no json.dumps.
        if type(recent) is str:
            self.recent_text = recent
            recent = _json_load(recent) if recent != "[]" else ()
        else:
            self.recent_text = None
        self.recent = tuple(map(tuple, recent or ()))
        self.fresh = not self.recent
        self.id = row[9]
        self.last_period = decode.day(row[13])
        quantity, moment = decode.quantity, decode.moment
        text, real_text = row[11], row[14]
        last_value = quantity(text)
        last_real_value = (
            last_value if type(text) is str and real_text == text else quantity(real_text)
        )
        text, real_text = row[12], row[15]
        last_taken_at = moment(text)
        self.state = RegisterState(
            last_value,
            last_taken_at,
            last_real_value,
            last_taken_at if type(text) is str and real_text == text else moment(real_text),
            (),  # see the class docstring
            row[16] or 0,
            quantity(row[17]) or validation.ZERO,
        )


_json_scan = json.JSONDecoder().scan_once


def _json_load(text: str):
    """json.loads, without its Python layers for the usual text (no surrounding space)."""
    try:
        value, end = _json_scan(text, 0)
    except StopIteration:
        end = -1
    return value if end == len(text) else json.loads(text)


class _Meter:
    __slots__ = ("account_id", "account_number", "facts", "id", "registers", "serial", "water")

    def __init__(self, meter_id, serial, facts, account_id, resource):
        self.id = meter_id
        self.serial = serial
        self.facts = facts
        self.account_id = account_id
        self.water = resource in WATER
        self.account_number = ""
        self.registers: dict[str, _Register] = {}


def _account_key(text: str) -> str:
    return re.sub(r"[\s\-]", "", text).upper()


# --- the service ----------------------------------------------------------------------------


def readings_import(
    *,
    stream: BinaryIO,
    file_name: str,
    dry_run: bool,
    skip_invalid: bool = False,
    actor=None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ReadingImport:
    """Import a CSV file of meter readings (see the module docstring); returns the run's
    ReadingImport with its counts, reasons and errors. Status: ``done`` (written),
    ``checked`` (dry run), ``refused`` (nothing written: a malformed file, or format errors
    without ``skip_invalid``)."""
    actor_id = getattr(actor, "pk", None)
    record = ReadingImport.objects.create(
        file_name=(file_name or "")[:200],
        started_by_id=actor_id,
        dry_run=dry_run,
        status=ReadingImport.Status.RUNNING,
    )
    job = _Job(actor_id=actor_id, progress=progress, chunk_rows=chunk_rows)
    refusal: dict | None = None
    applied = False
    immediate: list[str] = []
    try:
        with transaction.atomic():
            immediate = _checks_immediate()
            job.run(stream)
            if dry_run or (job.error_count and not skip_invalid):
                raise _RollBack
            applied = True
            committing = time.perf_counter()
        job.timings["commit"] += time.perf_counter() - committing
    except _RollBack:
        pass
    except FileRefused as exc:
        refusal = exc.as_error()
    except DatabaseError:
        logger.exception("reading import %s: the database refused a chunk", record.public_id)
        refusal = FileRefused(
            "database", line=job.chunk_first, first=job.chunk_first, last=job.chunk_last
        ).as_error()

    finally:
        _checks_deferred(immediate)

    if refusal is not None:
        record.status = ReadingImport.Status.REFUSED
        record.errors = [refusal, *job.errors][:KEPT_ERRORS]
        record.error_count = job.error_count + 1
    else:
        if applied:
            record.status = ReadingImport.Status.DONE
        elif dry_run:
            record.status = ReadingImport.Status.CHECKED
        else:
            record.status = ReadingImport.Status.REFUSED
        record.errors = job.errors
        record.error_count = job.error_count
    record.rows_read = job.rows_read
    record.accepted = job.counts[validation.ACCEPTED]
    record.flagged = job.counts[validation.FLAGGED]
    record.rejected = job.counts[validation.REJECTED]
    record.reasons = dict(sorted(job.reasons.items()))
    record.finished_at = timezone.now()
    record.save()
    record.timings = dict(job.timings)  # seconds per phase, for the benchmark
    return record


def _checks_immediate() -> list[str]:
    """PostgreSQL: the foreign keys of the rows an import writes are checked at the end of
    each statement, not all at commit (Django makes them DEFERRABLE INITIALLY DEFERRED): the
    same checks, but made while the next chunk is decided, and without a queue of a million
    pending checks. Returns the constraints switched (see _checks_deferred)."""
    if connection.vendor != "postgresql":
        return []
    tables = [Reading._meta.db_table, MeterRegister._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
            "WHERE t.relname = ANY(%s) AND c.contype = 'f' AND c.condeferrable "
            "AND c.condeferred AND pg_table_is_visible(t.oid)",
            [tables],
        )
        names = [connection.ops.quote_name(row[0]) for row in cursor.fetchall()]
        if names:
            cursor.execute(f"SET CONSTRAINTS {', '.join(names)} IMMEDIATE")
    return names


def _checks_deferred(names: list[str]) -> None:
    """Back to their initial mode, when the import ran inside a longer transaction (else its
    end reset them)."""
    if names and connection.in_atomic_block and not connection.needs_rollback:
        with connection.cursor() as cursor:
            cursor.execute(f"SET CONSTRAINTS {', '.join(names)} DEFERRED")


class _Job:
    def __init__(self, *, actor_id, progress, chunk_rows):
        self.actor_id = actor_id
        self.touched: list[_Register] = []  # registers the chunk being decided moved
        self.progress = progress
        self.chunk_rows = max(1, chunk_rows)
        self.postgres = connection.vendor == "postgresql"
        self.now = timezone.now()
        self.zone = selectors.operator_timezone()
        self.rules = selectors.validation_rules()
        self.errors: list[dict] = []
        self.pending: list[dict] = []  # this chunk's errors
        self.error_count = 0
        self.rows_read = 0
        self.counts: Counter = Counter()
        self.reasons: Counter = Counter()
        self.seen: dict[int, int] = {}  # (register, instant) → the line that had it
        self.when_cache: dict[str, _When | None] = {}
        self.facts_cache: dict[tuple, validation.MeterFacts] = {}
        self.decode = _Decoder()
        self.timings: Counter = Counter()
        # Water meters read twice within a day (interval data), and the span of those
        # readings: the night-flow check runs on them once everything is written.
        self.interval: set[int] = set()
        self.interval_span: list[datetime] = []
        self.chunk_first = self.chunk_last = 0
        self.temp_table = False
        self.pipeline: _Pipeline
        self.waiting: _Chunk | None = None  # parsed, its meters being read
        self.live: dict[tuple[int, str], _Register] = {}  # the last decided chunk's registers

    # -- the file -----------------------------------------------------------------------------

    def run(self, stream: BinaryIO) -> None:
        # The work allocates millions of small objects and makes no reference cycles: the
        # cycle collector would only walk them over and over (a fifth of the time).
        collecting = gc.isenabled()
        gc.disable()
        self.pipeline = _Pipeline(connections[DEFAULT_DB_ALIAS])
        try:
            self._run(stream)
        except DatabaseError:
            if self.pipeline.failed_lines != (0, 0):
                self.chunk_first, self.chunk_last = self.pipeline.failed_lines
            raise
        finally:
            self.pipeline.close()  # before the transaction ends, whichever way
            self.timings["database, alongside"] = self.pipeline.busy
            if collecting:
                gc.enable()

    def _run(self, stream: BinaryIO) -> None:
        expected = _expected_rows(stream)
        head = stream.read(8192)
        _check_head(head)
        lines = _text_lines(_Prepend(head, stream))
        header_offset = 0  # lines before the first row: the header and empty lines before it
        for header_line in lines:
            header_offset += 1
            if header_line.strip():
                break
        else:
            raise FileRefused("empty_file", line=1)
        delimiter = _delimiter(header_line)
        try:
            header = next(csv.reader([header_line], delimiter=delimiter))
            columns = _header(header)
        except csv.Error as exc:
            raise FileRefused("bad_csv", line=header_offset, reason=str(exc)) from exc
        except FileRefused as exc:
            exc.line = header_offset
            raise
        self.width = len(header)
        self.at_serial, self.at_value = columns["serial"], columns["value"]
        self.at_taken = columns["taken_at"]
        self.at_register, self.at_account = columns.get("register"), columns.get("account")
        reader = csv.reader(lines, delimiter=delimiter)
        chunk: list = []
        try:
            for cells in reader:
                if not cells:
                    continue
                chunk.append(self._parse(reader.line_num + header_offset, cells, columns))
                if len(chunk) >= self.chunk_rows:
                    self._chunk(chunk, columns)
                    chunk = []
                    self._tick(expected)
        except csv.Error as exc:
            raise FileRefused(
                "bad_csv", line=reader.line_num + header_offset, reason=str(exc)
            ) from exc
        if chunk:
            self._chunk(chunk, columns)
        self._settle(self.waiting)  # the last chunk
        self.waiting = None
        started = time.perf_counter()
        self.pipeline.settle()
        self.timings["write"] += time.perf_counter() - started
        self._flush_errors()
        if not self.rows_read:
            raise FileRefused("no_rows", line=header_offset + 1)
        self._tick(expected)
        self._night_flow()

    def _tick(self, expected: int) -> None:
        if self.progress is not None:
            self.progress(self.rows_read, max(expected, self.rows_read))

    def _flush_errors(self) -> None:
        """The chunk's errors join the report in line order (the first KEPT_ERRORS)."""
        room = KEPT_ERRORS - len(self.errors)
        if self.pending and room > 0:
            self.errors.extend(sorted(self.pending, key=lambda e: e["line"])[:room])
        self.pending = []

    def _error(self, line: int, field: str, code: str, /, **params) -> None:
        self.error_count += 1
        if len(self.errors) < KEPT_ERRORS:
            self.pending.append(
                {
                    "line": line,
                    "field": field,
                    "code": code,
                    "message": error_message(code, params),
                }
            )

    def _parse(self, line: int, cells: list[str], columns: dict[str, int]):
        """(line, serial, register, value, when, account), or (line, None) when the row
        has format errors (reported). Error order within a row: the columns' order."""
        self.rows_read += 1
        width = self.width
        if len(cells) == width:  # the usual row: straight through, or the checks below
            serial = cells[self.at_serial].strip()
            when = self.when_cache.get(cells[self.at_taken].strip())
            if serial and when is not None:
                value = validation.parse_value(cells[self.at_value])
                if value is not None and -MAX_VALUE < value < MAX_VALUE:
                    stored = value.quantize(STEP, rounding=ROUND_HALF_UP)
                    at = self.at_register
                    register = cells[at].strip().upper() if at is not None else ""
                    at = self.at_account
                    account = cells[at].strip() if at is not None else ""
                    value = (stored, stored if stored == value else value)
                    return (line, serial, register, value, when, account)
        if not any(c.strip() for c in cells):  # an empty row (",,,") is skipped
            self.rows_read -= 1
            return None
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            return self._bad(line, [("", "extra_values", {"columns": width})])
        issues = []
        get = cells.__getitem__
        n = len(cells)
        pos = columns["serial"]
        serial = get(pos).strip() if pos < n else None
        if serial is None:
            issues.append(("serial", "missing_value", None))
        elif not serial:
            issues.append(("serial", "required", None))
        register = ""
        pos = columns.get("register")
        if pos is not None:
            register = get(pos).strip().upper() if pos < n else ""
        pos = columns["value"]
        value = None
        if pos >= n:
            issues.append(("value", "missing_value", None))
        else:
            text = get(pos).strip()
            if not text:
                issues.append(("value", "required", None))
            else:
                value = validation.parse_value(text)
                if value is None:
                    issues.append(("value", "not_a_number", None))
                elif abs(value) >= MAX_VALUE:
                    issues.append(("value", "too_large", None))
                    value = None
                else:
                    # As stored (three decimals); more decimals are the rules' to reject.
                    stored = value.quantize(STEP, rounding=ROUND_HALF_UP)
                    value = (stored, stored if stored == value else value)
        pos = columns["taken_at"]
        when = None
        if pos >= n:
            issues.append(("taken_at", "missing_value", None))
        else:
            text = get(pos).strip()
            if not text:
                issues.append(("taken_at", "required", None))
            else:
                cache = self.when_cache
                if text in cache:
                    when = cache[text]
                else:
                    when = _parse_when(text, self.zone)
                    if len(cache) > 100_000:
                        cache.clear()
                    cache[text] = when
                if when is None:
                    issues.append(("taken_at", "not_a_date", None))
        account = ""
        pos = columns.get("account")
        if pos is not None and pos < n:
            account = get(pos).strip()
        if issues:
            return self._bad(line, issues)
        return (line, serial, register, value, when, account)

    def _bad(self, line: int, issues) -> tuple:
        for field, code, params in issues:
            self._error(line, field, code, **(params or {}))
        return (line, None)

    # -- one chunk ----------------------------------------------------------------------------

    def _chunk(self, chunk: list, columns: dict[str, int]) -> None:
        """A chunk is parsed: have its meters read, and decide and write the one before.

        The chunk's meters are read before the previous chunk's rows are written (the worker
        thread reads while this one decides): the registers that chunk moved are taken from
        memory (``live``), not from the rows read."""
        rows = [row for row in chunk if row is not None]
        errors, self.pending = self.pending, []  # the chunk's format errors
        pipeline = self.pipeline
        if self.waiting is not None:
            pipeline.start()  # a second chunk: from now on, alongside
        good = [row for row in rows if row[1] is not None]
        serials = list({row[1] for row in good})
        lines = (rows[0][0], rows[-1][0]) if rows else (0, 0)
        loading = (
            pipeline.submit(self._fetch, serials, "account" in columns, lines=lines)
            if serials
            else None
        )
        previous, self.waiting = self.waiting, _Chunk(good, errors, loading, lines)
        self._settle(previous)

    def _settle(self, chunk: _Chunk | None) -> None:
        """Decide a chunk whose meters were read and hand its rows to write."""
        if chunk is None:
            return
        self.chunk_first, self.chunk_last = chunk.lines
        clock = time.perf_counter
        started = clock()
        fetched = self.pipeline.result(chunk.loading) if chunk.loading is not None else []
        meters = self._build(fetched, self.live)
        loaded = clock()
        readings, true_ups = self._decide(chunk.rows, meters)
        decided = clock()
        # What this chunk leaves in memory, for the next one (see _chunk).
        self.live = {
            (meter.id, name): register
            for meter in meters.values()
            for name, register in meter.registers.items()
        }
        batch = self._batch(readings, true_ups)
        self.pipeline.check()
        self.pipeline.submit(self._write, batch, lines=chunk.lines)
        if true_ups:  # rare (a real reading after estimates): in this thread, in order
            self.pipeline.settle()
            self._write_true_ups(true_ups)
        timings = self.timings
        timings["load"] += loaded - started
        timings["decide"] += decided - loaded
        timings["write"] += clock() - decided
        self.pending = chunk.errors + self.pending
        self._flush_errors()

    def _history(self, recent: tuple) -> tuple[Decimal, ...]:
        """`state.recent_values` of the register's recent months (parsing stored text as
        `state.recent_from_json` does)."""
        return tuple(
            [
                Decimal(use) if type(use) is str else use if type(use) is Decimal else _dec(use)
                for _key, use in recent
            ]
        )

    def _parsed(self, recent: tuple) -> tuple:
        return tuple(zip((k for k, _v in recent), self._history(recent), strict=True))

    def _decide(self, rows: list, meters: dict[str, _Meter]):
        validate = validation.validate
        state_after = register_state.state_after
        recent_add = register_state.recent_add
        history = self._history
        set_recent = _SET_RECENT
        accepted_status = validation.ACCEPTED
        rejected_status = validation.REJECTED
        now, rules = self.now, self.rules
        seen = self.seen
        touched = self.touched
        counts, reasons = self.counts, self.reasons
        actor_id, created = self.actor_id, self.now
        readings: list[tuple] = []
        append = readings.append
        true_ups: list[tuple] = []
        uuids = uuid7s(len(rows))  # time-ordered: the unique index grows at its right edge
        for row, public_id in zip(rows, uuids, strict=True):
            line, serial, name, values, when, account = row
            meter = meters.get(serial)
            if meter is None:
                self._error(line, "serial", "unknown_meter", serial=serial)
                continue
            register = meter.registers.get(name or "T")
            if register is None:
                self._error(
                    line,
                    "register",
                    "unknown_register",
                    serial=serial,
                    register=name or "T",
                    registers=", ".join(meter.registers),
                )
                continue
            if account and _account_key(account) != meter.account_number:
                self._error(line, "account", "account_mismatch", serial=serial, account=account)
                continue
            key = (register.index << 64) | when.key
            first = seen.get(key)
            if first is not None:
                self._error(line, "", "duplicate_row", line=first)
                continue
            seen[key] = line
            before = register.state
            if not register.fresh:
                # `before` is private to this import: give it the register's recent use.
                set_recent(before, history(register.recent))
                register.fresh = True
            stored, value = values
            verdict = validate(
                raw_value=value,
                taken_at=when.local,
                local_day=when.day,
                now=now,
                facts=meter.facts,
                state=before,
                rules=rules,
            )
            status = verdict.status
            counts[status] += 1
            codes = verdict.reasons
            if codes:
                reasons.update(codes)
            period = verdict.period
            consumption = verdict.consumption
            append(
                (
                    public_id,
                    meter.id,
                    register.name,
                    stored,
                    when.utc,
                    period,
                    consumption,
                    verdict.rolled_over,
                    SOURCE,
                    status,
                    ",".join(codes) if codes else "",
                    actor_id,
                    "",
                    created,
                )
            )
            if status == rejected_status:
                continue
            if (
                meter.water
                and before.last_taken_at is not None
                and before.last_taken_at >= when.day_before  # within a day before
            ):
                self._interval(meter, when)
            if status != accepted_status:
                continue
            after = state_after(
                before, value=stored, taken_at=when.utc, consumption=consumption, estimate=False
            )
            if consumption is not None:
                old = register.recent
                try:
                    recent = recent_add(old, period, consumption)
                except TypeError:  # this month is on record, as text: parse the months
                    recent = recent_add(self._parsed(old), period, consumption)
                register.recent = recent
                if register.recent_text is not None:
                    register.recent_text = _json_appended(register.recent_text, old, recent)
                register.fresh = False  # `after` has the months before this reading
            register.state = after
            last_period = register.last_period
            if last_period is None or period > last_period:
                register.last_period = period
            if not register.dirty:
                register.dirty = True
                touched.append(register)
            if verdict.true_up is not None:
                true_ups.append((public_id, meter.id, register.name, verdict, when, before))
        return readings, true_ups

    # -- reads --------------------------------------------------------------------------------

    def _select(self, with_accounts: bool) -> tuple[str, str]:
        """SQLite: the meters joined to their registers, as one JSON text (one query, the join
        walks the registers' meter index; one row out, so the worker thread hands the GIL
        back once, not once a row). PostgreSQL: the meters, and then their registers by
        meter id (its planner would hash-join against every register row otherwise)."""
        from civicdesk.registry.models import PersonalAccount

        quote = self.pipeline.wrapper.ops.quote_name  # (in the worker thread)
        meter_table = quote(Meter._meta.db_table)
        register_table = quote(MeterRegister._meta.db_table)
        account_table = quote(PersonalAccount._meta.db_table)
        columns = [
            "m.id",
            "m.serial",
            "m.rates",
            "m.digits",
            "m.multiplier",
            "m.status",
            "m.installed_on",
            "m.account_id",
            "m.resource",
            "r.id",
            "r.register",
            "r.last_value",
            "r.last_taken_at",
            "r.last_period",
            "r.last_real_value",
            "r.last_real_taken_at",
            "r.estimated_periods",
            "r.estimated_quantity",
            "r.recent",
        ]
        joins = f"FROM {meter_table} m "
        if with_accounts:
            joins += f"LEFT JOIN {account_table} a ON a.id = m.account_id "
        if self.postgres:
            # Text, parsed here once per distinct value (see _Decoder); times in UTC,
            # whatever the session's DateStyle.
            utc = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
            for column in ("r.last_taken_at", "r.last_real_taken_at"):
                columns[columns.index(column)] = utc.format(column)
            columns[-1] = "r.recent::text"  # see _Register.recent_text
            meters = ", ".join([*columns[:9], "a.number" if with_accounts else "''"])
            registers = ", ".join(["r.meter_id", *columns[9:]])
            return (
                f"SELECT {meters} {joins}",
                f"SELECT {registers} FROM {register_table} r ",  # noqa: S608
            )
        # Text, parsed here once per distinct value (see _Decoder).
        as_text = {"r.last_value", "r.last_taken_at", "r.last_period", "r.last_real_value"}
        as_text |= {"r.last_real_taken_at", "r.estimated_quantity", "m.installed_on"}
        as_text |= {"m.multiplier"}
        columns = [f"CAST({c} AS TEXT)" if c in as_text else c for c in columns]
        columns.append("a.number" if with_accounts else "''")
        return (
            f"SELECT json_group_array(json_array({', '.join(columns)})) {joins}"
            f"LEFT JOIN {register_table} r ON r.meter_id = m.id ",
            "",
        )

    def _fetch(self, serials: list[str], with_accounts: bool) -> list:
        """The stored rows of the chunk's meters and registers (in the worker thread: the
        driver's connection, no Django query). SQLite: JSON texts (see _select)."""
        select, select_registers = self._select(with_accounts)
        cursor = self.pipeline.driver.cursor()
        try:
            if self.postgres:
                # Lock the meters, as the services do, so no reading of them is decided
                # meanwhile against a state this import is about to change.
                cursor.execute(select + "WHERE m.serial = ANY(%s) FOR UPDATE OF m", [serials])
                found = cursor.fetchall()
                cursor.execute(
                    select_registers + "WHERE r.meter_id = ANY(%s)", [[m[0] for m in found]]
                )
                registers: dict[int, list] = {}
                for register in cursor.fetchall():
                    registers.setdefault(register[0], []).append(register[1:])
                no_register = (None,) * 10
                return [
                    (*meter[:9], *register, meter[9])
                    for meter in found
                    for register in registers.get(meter[0], (no_register,))
                ]
            texts = []
            for part in _slices(serials, _sqlite_in_limit(self.pipeline.driver)):
                marks = ", ".join(["?"] * len(part))
                cursor.execute(select + f"WHERE m.serial IN ({marks})", part)
                texts.append(cursor.fetchone()[0])
            return texts
        finally:
            cursor.close()

    def _build(self, fetched: list, live: dict) -> dict[str, _Meter]:
        """The chunk's meters by serial, each with its registers: as the previous chunk left
        them (``live``: its writes may not have reached the rows read), else as stored, else
        an empty state for a register never read."""
        if self.postgres:
            rows = fetched
        else:
            rows = []
            for text in fetched:
                rows.extend(_json_load(text))
        facts_cache = self.facts_cache
        decode = self.decode
        loaded: dict[str, _Meter] = {}
        for row in rows:
            serial = row[1]
            meter = loaded.get(serial)
            if meter is None:
                facts_key = (row[3], row[4], row[5], row[6])
                facts = facts_cache.get(facts_key)
                if facts is None:
                    facts = validation.MeterFacts(
                        digits=row[3],
                        multiplier=_multiplier(row[4]),
                        status=row[5],
                        installed_on=decode.day(row[6]),
                    )
                    facts_cache[facts_key] = facts
                meter = loaded[serial] = _Meter(row[0], serial, facts, row[7], row[8])
                if row[19]:
                    meter.account_number = _account_key(row[19])
                for name in REGISTERS[row[2]]:
                    meter.registers[name] = live.get((row[0], name))  # type: ignore[arg-type]
            name = row[10]
            if name is not None and name in meter.registers and meter.registers[name] is None:
                meter.registers[name] = _Register(meter.id, name, row, decode)
        for meter in loaded.values():
            for name, register in meter.registers.items():
                if register is None:
                    meter.registers[name] = _Register(meter.id, name, None, decode)
        return loaded

    # -- writes -------------------------------------------------------------------------------

    def _batch(self, readings: list[tuple], true_ups: list[tuple]) -> _Batch:
        """A chunk's writes as plain rows: its readings, and the registers it moved."""
        batch = _Batch(readings=readings, true_ups=true_ups)
        postgres = self.postgres
        dumps = json.dumps
        to_json = register_state.recent_to_json
        texts: dict = {}  # SQLite's text of each distinct date and time

        def as_text(value):
            """SQLite's text of a date or a time (naive UTC); PostgreSQL's (with the offset),
            which COPY passes on as it is."""
            if value is None:
                return None
            found = texts.get(value)
            if found is None:
                if type(value) is date or postgres:
                    found = value.isoformat()
                else:
                    found = str(_naive_utc(value))
                texts[value] = found
            return found

        for register in self.touched:
            if not register.dirty:
                continue
            register.dirty = False
            s = register.state
            recent = register.recent_text
            if recent is None:
                recent = dumps(to_json(register.recent))
            if register.id is None and not register.inserted:
                register.inserted = True  # by this batch: later ones update it
                batch.created.append(
                    (
                        register.meter_id,
                        register.name,
                        s.last_value,
                        s.last_taken_at,
                        register.last_period,
                        s.last_real_value,
                        s.last_real_taken_at,
                        s.estimated_periods,
                        s.estimated_quantity,
                        recent if postgres else to_json(register.recent),  # JSON text: COPY
                    )
                )
                continue
            # As text: what COPY, or SQLite's column affinity, would make of the values.
            row = (
                str(s.last_value) if s.last_value is not None else None,
                as_text(s.last_taken_at),
                as_text(register.last_period),
                str(s.last_real_value) if s.last_real_value is not None else None,
                as_text(s.last_real_taken_at),
                s.estimated_periods,
                str(s.estimated_quantity),
                recent,
            )
            if register.id is not None:
                batch.changed.append((*row, register.id))
            else:  # made by an earlier batch: its id is not known here
                batch.changed_new.append((*row, register.meter_id, register.name))
        self.touched = []
        return batch

    def _write(self, batch: _Batch) -> None:
        """In the worker thread (see _Pipeline): the batch's rows, in order."""
        cursor = self.pipeline.driver.cursor()
        try:
            using = (self.pipeline.wrapper, cursor)
            if batch.readings:
                bulk_insert(Reading, READING_FIELDS, batch.readings, using=using)
            if batch.created:
                bulk_insert(MeterRegister, REGISTER_FIELDS, batch.created, using=using)
            if batch.changed or batch.changed_new:
                if self.postgres:
                    self._update_registers_postgres(cursor, batch)
                else:
                    self._update_registers_sqlite(cursor, batch)
        finally:
            cursor.close()

    _REGISTER_SET = (
        "last_value = {0}, last_taken_at = {1}, last_period = {2}, last_real_value = {3}, "
        "last_real_taken_at = {4}, estimated_periods = {5}, estimated_quantity = {6}, "
        "recent = {7}"
    )

    def _update_registers_sqlite(self, cursor, batch: _Batch) -> None:
        """One statement for all the batch's registers, their values as one JSON text (one
        step of the SQLite library, which releases the GIL meanwhile: an executemany would
        take the GIL back after every row, waiting for the thread deciding the next chunk)."""
        table = self.pipeline.wrapper.ops.quote_name(MeterRegister._meta.db_table)
        values = self._REGISTER_SET.format(*(f"v.value ->> {i}" for i in range(8)))
        if batch.changed:
            cursor.execute(
                f"UPDATE {table} AS r SET {values} FROM json_each(?) AS v "  # noqa: S608
                "WHERE r.id = v.value ->> 8",
                [json.dumps(batch.changed)],
            )
        if batch.changed_new:
            cursor.execute(
                f"UPDATE {table} AS r SET {values} FROM json_each(?) AS v "  # noqa: S608
                "WHERE r.meter_id = v.value ->> 8 AND r.register = v.value ->> 9",
                [json.dumps(batch.changed_new)],
            )

    def _update_registers_postgres(self, cursor, batch: _Batch) -> None:
        table = self.pipeline.wrapper.ops.quote_name(MeterRegister._meta.db_table)
        if not self.temp_table:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS metering_import_registers ("
                "last_value numeric(15, 3), last_taken_at timestamptz, "
                "last_period date, last_real_value numeric(15, 3), "
                "last_real_taken_at timestamptz, estimated_periods smallint, "
                "estimated_quantity numeric(15, 3), recent jsonb, id bigint, "
                "meter_id bigint, register varchar(2)) ON COMMIT DROP"
            )
            self.temp_table = True
        values = self._REGISTER_SET.format(
            *(
                f"t.{c}"
                for c in (
                    "last_value",
                    "last_taken_at",
                    "last_period",
                    "last_real_value",
                    "last_real_taken_at",
                    "estimated_periods",
                    "estimated_quantity",
                    "recent",
                )
            )
        )
        cursor.execute("TRUNCATE metering_import_registers")
        rows = [(*row, None, None) for row in batch.changed]
        rows += [(*row[:8], None, *row[8:]) for row in batch.changed_new]
        copy_rows(cursor, "COPY metering_import_registers FROM STDIN", 11, rows)
        if batch.changed:
            cursor.execute(
                f"UPDATE {table} AS r SET {values} "  # noqa: S608
                "FROM metering_import_registers AS t WHERE r.id = t.id AND r.id = ANY(%s)",
                [[row[-1] for row in batch.changed]],  # lets the planner walk the primary key
            )
        if batch.changed_new:
            cursor.execute(
                f"UPDATE {table} AS r SET {values} "  # noqa: S608
                "FROM metering_import_registers AS t WHERE t.id IS NULL "
                "AND r.meter_id = t.meter_id AND r.register = t.register",
            )

    def _write_true_ups(self, true_ups: list[tuple]) -> None:
        """Real readings after estimates: what was estimated against what was used, over the
        estimates' periods (as `services.readings_submit` records them)."""
        ids = dict(
            Reading.objects.filter(public_id__in=[t[0] for t in true_ups]).values_list(
                "public_id", "id"
            )
        )
        meter_ids = list({t[1] for t in true_ups})
        estimates: dict[tuple, list] = {}
        for part in _slices(meter_ids, 500):
            found = Reading.objects.filter(
                meter_id__in=part,
                source=Reading.Source.ESTIMATE,
                status=Reading.Status.ACCEPTED,
            ).values_list("meter_id", "register", "taken_at", "period")
            for meter_id, name, taken_at, period in found:
                estimates.setdefault((meter_id, name), []).append((taken_at, period))
        rows = []
        for public_id, meter_id, name, verdict, when, before in true_ups:
            since = before.last_real_taken_at
            periods = [
                period
                for taken_at, period in estimates.get((meter_id, name), ())
                if taken_at <= when.utc and (since is None or taken_at > since)
            ]
            first, last = (
                (min(periods), max(periods)) if periods else (verdict.period, verdict.period)
            )
            true_up = verdict.true_up
            rows.append(
                (
                    meter_id,
                    name,
                    ids[public_id],
                    first,
                    last,
                    true_up.estimated,
                    true_up.actual,
                    true_up.difference,
                    self.now,
                )
            )
        bulk_insert(EstimateTrueUp, TRUE_UP_FIELDS, rows)

    # -- interval data: continuous night flow -------------------------------------------------

    def _interval(self, meter: _Meter, when: _When) -> None:
        self.interval.add(meter.id)
        span = self.interval_span
        if not span:
            span.extend((when.utc, when.utc))
        elif when.utc < span[0]:
            span[0] = when.utc
        elif when.utc > span[1]:
            span[1] = when.utc

    def _night_flow(self) -> None:
        """Interval data (a water meter read more than once within a day): look for
        continuous flow at night with the services' check, over the meters' readings of the
        file's time span (and the hour before), once they are written."""
        if not self.interval:
            return
        from civicdesk.metering import services

        first, last = self.interval_span
        for part in _slices(sorted(self.interval), 200):
            readings: dict[int, list] = {}
            found = (
                Reading.objects.filter(
                    meter_id__in=part,
                    register="T",
                    taken_at__gte=first - timedelta(hours=1),
                    taken_at__lte=last,
                )
                .exclude(status=Reading.Status.REJECTED)
                .values_list("meter_id", "taken_at", "value")
            )
            for meter_id, taken_at, value in found:
                readings.setdefault(meter_id, []).append((taken_at, value))
            for meter in Meter.objects.filter(pk__in=part):
                services.night_flow_check(meter=meter, readings=readings.get(meter.pk, []))


class _Pipeline:
    """The import's database work in a second thread, in the order it is handed in, on the
    same driver connection and so in the same transaction: while it reads the next chunk's
    meters and writes the last chunk's rows, the first thread parses and decides (the
    database libraries release the GIL while the database works; its statements are a few
    large ones per chunk, so the worker rarely waits to take the GIL back).

    Until a file has a second chunk the work is done in the calling thread (``inline``): a
    small import needs no thread. Nothing else may use the connection while work is under
    way: `settle` waits for it. The first failure is raised (as Django's database error) to
    the caller at its next wait, and stops the work handed in after it."""

    def __init__(self, wrapper):
        wrapper.ensure_connection()
        self.wrapper = wrapper
        self.driver = wrapper.connection
        self.executor: ThreadPoolExecutor | None = None
        self.futures: list[Future] = []
        self.failed = False
        self.failed_lines = (0, 0)
        self.busy = 0.0  # seconds of work done (in either thread)

    def start(self) -> None:
        """From now on, in the worker thread."""
        if self.executor is None:
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="reading-import")

    def submit(self, work: Callable, *args, lines: tuple[int, int] = (0, 0)) -> Future:
        if self.executor is None:
            future: Future = Future()
            try:
                future.set_result(self._run(work, args))
            except Exception as exc:
                future.set_exception(exc)
        else:
            future = self.executor.submit(self._run, work, args)
        future.lines = lines  # type: ignore[attr-defined]
        self.futures.append(future)
        return future

    def _run(self, work: Callable, args: tuple):
        if self.failed:
            raise _Skipped
        started = time.perf_counter()
        try:
            with self.wrapper.wrap_database_errors:
                return work(*args)
        except BaseException:
            self.failed = True
            raise
        finally:
            self.busy += time.perf_counter() - started

    def check(self) -> None:
        """Raise the first failure of the work done so far, if any."""
        futures = self.futures
        while futures and futures[0].done():
            self._result(futures.pop(0))

    def settle(self) -> None:
        """Wait for all the work handed in; raise its first failure."""
        while self.futures:
            self._result(self.futures.pop(0))

    def result(self, future: Future):
        """Wait for ``future`` (and the work handed in before it); raise the first failure."""
        if future in self.futures:
            while self.futures:
                first = self.futures.pop(0)
                self._result(first)
                if first is future:
                    break
        else:  # seen done by `check`
            self._result(future)
        return future.result()

    def _result(self, future: Future) -> None:
        error = future.exception()
        if error is not None and not isinstance(error, _Skipped):
            self.failed_lines = future.lines  # type: ignore[attr-defined]
            raise error

    def close(self) -> None:
        """Stop: wait for the work under way, drop what has not started."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
        self.futures = []


class _Skipped(Exception):
    """Work not done because earlier work failed."""


class _Chunk:
    """A parsed chunk waiting for its meters: its good rows, format errors, the read."""

    __slots__ = ("errors", "lines", "loading", "rows")

    def __init__(self, rows: list, errors: list, loading: Future | None, lines: tuple):
        self.rows = rows
        self.errors = errors
        self.loading = loading
        self.lines = lines


class _Batch:
    """One chunk's rows to write."""

    __slots__ = ("changed", "changed_new", "created", "readings", "true_ups")

    def __init__(self, readings: list[tuple], true_ups: list[tuple]):
        self.readings = readings
        self.true_ups = true_ups
        self.created: list[tuple] = []  # new register rows
        self.changed: list[tuple] = []  # register rows to update, by id
        self.changed_new: list[tuple] = []  # ... made by an earlier batch: by meter, register


class _Prepend:
    """A stream whose first bytes were already read."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self.head = head
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data, self.head = self.head, b""
            if size < 0:
                return data + self.stream.read()
            if len(data) < size:
                data += self.stream.read(size - len(data))
            return data
        return self.stream.read(size)


def _json_appended(text: str, old: tuple, new: tuple) -> str | None:
    """The JSON text of the recent months ``new`` made from ``old``'s text, when ``new`` is
    ``old`` with a later month added (and, at twelve, the oldest dropped), as
    `state.recent_to_json` + json.dumps would write it; None otherwise (then it is dumped)."""
    count = len(old)
    key, use = new[-1]
    if count and key <= old[-1][0]:
        return None
    entry = f'["{key}", "{use}"]'
    if len(new) == count + 1:
        if count == 0:
            return f"[{entry}]" if text == "[]" else None
        if text.endswith("]]"):
            return f"{text[:-1]}, {entry}]"
        return None
    if len(new) == count and new[0] == old[1]:  # twelve months: the oldest went
        cut = text.find("], [")
        if cut < 0 or not text.endswith("]]"):
            return None
        return f"[{text[cut + 3 : -1]}, {entry}]"
    return None


def _naive_utc(value: datetime | None) -> datetime | None:
    """How Django stores an aware datetime on SQLite: naive, in UTC."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None)


def _slices(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sqlite_in_limit(driver) -> int:
    """Values per ``IN`` list on SQLite: below the connection's variable limit."""
    try:
        import sqlite3

        limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except (AttributeError, TypeError):
        limit = 999
    return max(100, min(limit - 10, 30_000))


__all__ = [
    "COLUMNS",
    "FILE_CODES",
    "FileRefused",
    "error_line",
    "error_message",
    "readings_import",
]
