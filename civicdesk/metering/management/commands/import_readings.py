"""`manage.py import_readings FILE [--dry-run] [--skip-invalid]`: a contractor's or an AMR
system's CSV file of meter readings, from the command line (format: docs/reading-import.md)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from civicdesk.metering.importing import error_line, readings_import
from civicdesk.metering.models import ReadingImport
from civicdesk.metering.reasons import reason_text

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = (
        "Import meter readings from a CSV file (columns serial, register, value, taken_at, "
        "account; see docs/reading-import.md). Every reading is validated like a resident's; "
        "a row that cannot be read makes the whole import write nothing unless "
        "--skip-invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="the CSV file")
        parser.add_argument(
            "--dry-run", action="store_true", help="check everything and report; write nothing"
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the good rows even when some rows cannot be read",
        )
        parser.add_argument("--user", metavar="EMAIL", help="the member of staff importing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, file, dry_run, skip_invalid, user, no_progress, **options):
        actor = None
        if user:
            actor = get_user_model().objects.filter(email__iexact=user, is_staff=True).first()
            if actor is None:
                raise CommandError(
                    _("No member of staff has the e-mail address %(email)s.") % {"email": user}
                )
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("No such file: %(name)s") % {"name": file})
        stream = getattr(self.stderr, "_out", sys.stderr)
        bar = tqdm(total=0, unit=" rows", file=stream, disable=no_progress)

        def progress(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        try:
            with open(path, "rb") as handle:
                record = readings_import(
                    stream=handle,
                    file_name=path.name,
                    dry_run=dry_run,
                    skip_invalid=skip_invalid,
                    actor=actor,
                    progress=progress,
                )
        finally:
            bar.close()
        self._report(record)
        if record.status == ReadingImport.Status.REFUSED:
            raise CommandError(_("Refused: nothing was written."))
        if record.dry_run and record.error_count and not skip_invalid:
            raise CommandError(
                _("%(count)d rows cannot be read: a real import would write nothing.")
                % {"count": record.error_count}
            )

    def _report(self, record: ReadingImport) -> None:
        out = self.stdout
        status = {
            ReadingImport.Status.DONE: _("Imported."),
            ReadingImport.Status.CHECKED: _("Dry run: nothing was written."),
            ReadingImport.Status.REFUSED: _("Refused: nothing was written."),
        }.get(record.status, record.get_status_display())
        style = self.style.ERROR if record.status == ReadingImport.Status.REFUSED else str
        out.write(style(f"{record.file_name}: {status}"))
        out.write(
            _(
                "Rows read: %(read)d; accepted %(accepted)d, flagged for review %(flagged)d, "
                "rejected %(rejected)d; rows that cannot be read %(errors)d."
            )
            % {
                "read": record.rows_read,
                "accepted": record.accepted,
                "flagged": record.flagged,
                "rejected": record.rejected,
                "errors": record.error_count,
            }
        )
        if record.reasons:
            out.write(_("Reasons:"))
            for code, count in sorted(record.reasons.items(), key=lambda item: -item[1]):
                out.write(f"  {count:>9,}  {code}: {reason_text(code)}")
        if record.errors:
            shown = record.errors[:SHOWN_ERRORS]
            out.write(
                _("Errors (%(shown)d of %(count)d):")
                % {"shown": len(shown), "count": record.error_count}
            )
            for error in shown:
                out.write("  " + error_line(error))
        out.write(_("Import %(id)s.") % {"id": record.public_id})
