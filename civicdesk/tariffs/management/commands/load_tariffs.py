"""`manage.py load_tariffs FILE [FILE...] [--dry-run] [--user EMAIL]`: load tariff definitions
(YAML or JSON, docs/tariffs.md) from files, all or nothing.

Each tariff prints `code vN created` (a new version: the definition differs from the code's
latest) or `code vN unchanged`. When any file has an error, every error of every file is
printed (`FILE: path: message`), nothing is stored, and the command exits non-zero. A dry run
does all the checks and works out the versions, then stores nothing."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from civicdesk.tariffs.services import Loaded, TariffsRejected, tariffs_load


class _DryRun(Exception):
    """Raised inside the transaction of a dry run, so that everything is rolled back."""


def error_line(name: str, error: dict) -> str:
    """`FILE: path: message` (errors.py already starts a message with its field's path)."""
    path, message = error.get("path") or "", str(error.get("message") or error.get("code"))
    if path and not message.startswith(f"{path}:"):
        message = f"{path}: {message}"
    return f"{name}: {message}"


class Command(BaseCommand):
    help = (
        "Load tariff definitions from YAML or JSON files (docs/tariffs.md), all or nothing: a "
        "changed definition becomes the code's next version, an unchanged one is left as it is."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="YAML or JSON tariff files")
        parser.add_argument(
            "--dry-run", action="store_true", help="check everything and report; store nothing"
        )
        parser.add_argument("--user", metavar="EMAIL", help="the member of staff loading them")

    def handle(self, *args, files, dry_run, user, **options):
        actor = None
        if user:
            actor = get_user_model().objects.filter(email__iexact=user, is_staff=True).first()
            if actor is None:
                raise CommandError(
                    _("No member of staff has the e-mail address %(email)s.") % {"email": user}
                )
        texts = [(name, self._read(name)) for name in files]
        loaded: list[Loaded] = []
        errors: list[str] = []
        try:
            with transaction.atomic():
                for name, text in texts:
                    try:
                        loaded.extend(tariffs_load(text, actor=actor))
                    except TariffsRejected as exc:
                        errors.extend(error_line(name, error) for error in exc.errors)
                if errors or dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        if errors:
            for line in errors:
                self.stderr.write(line)
            raise CommandError(
                _("%(count)d errors: no tariff was loaded.") % {"count": len(errors)}
            )
        for item in loaded:
            # The status stays a word scripts can read: "created" or "unchanged".
            self.stdout.write(f"{item.code} v{item.version} {item.status}")
        if dry_run:
            self.stdout.write(_("Dry run: nothing was stored."))

    @staticmethod
    def _read(name: str) -> str:
        path = Path(name)
        if not path.is_file():
            raise CommandError(_("No such file: %(name)s") % {"name": name})
        try:
            return path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise CommandError(_("%(name)s is not UTF-8 text.") % {"name": name}) from None
