"""Shared by the benchmarks (each run as `python bench/<name>.py`)."""

from __future__ import annotations

import os
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
