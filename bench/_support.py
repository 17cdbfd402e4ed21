"""Shared by the benchmarks (each run as `python bench/<name>.py`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def postgres_scratch_database(url: str, default_name: str) -> tuple[str, str, str]:
    """A new, empty database on the server `url` names: (its URL, admin URL, its name). The
    caller drops it afterwards through the admin URL."""
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.strip('/') or default_name}_{os.getpid()}"
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), admin, name


@contextmanager
def scratch_database(prefix: str):
    """Point Django at a fresh database for one benchmark run and remove it afterwards: a new
    PostgreSQL database beside the one DATABASE_URL names, or else an SQLite file in a
    temporary directory. Yields (is PostgreSQL, the temporary directory)."""
    work = Path(tempfile.mkdtemp(prefix=f"civicdesk-bench-{prefix}-"))
    given = os.environ.get("DATABASE_URL", "")
    postgres = given.startswith(("postgres://", "postgresql://"))
    drop = None
    if postgres:
        os.environ["DATABASE_URL"], admin, name = postgres_scratch_database(
            given, "civicdesk_bench"
        )
        drop = (admin, name)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicdesk.config.settings")
    os.environ.setdefault("CIVICDESK_ENV", "development")
    try:
        yield postgres, work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if drop is not None:
            import psycopg
            from django.db import connections

            connections.close_all()
            with psycopg.connect(drop[0], autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{drop[1]}"')


def raw_floor(rows: int, postgres: bool) -> float:
    """Seconds to insert `rows` narrow rows into a plain table, the fastest way there is."""
    import time

    from django.db import connection, transaction

    data = [(i, f"row {i}", f"value {i}", i % 97, "2020-01-01") for i in range(rows)]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
        cursor.execute(
            "CREATE TABLE bench_floor (id bigint PRIMARY KEY, a varchar(50), b varchar(50), "
            "c integer, d date)"
        )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            with cursor.copy("COPY bench_floor (id, a, b, c, d) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
        else:
            cursor.executemany("INSERT INTO bench_floor VALUES (%s, %s, %s, %s, %s)", data)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_floor")
    return seconds
