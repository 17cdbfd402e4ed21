"""The billing run across processes (PostgreSQL; `make test-pg`): killed with SIGKILL in the
middle and started again, and shared by two Celery worker processes. Either way the result
equals a clean run in one process: every account billed once, nothing duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Sum

from civicdesk.billing.models import BillingRun, Invoice, InvoiceLine, RunChunk
from civicdesk.billing.runs import billing_run_execute, billing_run_start
from civicdesk.billing.tests import support
from civicdesk.ledger.models import Posting, Transaction
from civicdesk.metering.models import Reading

ROOT = Path(__file__).resolve().parents[3]
SEPTEMBER = date(2025, 9, 1)

pytestmark = [
    pytest.mark.pg,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="other processes share the PostgreSQL test database",
    ),
    pytest.mark.django_db(transaction=True),
]


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DATABASE_URL=_database_url(), CIVICDESK_ENV="development", **extra)
    return env


def _town(accounts: int):
    """Accounts with different consumption, and September's readings equal to August's: a
    run of September in this process is what a run of August must come to."""
    made = support.town(accounts, electricity=("436", "90", "1200", "401"), water=("8", "3", "21"))
    for reading in list(Reading.objects.filter(period=support.PERIOD)):
        support.reading_add(reading.meter, reading.consumption, period=SEPTEMBER)
    return made


def _bills(period: date) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for line in InvoiceLine.objects.filter(invoice__period=period).order_by(
        "invoice__account__number", "position"
    ):
        out.setdefault(line.invoice.account.number, []).append(
            (line.service, line.kind, line.amount_minor, line.tax_minor, line.quantity)
        )
    return out


def _assert_equal_to_a_clean_run(accounts) -> None:
    august = _bills(support.PERIOD)
    clean = billing_run_execute(billing_run_start(period=SEPTEMBER, chunk_size=1000))
    assert clean.status == BillingRun.Status.DONE
    assert august == _bills(SEPTEMBER)
    assert len(august) == len(accounts)
    assert Invoice.objects.filter(period=support.PERIOD).count() == len(accounts)
    # One ledger transaction per bill, and the ledger balances.
    assert Transaction.objects.filter(reference__startswith="INV-202508-").count() == len(accounts)
    assert Posting.objects.aggregate(total=Sum("amount_minor"))["total"] == 0


def test_a_run_killed_in_the_middle_and_started_again_equals_a_clean_run(operator):
    accounts = _town(120)
    command = [
        sys.executable,
        "manage.py",
        "billing_run",
        "--period",
        "2025-08",
        "--chunk-size",
        "1",
        "--no-progress",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            run = BillingRun.objects.filter(period=support.PERIOD).first()
            if run is not None and run.chunks_done >= 10:
                break
            if process.poll() is not None:
                pytest.fail(f"the run ended before it could be killed: {process.stderr.read()}")
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    run = BillingRun.objects.get(period=support.PERIOD)
    assert run.status == BillingRun.Status.RUNNING
    done = run.chunks.filter(status=RunChunk.Status.DONE).count()
    assert 10 <= done < run.chunks_total
    assert Invoice.objects.filter(period=support.PERIOD).count() == run.accounts_done == done
    # Started again: the same run goes on at its first unfinished chunk.
    finished = subprocess.run(
        command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    run.refresh_from_db()
    assert run.status == BillingRun.Status.DONE
    assert run.invoices_new == len(accounts)
    assert BillingRun.objects.filter(period=support.PERIOD).count() == 1
    _assert_equal_to_a_clean_run(accounts)


@pytest.mark.worker
@pytest.mark.skipif(
    not (os.environ.get("CIVICDESK_WORKER_TESTS") and settings.CELERY_BROKER_URL),
    reason="needs CELERY_BROKER_URL and CIVICDESK_WORKER_TESTS=1 (make test-pg)",
)
def test_two_worker_processes_share_a_run_and_equal_a_single_process_run(operator):
    accounts = _town(40)
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "civicdesk",
                "worker",
                "--pool=solo",
                "--prefetch-multiplier=1",
                "-O",
                "fair",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"billing{n}@%h",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=_env(CELERY_BROKER_URL=settings.CELERY_BROKER_URL, REDIS_URL=settings.REDIS_URL),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in (1, 2)
    ]
    try:
        from civicdesk.billing.runs import billing_run_dispatch

        run = billing_run_start(period=support.PERIOD, chunk_size=2)
        assert billing_run_dispatch(run) == 20
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status != BillingRun.Status.RUNNING:
                break
            time.sleep(0.2)
        assert run.status == BillingRun.Status.DONE, list(
            run.chunks.values_list("index", "status", "attempts", "worker")
        )
        by = set(run.chunks.values_list("worker", flat=True))
        assert len(by) == 2, by  # both processes billed chunks of the one run
        assert run.invoices_new == len(accounts)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
    _assert_equal_to_a_clean_run(accounts)


def test_the_clean_run_helper_sees_differences(operator):
    """The comparison above can fail: a different September is noticed."""
    accounts = _town(3)
    billing_run_execute(billing_run_start(period=support.PERIOD, chunk_size=10))
    reading = Reading.objects.filter(period=SEPTEMBER).first()
    reading.consumption += Decimal(1)
    reading.save()
    with pytest.raises(AssertionError):
        _assert_equal_to_a_clean_run(accounts)
