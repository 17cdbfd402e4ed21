"""Benchmark: posting 500,000 transactions (1,000,000 postings) to the ledger.

    .venv/bin/python bench/bench_ledger.py [--transactions 500000] [--chunk 50000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/civicdesk .venv/bin/python bench/...

Posts charges (receivable debit, revenue credit) over 10,000 receivables through
`ledger.services.transactions_post_bulk`, which checks every transaction in Python and writes
with COPY (PostgreSQL) or executemany (SQLite), chunk by chunk, each chunk one database
transaction, with the database's guards on (PostgreSQL: append-only and balanced-at-commit
triggers). Then measures the raw floor in the same run: the same number of rows (transactions
+ postings) of the same shape into plain tables with no index, constraint or trigger. Prints
transactions/s, postings/s and the ratio of the ledger's time to the floor's, and checks the
result (every transaction balanced, everything sums to zero).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from _support import scratch_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECEIVABLES = 10_000


def floor_seconds(transactions: int, postgres: bool) -> float:
    """The same rows into plain tables, the fastest way there is."""
    from django.db import connection, transaction
    from django.utils import timezone

    now = timezone.now()
    day = date(2026, 1, 1)
    with connection.cursor() as cursor:
        for table in ("bench_txn", "bench_posting"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        uuid_type = "uuid" if postgres else "char(32)"
        cursor.execute(
            f"CREATE TABLE bench_txn (id {uuid_type}, kind varchar(20), value_date date, "
            "booked_at timestamp, reference varchar(100), description varchar(300), "
            "actor_id bigint, reverses_id uuid, currency varchar(3))"
        )
        cursor.execute(
            f"CREATE TABLE bench_posting (transaction_id {uuid_type}, account_id bigint, "
            "amount_minor bigint, currency varchar(3), service varchar(30), provider_id bigint)"
        )
    started = time.perf_counter()
    ids = [uuid.uuid4() if postgres else uuid.uuid4().hex for _ in range(transactions)]
    txns = [(i, "charge", day, now, f"INV-{n}", "", None, None, "ZAR") for n, i in enumerate(ids)]
    posts = []
    for n, i in enumerate(ids):
        posts.append((i, n % RECEIVABLES, 12345, "ZAR", "", None))
        posts.append((i, RECEIVABLES + 1, -12345, "ZAR", "", None))
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            with cursor.copy("COPY bench_txn FROM STDIN") as copy:
                for row in txns:
                    copy.write_row(row)
            with cursor.copy("COPY bench_posting FROM STDIN") as copy:
                for row in posts:
                    copy.write_row(row)
        else:
            cursor.executemany(
                "INSERT INTO bench_txn VALUES (?,?,?,?,?,?,?,?,?)".replace("?", "%s"), txns
            )
            cursor.executemany(
                "INSERT INTO bench_posting VALUES (?,?,?,?,?,?)".replace("?", "%s"), posts
            )
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_txn")
        cursor.execute("DROP TABLE bench_posting")
    return seconds


def run(args, postgres: bool) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count, Sum

    from civicdesk.ledger.models import LedgerAccount, Posting, Transaction
    from civicdesk.ledger.postings import Leg
    from civicdesk.ledger.services import TransactionSpec, transactions_post_bulk

    call_command("migrate", verbosity=0)
    if args.without_guards and postgres:
        from civicdesk.ledger.migrations import _guards as guards

        with connection.cursor() as cursor:
            cursor.execute(guards.DROP)
    LedgerAccount.objects.bulk_create(
        [
            LedgerAccount(
                code=f"receivable:{n:06d}", kind="receivable", name=f"R{n}", currency="ZAR"
            )
            for n in range(RECEIVABLES)
        ]
        + [LedgerAccount(code="revenue:ZAR", kind="revenue", name="Revenue", currency="ZAR")]
    )
    n = args.transactions
    day = date(2026, 1, 1)
    started = time.perf_counter()
    posted = 0
    for start in range(0, n, args.chunk):
        specs = [
            TransactionSpec(
                kind="charge",
                legs=(Leg(f"receivable:{i % RECEIVABLES:06d}", 12345), Leg("revenue:ZAR", -12345)),
                value_date=day + timedelta(days=i % 28),
                reference=f"INV-{i}",
            )
            for i in range(start, min(n, start + args.chunk))
        ]
        posted += len(transactions_post_bulk(specs, currency="ZAR"))
    seconds = time.perf_counter() - started

    assert posted == n == Transaction.objects.count()
    assert Posting.objects.count() == 2 * n
    assert Posting.objects.aggregate(s=Sum("amount_minor"))["s"] == 0
    unbalanced = (
        Transaction.objects.annotate(c=Count("postings"), s=Sum("postings__amount_minor"))
        .exclude(c=2, s=0)
        .count()
    )
    assert unbalanced == 0
    floor = floor_seconds(n, postgres)
    rows = 3 * n
    guards = "guards off" if args.without_guards else "guards on"
    engine = f"PostgreSQL (COPY, {guards})" if postgres else "SQLite WAL (executemany)"
    print(f"ledger bulk posting on {engine}: {n:,} transactions, {2 * n:,} postings")
    print(
        f"  posted:    {seconds:7.1f} s  {n / seconds:9,.0f} transactions/s  "
        f"{2 * n / seconds:9,.0f} postings/s  ({rows / seconds:,.0f} rows/s)"
    )
    print(f"  raw floor: {floor:7.1f} s  for {rows:,} rows ({rows / floor:,.0f} rows/s)")
    print(f"  ratio to the floor: {seconds / floor:.2f}×")
    print(f"  checked: {unbalanced} unbalanced, postings sum to 0, engine {connection.vendor}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=500_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument(
        "--without-guards",
        action="store_true",
        help="drop the PostgreSQL triggers first, to measure what they cost",
    )
    args = parser.parse_args()
    with scratch_database("ledger") as (postgres, _work):
        run(args, postgres)


if __name__ == "__main__":
    main()
