"""Benchmark: the registry import of N accounts with their premises and holders.

    .venv/bin/python bench/bench_registry_import.py [--accounts 100000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/civicdesk .venv/bin/python bench/...

Generates CSV files (one district, a building per 50 premises, one premises, account and holder
per account), imports them into a fresh database (an SQLite file in a temporary directory, or a
new PostgreSQL database next to the one DATABASE_URL names, dropped afterwards), then imports
them again (nothing to write), and measures the raw floor on the same database: as many rows
as the import wrote, inserted into a plain table with executemany (SQLite) or COPY
(PostgreSQL). Prints accounts/s and the ratio of the import's time to the floor's.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _support import postgres_scratch_database, raw_floor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PREMISES_PER_BUILDING = 50
AREAS = ("60.50", "55.00", "2", "2")  # total and heated area, rooms, occupants


def write_files(directory: Path, accounts: int, fmt) -> list[Path]:
    from civicdesk.core.identifiers import account_number_make

    def table(name: str, header: list[str], rows) -> Path:
        path = directory / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        return path

    buildings = (accounts + PREMISES_PER_BUILDING - 1) // PREMISES_PER_BUILDING
    files = [
        table("territories", ["code", "name", "kind"], [["metro", "Metro", "district"]]),
        table(
            "buildings",
            ["code", "address", "territory_code", "total_area", "heated_area", "management_form"],
            (
                [f"b{b}", f"{b} Long Street", "metro", "3025.00", "2750.00", "municipal"]
                for b in range(buildings)
            ),
        ),
        table(
            "premises",
            ["building_code", "number", "total_area", "heated_area", "rooms", "occupants"],
            (
                [f"b{i // PREMISES_PER_BUILDING}", str(i % PREMISES_PER_BUILDING + 1), *AREAS]
                for i in range(accounts)
            ),
        ),
        table(
            "accounts",
            ["account_number", "building_code", "premises_number", "opened_on", "status"],
            (
                [
                    account_number_make(fmt, i + 1),
                    f"b{i // PREMISES_PER_BUILDING}",
                    str(i % PREMISES_PER_BUILDING + 1),
                    "2020-01-01",
                    "open",
                ]
                for i in range(accounts)
            ),
        ),
        table(
            "holders",
            ["account_number", "full_name", "role", "email", "phone"],
            (
                [
                    account_number_make(fmt, i + 1),
                    f"Holder {i}",
                    "owner",
                    f"holder{i}@example.org",
                    f"+2782{i % 10_000_000:07d}",
                ]
                for i in range(accounts)
            ),
        ),
    ]
    return files


def _postgres_database(url: str) -> tuple[str, str, str]:
    return postgres_scratch_database(url, "civicdesk_bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="profile the import (cProfile)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="civicdesk-bench-import-"))
    given = os.environ.get("DATABASE_URL", "")
    postgres = given.startswith(("postgres://", "postgresql://"))
    drop = None
    if postgres:
        os.environ["DATABASE_URL"], admin, name = _postgres_database(given)
        drop = (admin, name)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicdesk.config.settings")
    os.environ.setdefault("CIVICDESK_ENV", "development")
    try:
        run(args, work, postgres)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if drop is not None:
            import psycopg
            from django.db import connections

            connections.close_all()
            with psycopg.connect(drop[0], autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{drop[1]}"')


def run(args, work: Path, postgres: bool) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from civicdesk.registry.importing import ImportSource, registry_import
    from civicdesk.registry.models import Operator, PersonalAccount

    call_command("migrate", verbosity=0)
    operator = Operator.objects.create(
        name="Bench Metro",
        jurisdiction="ZA",
        currency="ZAR",
        timezone="Africa/Johannesburg",
        enabled_languages=["en"],
    )
    n = args.accounts
    started = time.perf_counter()
    paths = write_files(work, n, operator.account_number_format)
    generate = time.perf_counter() - started

    def import_once():
        handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed below
        try:
            sources = [
                ImportSource(name=p.name, stream=h) for p, h in zip(paths, handles, strict=True)
            ]
            began = time.perf_counter()
            report = registry_import(sources)
            return report, time.perf_counter() - began
        finally:
            for h in handles:
                h.close()

    def measured():
        if not args.profile:
            return import_once()
        import cProfile
        import pstats

        with cProfile.Profile() as profiler:
            outcome = import_once()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return outcome

    report, seconds = measured()
    assert report.ok, report.errors[:5]
    assert PersonalAccount.objects.count() == n
    again, seconds_again = measured()
    assert again.ok and again.written == 0 and again.unchanged == report.written
    rows = report.written
    floor = raw_floor(rows, postgres)

    engine = "PostgreSQL" if postgres else "SQLite (WAL)"
    print(f"registry import on {engine}: {n:,} accounts with premises and holders")
    print(f"  files generated in {generate:.1f} s")
    print(
        f"  first import:  {seconds:7.1f} s  {n / seconds:9,.0f} accounts/s  "
        f"({rows:,} records + {rows:,} history rows, {rows / seconds:,.0f} records/s)"
    )
    print(
        f"  second import: {seconds_again:7.1f} s  {n / seconds_again:9,.0f} accounts/s  "
        f"(nothing to write: {again.unchanged:,} unchanged)"
    )
    print(f"  raw floor:     {floor:7.2f} s  for {rows:,} rows ({rows / floor:,.0f} rows/s)")
    print(f"  ratio to floor: {seconds / floor:.1f}x (second import {seconds_again / floor:.1f}x)")


if __name__ == "__main__":
    main()
