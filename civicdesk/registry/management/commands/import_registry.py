"""`manage.py import_registry FILE…`: the migration import from the command line."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from civicdesk.registry.importer import KINDS
from civicdesk.registry.importing import ImportSource, error_line, registry_import

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = (
        "Import territories, providers, buildings, premises, accounts, holders, account "
        "services and opening balances from CSV or XLSX files (formats: docs/import.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="CSV or XLSX files")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and report; write nothing"
        )
        parser.add_argument(
            "--all-or-nothing",
            action="store_true",
            help="write nothing at all if any row is bad",
        )
        parser.add_argument(
            "--kind", choices=KINDS, help="the kind of every file (default: from the header)"
        )
        parser.add_argument("--user", metavar="EMAIL", help="the user the history records name")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, files, dry_run, all_or_nothing, kind, user, no_progress, **options):
        actor = None
        if user:
            actor = get_user_model().objects.filter(email__iexact=user).first()
            if actor is None:
                raise CommandError(_("No user has the e-mail address %(email)s.") % {"email": user})
        for name in files:
            if not Path(name).is_file():
                raise CommandError(_("No such file: %(name)s") % {"name": name})
        stream = getattr(self.stderr, "_out", sys.stderr)
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, unit=" rows", file=stream, disable=no_progress)
            elif bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        with ExitStack() as files_open:
            sources = [
                ImportSource(name=name, stream=files_open.enter_context(open(name, "rb")))
                for name in files
            ]
            try:
                report = registry_import(
                    sources,
                    user=actor,
                    dry_run=dry_run,
                    all_or_nothing=all_or_nothing,
                    kind=kind,
                    progress=progress,
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            finally:
                if bar is not None:
                    bar.close()
        self._summary(report)
        if not report.ok and (dry_run or all_or_nothing):
            raise CommandError(
                _("%(count)d errors: nothing was written.") % {"count": report.error_count}
            )

    def _summary(self, report) -> None:
        out = self.stdout
        if report.dry_run:
            out.write(_("Dry run: nothing was written. A real run would write:"))
        elif not report.applied:
            out.write(self.style.ERROR(_("All or nothing: nothing was written.")))
        for f in report.files:
            out.write(
                _(
                    "%(name)s (%(kind)s): read %(read)d, new %(created)d, changed %(updated)d, "
                    "unchanged %(unchanged)d, refused %(refused)d"
                )
                % {
                    "name": f.name,
                    "kind": f.kind_label or "?",
                    "read": f.rows_read,
                    "created": f.created,
                    "updated": f.updated,
                    "unchanged": f.unchanged,
                    "refused": f.refused,
                }
            )
        out.write(
            _(
                "Rows read: %(read)d; written: %(written)d (new %(created)d, changed "
                "%(updated)d); unchanged: %(unchanged)d; refused: %(refused)d."
            )
            % {
                "read": report.rows_read,
                "written": report.written if report.applied or report.dry_run else 0,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "refused": report.refused,
            }
        )
        if report.errors:
            shown = report.errors[:SHOWN_ERRORS]
            out.write(
                _("Errors (%(shown)d of %(count)d):")
                % {"shown": len(shown), "count": report.error_count}
            )
            for error in shown:
                out.write("  " + error_line(error))
        out.write(_("Import run %(id)s.") % {"id": report.run.pk})
