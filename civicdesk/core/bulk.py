"""Set-based inserts for the scale paths: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.

No model instance per row: rows are tuples of Python values in the order of ``fields`` (model
field names; a foreign key by its ``attname``, e.g. ``"account_id"``). Each value is prepared
the way Django would store it, so the rows read back exactly as if the ORM had written them.
Model ``save()`` logic, signals and ``auto_now`` do not run: give every value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models

# Values of these fields are stored differently from their Python form on SQLite (UUIDs as hex,
# dates and times as text, decimals as text); everything else is passed as it is.
_PREPARED = (models.UUIDField, models.DateField, models.DecimalField, models.JSONField)


def bulk_insert(model, fields: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert ``rows`` into ``model``'s table; returns how many. Runs in the caller's
    transaction."""
    meta = model._meta
    columns, preparers = [], []
    for name in fields:
        field = meta.get_field(name) if name in {f.name for f in meta.fields} else None
        if field is None:
            field = next(f for f in meta.fields if f.attname == name)
        columns.append(connection.ops.quote_name(field.column))
        target = field.target_field if field.is_relation else field
        preparers.append(target)
    table = connection.ops.quote_name(meta.db_table)
    names = ", ".join(columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY adapts Python values itself (UUID, date, aware datetime, int, str).
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        convert = [
            (index, _converter(field))
            for index, field in enumerate(preparers)
            if isinstance(field, _PREPARED)  # DateTimeField is a DateField
        ]
        prepared = []
        for row in rows:
            if convert:
                row = list(row)
                for index, to_db in convert:
                    if row[index] is not None:
                        row[index] = to_db(row[index])
            prepared.append(row)
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - names from the model
        cursor.executemany(sql, prepared)
        return len(prepared)


def _converter(field):
    """The value SQLite stores for ``field``: the common types directly (they dominate the
    scale paths), anything else through Django's own preparation."""
    if isinstance(field, models.UUIDField):
        return lambda value: value.hex
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return lambda value: value.isoformat()
    return lambda value: field.get_db_prep_value(value, connection)
