"""Benchmark: importing a bank statement of N lines (CSV).

    .venv/bin/python bench/bench_bank_statement.py [--lines 20000] [--accounts 2000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/civicdesk .venv/bin/python bench/...

Builds a fresh database (an SQLite file in a temporary directory, or a new PostgreSQL database
next to the one DATABASE_URL names, dropped afterwards) with N accounts that each owe a bill,
writes a CSV statement whose lines are 75% payments naming an account number (posted and
allocated), 15% payments nobody can place (suspense) and 10% money out (ignored), imports it
with the same service the back office and `manage.py import_bank_statement` use, and checks
the ledger: bank clearing = the credits, suspense = the unmatched ones. Then measures the raw
insert floor on the same database for as many rows as the import wrote (lines, transactions,
postings, allocations) and prints lines/s and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from _support import raw_floor, scratch_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAPPING = {
    "columns": {
        "date": "Date",
        "amount": "Amount",
        "reference": "Description",
        "counterparty": "Payer",
        "bank_ref": "Transaction ID",
    },
    "default_currency": "ZAR",
    "statement_id": "bench",
}


def make_accounts(count: int):
    """`count` accounts (bulk-created), each owing a bill of 100.00-900.00."""
    from civicdesk.ledger.services import ChargeLine, charge_post
    from civicdesk.registry.models import Building, PersonalAccount, Premises, Territory
    from civicdesk.registry.services import account_numbers_allocate

    territory = Territory.objects.create(code="metro", name="Metro", kind="district")
    building = Building.objects.create(
        code="b1",
        address="1 Long Street",
        territory=territory,
        total_area=1000,
        heated_area=900,
        management_form="municipal",
    )
    premises = Premises.objects.bulk_create(
        [
            Premises(building=building, number=str(i + 1), total_area=60, heated_area=55)
            for i in range(count)
        ]
    )
    numbers = account_numbers_allocate(count)
    accounts = PersonalAccount.objects.bulk_create(
        [
            PersonalAccount(number=number, premises=p, opened_on=date(2020, 1, 1))
            for number, p in zip(numbers, premises, strict=True)
        ]
    )
    rng = random.Random(7)
    for account in accounts:
        charge_post(
            account=account,
            lines=[ChargeLine(rng.randrange(10_000, 90_000))],
            currency="ZAR",
            value_date=date(2026, 2, 1),
            reference=f"INV-{account.number}",
        )
    return accounts


def statement_csv(lines: int, numbers: list[str]) -> tuple[bytes, int, int]:
    """The CSV, the credits' total and the unmatched credits' total (minor units)."""
    rng = random.Random(11)
    rows = ["Date,Amount,Description,Payer,Transaction ID"]
    credits = suspense = 0
    day = date(2026, 3, 1)
    for i in range(lines):
        booked = day + timedelta(days=i % 28)
        minor = rng.randrange(1_000, 120_000)
        kind = rng.random()
        if kind < 0.75:
            text = f"Rates acc {rng.choice(numbers)}"
            credits += minor
        elif kind < 0.90:
            text = f"payment {rng.randrange(1000)}"
            credits += minor
            suspense += minor
        else:
            text = "Bank charges"
            minor = -minor
        amount = (
            f"{minor // 100}.{abs(minor) % 100:02d}"
            if minor > 0
            else f"-{-minor // 100}.{-minor % 100:02d}"
        )
        rows.append(f"{booked.isoformat()},{amount},{text},Payer {i},TX{i:08d}")
    return ("\n".join(rows) + "\n").encode(), credits, suspense


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--profile", action="store_true", help="profile the import (cProfile)")
    args = parser.parse_args()

    with scratch_database("bank") as (postgres, _work):
        run(args, postgres)


def run(args, postgres: bool) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from civicdesk.ledger import banking, banking_selectors, selectors, services
    from civicdesk.ledger.models import (
        Allocation,
        BankFormat,
        BankLine,
        LedgerAccount,
        Posting,
        Transaction,
    )
    from civicdesk.registry.models import Operator

    call_command("migrate", verbosity=0)
    Operator.objects.create(
        name="Bench Metro",
        jurisdiction="ZA",
        currency="ZAR",
        timezone="Africa/Johannesburg",
        enabled_languages=["en"],
    )
    started = time.perf_counter()
    accounts = make_accounts(args.accounts)
    setup = time.perf_counter() - started
    data, credits, suspense = statement_csv(args.lines, [a.number for a in accounts])
    fmt = BankFormat.objects.create(
        code="bench", name="Bench bank", kind=BankFormat.Kind.CSV, mapping=MAPPING
    )
    counts = [m.objects.count() for m in (Transaction, Posting, Allocation)]

    def import_once():
        began = time.perf_counter()
        statement = banking.statement_import(
            bank_format=fmt, data=data, file_name="bench.csv", actor=None
        )
        return statement, time.perf_counter() - began

    if args.profile:
        import cProfile
        import pstats

        with cProfile.Profile() as profiler:
            statement, seconds = import_once()
        pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "tottime")).print_stats(40)
    else:
        statement, seconds = import_once()

    summary = banking_selectors.statement_summary(statement)
    bank = services.system_account(LedgerAccount.Kind.BANK_CLEARING, "ZAR", key=fmt.code)
    suspense_account = services.system_account(LedgerAccount.Kind.SUSPENSE, "ZAR")
    assert summary.lines == args.lines
    assert selectors.balance(bank.code) == credits, "bank clearing is not the sum of credits"
    assert selectors.balance(suspense_account.code) == -suspense, "suspense is not the unmatched"
    written = BankLine.objects.count() + sum(
        m.objects.count() - before
        for m, before in zip((Transaction, Posting, Allocation), counts, strict=True)
    )
    floor = raw_floor(written, postgres)

    engine = "PostgreSQL" if postgres else "SQLite (WAL)"
    print(
        f"bank statement import on {engine}: {args.lines:,} CSV lines, {args.accounts:,} accounts"
    )
    print(f"  set-up (accounts with a bill each): {setup:.1f} s")
    print(
        f"  {summary.matched:,} matched and allocated, {summary.suspense:,} to suspense, "
        f"{summary.ignored:,} ignored; {written:,} rows written"
    )
    print(f"  import:    {seconds:7.2f} s  {args.lines / seconds:9,.0f} lines/s")
    print(f"  raw floor: {floor:7.2f} s  for {written:,} rows ({written / floor:,.0f} rows/s)")
    print(f"  ratio to floor: {seconds / floor:.1f}x")


if __name__ == "__main__":
    main()
