"""Benchmark: the monthly billing run, from readings in the database to invoices, lines and
ledger postings committed.

    .venv/bin/python bench/bench_billing_run.py [--accounts 1000000] [--profile]
    .venv/bin/python bench/bench_billing_run.py --postgres   # or DATABASE_URL=postgres://...

Every account has five services: electricity and cold water metered with inclining blocks
(VAT on top), maintenance per m², a fixed refuse charge, and heating by Decree 354 formula 2
(area × norm × tariff); two providers. The period's readings (one per metered service) are in
the database, the accounts' ledger accounts exist (as after their first bill). Set-up is not
timed. Timed: `billing_run_start` + `billing_run_execute` (the command's in-process path), then
a second run of the same period with nothing changed (it must write nothing). Then the raw
insert floor is measured in the same process: as many narrow rows as the first run wrote
(invoices, lines, ledger transactions and postings), with executemany (SQLite) or COPY
(PostgreSQL). Prints accounts/s, the ratio to the floor, and checks the totals.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from _support import raw_floor, scratch_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PERIOD = date(2025, 8, 1)
TARIFFS = """
code: bench-electricity
service: electricity
unit: kWh
currency: ZAR
valid_from: 2025-07-01
tax: {name: VAT, rate: "0.15", prices_include_tax: false}
charges:
  - kind: block
    blocks:
      - {up_to: 100, price: "2.50"}
      - {up_to: 400, price: "3.00"}
      - {up_to: 650, price: "3.40"}
      - {up_to: null, price: "3.90"}
---
code: bench-water
service: cold_water
unit: kl
currency: ZAR
valid_from: 2025-07-01
tax: {name: VAT, rate: "0.15", prices_include_tax: false}
charges:
  - kind: block
    blocks:
      - {up_to: 6, price: "20.00"}
      - {up_to: 15, price: "30.00"}
      - {up_to: null, price: "45.00"}
---
code: bench-maintenance
service: maintenance
unit: m2
currency: ZAR
valid_from: 2025-07-01
charges:
  - kind: per_m2
    rate: "12.50"
---
code: bench-refuse
service: solid_waste
unit: month
currency: ZAR
valid_from: 2025-07-01
charges:
  - kind: fixed
    amount: "185.00"
---
code: bench-heating
service: heating
unit: Gcal
currency: ZAR
valid_from: 2025-07-01
charges:
  - kind: heating_ru_f2
    norm: "0.0220"
    price: "310.00"
"""
SERVICES = (
    ("electricity", "power", "bench-electricity"),
    ("cold_water", "utility", "bench-water"),
    ("maintenance", "utility", "bench-maintenance"),
    ("solid_waste", "utility", "bench-refuse"),
    ("heating", "power", "bench-heating"),
)


def set_up(count: int, chunk: int = 50_000) -> None:
    from django.db import transaction
    from django.utils import timezone

    from civicdesk.core.bulk import bulk_insert
    from civicdesk.ledger.services import receivables_ensure
    from civicdesk.metering.models import READING_BULK_FIELDS, Meter, Reading
    from civicdesk.registry.models import (
        AccountService,
        Building,
        Operator,
        PersonalAccount,
        Premises,
        Provider,
        Territory,
    )
    from civicdesk.tariffs.services import tariffs_load

    Operator.objects.create(
        name="Bench Metro",
        jurisdiction="ZA",
        currency="ZAR",
        timezone="Africa/Johannesburg",
        enabled_languages=["en"],
    )
    tariffs_load(TARIFFS)
    providers = {
        "power": Provider.objects.create(code="power", name="City Power").pk,
        "utility": Provider.objects.create(code="utility", name="Water and Sanitation").pk,
    }
    territory = Territory.objects.create(code="metro", name="Metro", kind="district")
    buildings = Building.objects.bulk_create(
        [
            Building(
                code=f"b{n}",
                address=f"{n} Long Street",
                territory=territory,
                total_area=Decimal("6000"),
                heated_area=Decimal("5600"),
                management_form="municipal",
            )
            for n in range(1000)
        ]
    )
    now = timezone.now()
    taken = datetime(2025, 8, 20, tzinfo=UTC)
    rng = random.Random(2025)
    areas = [Decimal(a) / 10 for a in range(300, 1500, 5)]
    for start in range(0, count, chunk):
        n_rows = range(start, min(count, start + chunk))
        with transaction.atomic():
            bulk_insert(
                Premises,
                [
                    "id",
                    "building_id",
                    "number",
                    "kind",
                    "total_area",
                    "heated_area",
                    "rooms",
                    "occupants",
                    "ownership_share",
                    "created_at",
                    "updated_at",
                ],
                [
                    (
                        n + 1,
                        buildings[n % 1000].pk,
                        str(n),
                        "residential",
                        (area := areas[n % len(areas)]),
                        area,
                        2,
                        2,
                        Decimal(1),
                        now,
                        now,
                    )
                    for n in n_rows
                ],
            )
            bulk_insert(
                PersonalAccount,
                [
                    "id",
                    "number",
                    "premises_id",
                    "status",
                    "opened_on",
                    "delivery_preference",
                    "created_at",
                    "updated_at",
                ],
                [
                    (n + 1, f"{n:010d}", n + 1, "open", date(2020, 1, 1), "portal", now, now)
                    for n in n_rows
                ],
            )
            bulk_insert(
                AccountService,
                [
                    "account_id",
                    "service_type",
                    "provider_id",
                    "tariff_code",
                    "starts_on",
                    "created_at",
                    "updated_at",
                ],
                [
                    (n + 1, service, providers[provider], code, date(2020, 1, 1), now, now)
                    for n in n_rows
                    for service, provider, code in SERVICES
                ],
            )
            bulk_insert(
                Meter,
                [
                    "id",
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
                    "premises_id",
                    "account_id",
                    "seal_number",
                    "created_at",
                    "updated_at",
                ],
                [
                    (
                        2 * n + k + 1,
                        uuid.uuid4(),
                        f"{'EW'[k]}{n:09d}",
                        ("electricity", "cold_water")[k],
                        "single",
                        6,
                        Decimal(1),
                        ("kWh", "kl")[k],
                        date(2020, 1, 1),
                        "active",
                        buildings[n % 1000].pk,
                        n + 1,
                        n + 1,
                        "",
                        now,
                        now,
                    )
                    for n in n_rows
                    for k in (0, 1)
                ],
            )
            bulk_insert(
                Reading,
                READING_BULK_FIELDS,
                [
                    (
                        uuid.uuid4(),
                        2 * n + k + 1,
                        "T",
                        Decimal(10_000),
                        taken,
                        PERIOD,
                        Decimal(rng.randrange(50, 900) if k == 0 else rng.randrange(2, 30)),
                        False,
                        "import",
                        "accepted",
                        "",
                        None,
                        "",
                        now,
                    )
                    for n in n_rows
                    for k in (0, 1)
                ],
            )
            receivables_ensure({n + 1: f"{n:010d}" for n in n_rows})


def run(args, postgres: bool) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count, Sum

    from civicdesk.billing.models import Invoice, InvoiceLine
    from civicdesk.billing.runs import billing_run_execute, billing_run_start
    from civicdesk.ledger.models import Posting, Transaction

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    set_up(args.accounts)
    setup_seconds = time.perf_counter() - started
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    phases: dict[str, float] = {}

    def bill(timings=None):
        began = time.perf_counter()
        result = billing_run_execute(
            billing_run_start(period=PERIOD, chunk_size=args.chunk), timings=timings
        )
        return result, time.perf_counter() - began

    if args.profile:
        import cProfile
        import pstats

        with cProfile.Profile() as profiler:
            first, seconds = bill(phases)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
    else:
        first, seconds = bill(phases)
    rerun_phases: dict[str, float] = {}
    second, again = bill(rerun_phases)
    n = args.accounts
    invoices = Invoice.objects.count()
    lines = InvoiceLine.objects.count()
    transactions = Transaction.objects.count()
    postings = Posting.objects.count()
    assert first.status == "done" and first.invoices_new == n, (first.status, first.invoices_new)
    assert second.invoices_unchanged == n and second.invoices_new == 0, second.invoices_unchanged
    assert invoices == n and lines == 5 * n, (invoices, lines)
    assert Posting.objects.aggregate(total=Sum("amount_minor"))["total"] == 0
    billed = InvoiceLine.objects.aggregate(total=Sum("amount_minor"))["total"]
    assert billed == first.charged_minor, (billed, first.charged_minor)
    per_invoice = Invoice.objects.values("revision").annotate(c=Count("id"))
    assert list(per_invoice) == [{"revision": 0, "c": n}], per_invoice
    written = invoices + lines + transactions + postings
    floor = raw_floor(written, postgres)
    engine = "PostgreSQL (COPY)" if postgres else "SQLite WAL (multi-row INSERT)"
    print(f"billing run on {engine}: {n:,} accounts × 5 services, chunks of {args.chunk:,}")
    print(f"  set-up (not timed): {setup_seconds:.1f} s")
    print(
        f"  first run: {seconds:7.1f} s  {n / seconds:9,.0f} accounts/s  "
        f"(invoices {invoices:,}, lines {lines:,}, transactions {transactions:,}, "
        f"postings {postings:,}; charged {first.charged_minor / 100:,.2f})"
    )
    print("  phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))
    print(
        f"  re-run, nothing changed: {again:7.1f} s  ({again / seconds:.0%} of the first run; "
        f"{second.invoices_unchanged:,} unchanged, 0 written)"
    )
    print("  re-run phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in rerun_phases.items()))
    print(f"  raw floor: {floor:7.1f} s  for {written:,} rows ({written / floor:,.0f} rows/s)")
    print(f"  ratio to the floor: {seconds / floor:.2f}x")
    target = 60.0 * n / 1_000_000
    verdict = "meets" if seconds <= target else "MISSES"
    print(f"  {verdict} the target of {target:.0f} s for {n:,} accounts (60 s per million)")
    verdict = "meets" if again <= 0.2 * seconds else "MISSES"
    print(f"  {verdict} the re-run target of 20% of the first run")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"  machine: {os.cpu_count()} CPUs, load average {load} (after the run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10_000, help="accounts per chunk")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="run on PostgreSQL (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/)",
    )
    parser.add_argument("--profile", action="store_true", help="profile the first run")
    args = parser.parse_args()
    if args.postgres and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/civicdesk_bench"
    os.environ.setdefault("DEBUG", "false")
    with scratch_database("billing") as (postgres, _work):
        run(args, postgres)


if __name__ == "__main__":
    main()
