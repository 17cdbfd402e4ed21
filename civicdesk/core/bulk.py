"""Set-based inserts for the scale paths: ``COPY`` on PostgreSQL, multi-row ``INSERT`` on SQLite.

No model instance per row: rows are tuples of Python values in the order of ``fields`` (model
field names; a foreign key by its ``attname``, e.g. ``"account_id"``). Each value is prepared
the way Django would store it, so the rows read back exactly as if the ORM had written them.
Model ``save()`` logic, signals and ``auto_now`` do not run: give every value.

SQLite: the rows go in ``INSERT ... VALUES (...), (...), ...`` statements of up to
SQLITE_ROWS rows (within the connection's variable limit), about twice as fast as
``executemany``, which pays a statement reset and a release of the GIL per row. The values
are prepared a column at a time, with shortcuts for the common types (UUID, date, aware
datetime, Decimal, each exactly what Django's own preparation gives) and Django's preparation
for anything else.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connections, models

SQLITE_ROWS = 2500  # rows per INSERT statement on SQLite (fewer when the columns are many)


class JsonText(str):
    """A JSONField value already encoded as JSON text, written as it is (no second encoding):
    for rows whose JSON repeats, encoded once and shared."""

    __slots__ = ()


class Values:
    """Values as the database stores them, for ``bulk_insert(..., prepared=True)``: a scale
    path that writes the same few values many times converts each once (``Values`` of the
    connection the rows go to: the thread's own)."""

    def __init__(self, connection=None):
        connection = connection if connection is not None else connections[DEFAULT_DB_ALIAS]
        self.sqlite = connection.vendor == "sqlite"
        self._datetime = connection.ops.adapt_datetimefield_value

    def uuid(self, value: UUID) -> str:
        return value.hex if self.sqlite else str(value)

    def datetime(self, value: datetime) -> str:
        """An aware datetime: naive UTC text on SQLite (as Django stores it), ISO with the
        offset for COPY."""
        return self._datetime(value) if self.sqlite else value.isoformat()

    @staticmethod
    def date(value: date) -> str:
        return value.isoformat()

    @staticmethod
    def decimal(value: Decimal | None) -> str | None:
        return None if value is None else str(value)


def bulk_insert(
    model, fields: Sequence[str], rows: Iterable[Sequence], *, using=None, prepared=False
) -> int:
    """Insert ``rows`` into ``model``'s table; returns how many. Runs in the caller's
    transaction.

    ``prepared``: the rows hold only str, int, None (and JsonText) values already as the
    database stores them (see :class:`Values`): nothing is converted.

    ``using``: ``(connection, driver_cursor)`` to run on a cursor of the Django connection's
    own driver connection instead of the default connection's (for a worker thread that
    shares the caller's connection and transaction: Django's connection objects belong to
    the thread that made them). Errors come out as Django's database errors either way."""
    # The connection itself: `django.db.connection` is a proxy that looks the connection up
    # again on every attribute, and the value preparation below uses it per value.
    connection, driver_cursor = (
        using
        if using is not None
        else (
            connections[DEFAULT_DB_ALIAS],
            None,
        )
    )
    meta = model._meta
    names = {f.name for f in meta.fields}
    columns, targets = [], []
    for name in fields:
        field = meta.get_field(name) if name in names else None
        if field is None:
            field = next(f for f in meta.fields if f.attname == name)
        columns.append(connection.ops.quote_name(field.column))
        targets.append(field.target_field if field.is_relation else field)
    table = connection.ops.quote_name(meta.db_table)
    column_list = ", ".join(columns)
    width = len(targets)
    if prepared:
        targets = []  # nothing to convert
    if driver_cursor is not None:
        with connection.wrap_database_errors:
            return _insert(connection, driver_cursor, table, column_list, targets, rows, width)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return _insert(connection, cursor, table, column_list, targets, rows, width)
        # The driver's own execute, with "?" marks: Django's would rewrite every "%s" of a
        # statement of thousands with a regular expression, on every call.
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:
            return _insert(connection, cursor.cursor, table, column_list, targets, rows, width)


def _insert(connection, cursor, table: str, column_list: str, targets, rows, width: int) -> int:
    if connection.vendor == "postgresql":
        return _copy(cursor, table, column_list, width, rows)
    return _sqlite_insert(connection, cursor, table, column_list, targets, rows, width)


def _copy(cursor, table: str, column_list: str, width: int, rows) -> int:
    return copy_rows(cursor, f"COPY {table} ({column_list}) FROM STDIN", width, rows)


def copy_rows(cursor, statement: str, width: int, rows: Iterable[Sequence]) -> int:
    """PostgreSQL: run ``statement`` (a ``COPY ... FROM STDIN``) on a psycopg cursor with
    ``rows`` of ``width`` values, in text format. The common values (str, int, bool, Decimal,
    UUID, date, aware datetime, None) are written as the text psycopg's dumpers would make of
    them, a block of rows at a time (three to four times faster than its write_row); a row
    with any other value (or a number that is not finite, a naive datetime, text with a tab,
    a line end or a backslash) goes through write_row. Returns how many rows."""
    count = 0
    with cursor.copy(statement) as copy:
        lines: list[str] = []
        text = _COPY_TEXT
        for row in rows:
            if len(row) != width:
                raise ValueError(f"a row of {len(row)} values for {width} fields: {row!r}")
            try:
                lines.append("\t".join([text[type(value)](value) for value in row]))
            except (KeyError, _NotPlain):
                if lines:
                    copy.write("\n".join(lines) + "\n")
                    lines = []
                copy.write_row(row)
            count += 1
            if len(lines) >= 2000:
                copy.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            copy.write("\n".join(lines) + "\n")
    return count


class _NotPlain(Exception):
    """A value the fast COPY text does not write (write_row does)."""


_COPY_SPECIAL = re.compile(r"[\\\t\n\r\x00]")


def _copy_str(value: str) -> str:
    if _COPY_SPECIAL.search(value):
        raise _NotPlain
    return value


def _copy_decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise _NotPlain
    return str(value)


def _copy_datetime(value: datetime) -> str:
    if value.utcoffset() is None:
        raise _NotPlain  # naive: as psycopg's dumper says it
    return value.isoformat()


def _copy_bool(value: bool) -> str:
    return "t" if value else "f"


_COPY_TEXT: dict[type, Callable] = {
    str: _copy_str,
    JsonText: _copy_str,
    int: str,
    bool: _copy_bool,
    Decimal: _copy_decimal,
    UUID: str,
    date: date.isoformat,
    datetime: _copy_datetime,
    type(None): lambda value: "\\N",
}


def _sqlite_insert(
    connection, cursor, table: str, column_list: str, targets, rows, width: int
) -> int:
    import sqlite3

    execute = sqlite3.Cursor.execute
    converters = [
        (index, _converter(field, connection))
        for index, field in enumerate(targets)
        if isinstance(field, _PREPARED)
    ]
    limit = _variable_limit(connection)
    per = max(1, min(SQLITE_ROWS, limit // max(1, width)))
    one = "(" + ", ".join(["?"] * width) + ")"
    statements: dict[int, str] = {}
    count = 0
    iterator = iter(rows)
    while True:
        block = list(itertools.islice(iterator, per))
        if not block:
            return count
        params: list = []
        extend = params.extend
        for row in block:
            extend(row)
        if len(params) != len(block) * width:
            bad = next(row for row in block if len(row) != width)
            raise ValueError(f"a row of {len(bad)} values for {width} fields: {bad!r}")
        for index, convert in converters:
            column = params[index::width]
            params[index::width] = [None if v is None else convert(v) for v in column]
        sql = statements.get(len(block))
        if sql is None:
            sql = statements[len(block)] = (
                f"INSERT INTO {table} ({column_list}) "  # noqa: S608 - names from the model
                f"VALUES {', '.join([one] * len(block))}"
            )
        execute(cursor, sql, params)
        count += len(block)


def _variable_limit(connection) -> int:
    """Bound values per statement: the SQLite library's limit (32766 since 3.32), not the 999
    Django assumes for every version."""
    try:
        import sqlite3

        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except (AttributeError, TypeError):
        return connection.features.max_query_params or 999


# Values of these fields are stored differently from their Python form on SQLite (UUIDs as hex,
# dates and times as text, decimals as text); everything else is passed as it is.
_PREPARED = (models.UUIDField, models.DateField, models.DecimalField, models.JSONField)
_CACHED = 10_000  # distinct dates and times remembered per column and call


def _converter(field, connection) -> Callable:
    """The value SQLite stores for ``field``: the common types directly (they dominate the
    scale paths), anything else through Django's own preparation."""

    def django(value):
        return field.get_db_prep_value(value, connection)

    if isinstance(field, models.UUIDField):
        return lambda value: value.hex if type(value) is UUID else django(value)
    if isinstance(field, models.DateTimeField):
        # Aware → naive UTC text (Django's adapt_datetimefield_value); a round's readings
        # share few distinct times, so each is prepared once.
        adapt = connection.ops.adapt_datetimefield_value
        return _cached(lambda value: adapt(value) if type(value) is datetime else django(value))
    if isinstance(field, models.DateField):
        # What DateField.get_db_prep_value gives for a date: its ISO text.
        return _cached(lambda value: value.isoformat() if type(value) is date else django(value))
    if isinstance(field, models.JSONField):
        return lambda value: str(value) if type(value) is JsonText else django(value)
    if isinstance(field, models.DecimalField):
        # DecimalField.get_db_prep_value refuses a NaN or an infinity and hands SQLite the
        # Decimal, which the driver stores as str(value).
        def decimal(value):
            if type(value) is Decimal and value.is_finite():
                return str(value)
            return django(value)

        return decimal
    return django


def _cached(convert: Callable) -> Callable:
    seen: dict = {}

    def cached(value):
        if getattr(value, "fold", 0):
            # Equal to the same wall time with fold 0 (comparison ignores it): not cached.
            return convert(value)
        found = seen.get(value)
        if found is None:
            found = convert(value)
            if len(seen) < _CACHED:
                seen[value] = found
        return found

    return cached
