"""Benchmark: importing 1,000,000 meter readings with validation, from a CSV file on disk.

    .venv/bin/python bench/bench_reading_import.py [--readings 1000000] [--profile]
    .venv/bin/python bench/bench_reading_import.py --postgres   # or DATABASE_URL=postgres://...

The file is a month's round as a meter-reading contractor or an AMR head-end exports it: one
reading per register of every meter, in route (serial) order: half of the readings are from
water meters (cold and hot, one register each), half from day/night electricity meters
(registers T1 and T2, one row each), i.e. 1,000,000 readings are 500,000 water meters and
250,000 electricity meters. Every register has last month's reading and six months of use
on record, so each reading is really validated: against the previous reading (lower than
before, roll-over), the trailing average (spikes), digits, dates. About 1% of the readings are
lower than the previous one (rejected), 0.5% spikes (flagged), the rest accepted.

The set-up (meters, register states and last month's readings) is written with
`core.bulk.bulk_insert` and not timed. Timed: `metering.importing.readings_import` from the
file on disk to the readings committed (parse, look up, validate, insert the readings, update
the registers). The import reads and writes in a second thread while it parses and decides
(see docs/reading-import.md), so the phases printed are the first thread's; the second
thread's busy time is printed beside them. Then the raw insert floor is measured in the same
run: as many narrow rows as the import wrote (readings + register updates) into a plain table,
executemany (SQLite) or COPY (PostgreSQL). Prints readings/s and the ratio to the floor, and
checks the counts.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from _support import raw_floor, scratch_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MONTHS = 6  # months of use on record per register


def months_back(day: date, count: int) -> list[str]:
    out, year, month = [], day.year, day.month
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        out.append(f"{year:04d}-{month:02d}")
    return list(reversed(out))


def set_up(readings: int, work: Path, chunk: int = 50_000) -> tuple[Path, dict]:
    """Meters, registers with state and last month's readings; the file to import."""
    from django.db import transaction
    from django.utils import timezone

    from civicdesk.core.bulk import bulk_insert
    from civicdesk.metering.models import Meter, MeterRegister, Reading
    from civicdesk.registry.models import Building, Operator, Territory

    Operator.objects.create(
        name="Bench Metro",
        jurisdiction="ZA",
        currency="ZAR",
        timezone="Africa/Johannesburg",
        enabled_languages=["en"],
    )
    territory = Territory.objects.create(code="metro", name="Metro", kind="district")
    buildings = Building.objects.bulk_create(
        [
            Building(
                code=f"b{n}",
                address=f"{n} Long Street",
                territory=territory,
                total_area=Decimal("3000"),
                heated_area=Decimal("2800"),
                management_form="municipal",
            )
            for n in range(1000)
        ]
    )
    now = timezone.now()
    today = now.date()
    this_month = today.replace(day=1)
    previous_day = (this_month - timedelta(days=1)).replace(day=12)  # last month's round
    previous_at = datetime.combine(previous_day, datetime.min.time(), tzinfo=UTC)
    recent_months = months_back(this_month, MONTHS)
    # This month's round: the 1st to the 10th, never in the future.
    round_days = [this_month + timedelta(days=d) for d in range(min(10, max(1, today.day)))]

    water = readings // 2  # cold and hot, one register each
    electricity = (readings - water) // 2  # day/night: two registers
    meters = water + electricity
    rng = random.Random(2026)
    path = work / "readings.csv"
    stats = {"meters": meters, "readings": water + 2 * electricity, "lower": 0, "spike": 0}
    meter_rows, register_rows, reading_rows = [], [], []
    handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    handle.write("serial,register,value,taken_at\n")

    def flush():
        with transaction.atomic():
            bulk_insert(Meter, METER_FIELDS, meter_rows)
        meter_rows.clear()

    next_id = 1
    for n in range(meters):
        is_water = n < water
        serial = f"{'W' if is_water else 'E'}{n:08d}"
        resource = ("cold_water" if n % 2 == 0 else "hot_water") if is_water else "electricity"
        meter_rows.append(
            (
                uuid.uuid4(),
                serial,
                resource,
                "single" if is_water else "day_night",
                6,
                Decimal("1"),
                "m3" if is_water else "kWh",
                date(2015, 1, 1),
                "active",
                buildings[n % len(buildings)].pk,
                "",
                now,
                now,
            )
        )
        registers = ("T",) if is_water else ("T1", "T2")
        day = round_days[n % len(round_days)]
        for register in registers:
            use = Decimal(rng.randrange(5_000, 15_000 if is_water else 300_000)) / 1000
            previous = Decimal(rng.randrange(100_000, 500_000))
            register_rows.append(
                (
                    next_id,
                    register,
                    previous,
                    previous_at,
                    previous_day.replace(day=1),
                    previous,
                    previous_at,
                    0,
                    Decimal("0"),
                    [[month, str(use)] for month in recent_months],
                )
            )
            reading_rows.append(
                (
                    uuid.uuid4(),
                    next_id,
                    register,
                    previous,
                    previous_at,
                    previous_day.replace(day=1),
                    use,
                    False,
                    "import",
                    "accepted",
                    "",
                    None,
                    "",
                    now,
                )
            )
            draw = rng.random()
            if draw < 0.01:
                value = previous - Decimal(rng.randrange(1, 100))
                stats["lower"] += 1
            elif draw < 0.015:
                value = previous + use * 10
                stats["spike"] += 1
            else:
                value = previous + use * Decimal(rng.randrange(80, 120)) / 100
            handle.write(f"{serial},{register},{value:.3f},{day.isoformat()}\n")
        next_id += 1
        if len(meter_rows) >= chunk:
            flush()
    if meter_rows:
        flush()
    handle.close()
    from civicdesk.metering.importing import READING_FIELDS

    with transaction.atomic():
        if os.environ["DATABASE_URL"].startswith("postgres"):
            from psycopg.types.json import Jsonb

            register_rows = [(*row[:-1], Jsonb(row[-1])) for row in register_rows]
        bulk_insert(MeterRegister, ("meter_id", *REGISTER_STATE), register_rows)
        bulk_insert(Reading, READING_FIELDS, reading_rows)
    return path, stats


METER_FIELDS = (
    "public_id",
    "serial",
    "resource",
    "rates",
    "digits",
    "multiplier",
    "unit",
    "installed_on",
    "status",
    "building_id",
    "seal_number",
    "created_at",
    "updated_at",
)
REGISTER_STATE = (
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


def run(args, postgres: bool, work: Path) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from civicdesk.metering.importing import readings_import
    from civicdesk.metering.models import Reading

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    path, stats = set_up(args.readings, work)
    setup_seconds = time.perf_counter() - started
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    before = Reading.objects.count()

    def import_once():
        with open(path, "rb") as handle:
            began = time.perf_counter()
            record = readings_import(
                stream=handle, file_name=path.name, dry_run=False, chunk_rows=args.chunk
            )
            return record, time.perf_counter() - began

    if args.profile:
        import cProfile
        import pstats

        with cProfile.Profile() as profiler:
            record, seconds = import_once()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    else:
        record, seconds = import_once()
    n = stats["readings"]
    assert record.status == "done", (record.status, record.errors[:5])
    assert record.rows_read == n, (record.rows_read, n)
    assert record.error_count == 0, record.errors[:5]
    assert record.rejected == stats["lower"], (record.rejected, stats["lower"])
    assert record.flagged == stats["spike"], (record.flagged, stats["spike"])
    assert Reading.objects.count() - before == n
    written = n + record.accepted  # readings + register rows updated
    floor = raw_floor(written, postgres)
    size = path.stat().st_size / 1e6
    engine = "PostgreSQL (COPY)" if postgres else "SQLite WAL (multi-row INSERT)"
    print(f"reading import on {engine}: {n:,} readings of {stats['meters']:,} meters")
    print(f"  set-up (not timed): {setup_seconds:.1f} s; file {size:.0f} MB")
    print(
        f"  import:    {seconds:7.1f} s  {n / seconds:9,.0f} readings/s  "
        f"(accepted {record.accepted:,}, flagged {record.flagged:,}, "
        f"rejected {record.rejected:,})"
    )
    phases = dict(record.timings)
    # Work the second thread did meanwhile (reads of the next chunk, writes of the last one).
    alongside = phases.pop("database, alongside", 0.0)
    phases["read and parse"] = seconds - sum(phases.values())
    print("  phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))
    print(f"  database work alongside, in the second thread: {alongside:.1f} s")
    print(f"  raw floor: {floor:7.1f} s  for {written:,} rows ({written / floor:,.0f} rows/s)")
    print(f"  ratio to the floor: {seconds / floor:.2f}x")
    target = 50_000
    verdict = "meets" if n / seconds >= target else "MISSES"
    print(f"  {verdict} the target of {target:,} readings/s")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"  machine: {os.cpu_count()} CPUs, load average {load} (after the run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=25_000, help="rows per chunk")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="run on PostgreSQL (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/)",
    )
    parser.add_argument("--profile", action="store_true", help="profile the import (cProfile)")
    args = parser.parse_args()
    if args.postgres and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/civicdesk_bench"
    # As in production: no query log (DEBUG would record every statement's parameters).
    os.environ.setdefault("DEBUG", "false")
    with scratch_database("readings") as (postgres, work):
        run(args, postgres, work)


if __name__ == "__main__":
    main()
