"""`manage.py billing_run --period 2025-08 [--chunk-size N] [--distribute]`: the monthly
billing run from the command line, with a progress bar and the run report at the end."""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from civicdesk.billing.compose import parse_period
from civicdesk.billing.models import BillingRun
from civicdesk.billing.reports import run_report_lines
from civicdesk.billing.runs import (
    RunRefused,
    billing_run_dispatch,
    billing_run_execute,
    billing_run_start,
    refusal_message,
)


class Command(BaseCommand):
    help = (
        "Bill every account for a period: price each service with the tariff in force, write "
        "the invoices, their lines and the ledger postings. Running it again for the same "
        "period resumes an unfinished run, or writes only what changed as adjustments."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, metavar="YYYY-MM", help="the month")
        parser.add_argument(
            "--chunk-size", type=int, default=20_000, help="accounts per chunk (default 20000)"
        )
        parser.add_argument(
            "--distribute",
            action="store_true",
            help="queue the chunks for the Celery workers and follow their progress",
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="price every account again, also where nothing changed since the last run",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, period, chunk_size, distribute, full, no_progress, **options):
        try:
            start = parse_period(period)
        except ValueError:
            raise CommandError(
                _("The period must be a month written as YYYY-MM, e.g. 2025-08.")
            ) from None
        try:
            run = billing_run_start(period=start, chunk_size=chunk_size, full=full)
        except RunRefused as exc:
            raise CommandError(refusal_message(exc)) from None
        stream = getattr(self.stderr, "_out", sys.stderr)
        bar = tqdm(
            total=run.accounts_total,
            initial=run.accounts_done,
            unit=" accounts",
            file=stream,
            disable=no_progress,
        )
        try:
            if distribute:
                billing_run_dispatch(run)
                while True:
                    run.refresh_from_db()
                    bar.update(run.accounts_done - bar.n)
                    if run.status != BillingRun.Status.RUNNING:
                        break
                    time.sleep(0.5)
            else:
                run = billing_run_execute(run, progress=bar.update)
        finally:
            bar.close()
        for line in run_report_lines(run):
            self.stdout.write(line)
        if run.status != BillingRun.Status.DONE:
            raise CommandError(_("The run did not finish: %(error)s") % {"error": run.error})
