"""`manage.py estimate_readings [--period YYYY-MM]`: estimate a period's missing readings."""

from __future__ import annotations

import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from civicdesk.metering import services


def parse_period(text: str) -> date:
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        return date(year, month, 1)
    except ValueError as exc:
        raise CommandError(
            _("Give the period as YYYY-MM, e.g. 2026-10 (not %(text)s).") % {"text": text}
        ) from exc


class Command(BaseCommand):
    help = (
        "Estimate the readings of a period for every active meter without an accepted reading "
        "for it: the average of recent months, then the norm (docs/metering.md). Safe to run "
        "again: registers already read or estimated for the period are left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--period",
            metavar="YYYY-MM",
            help="the period to estimate (default: the latest one whose window has closed)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, period, no_progress, **options):
        target = parse_period(period) if period else services.last_closed_period()
        stream = getattr(self.stderr, "_out", sys.stderr)
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, unit=" meters", file=stream, disable=no_progress)
            bar.update(done - bar.n)

        try:
            written = services.estimates_generate(period=target, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(
            _("%(count)d readings estimated for %(period)s.")
            % {"count": written, "period": target.strftime("%Y-%m")}
        )
