"""Import a bank statement file: ``manage.py import_bank_statement --format CODE FILE``."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from civicdesk.ledger import banking, banking_selectors
from civicdesk.ledger.models import BankFormat
from civicdesk.ledger.templatetags.ledger import minor_money

MAX_BYTES = 200 * 1024 * 1024


class Command(BaseCommand):
    help = (
        "Import a bank statement (CSV with the format's column mapping, or camt.053 XML): "
        "matched lines are posted to their accounts, the rest to suspense for an officer. "
        "A statement already imported is refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the statement file")
        parser.add_argument(
            "--format", required=True, dest="format_code", help="the bank format's code"
        )
        parser.add_argument("--user", default="", help="e-mail of the member of staff importing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, file, format_code, user, no_progress, **options):
        bank_format = BankFormat.objects.filter(code=format_code).first()
        if bank_format is None:
            codes = ", ".join(BankFormat.objects.values_list("code", flat=True)) or "none"
            raise CommandError(
                f"No bank format with the code {format_code!r} (there are: {codes})."
            )
        actor = None
        if user:
            actor = get_user_model().objects.filter(email__iexact=user, is_staff=True).first()
            if actor is None:
                raise CommandError(f"No member of staff with the e-mail address {user!r}.")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file.")
        if path.stat().st_size > MAX_BYTES:
            raise CommandError(f"{file}: larger than {MAX_BYTES // (1024 * 1024)} MB.")
        data = path.read_bytes()
        bar = tqdm(
            desc="lines",
            unit=" lines",
            disable=no_progress or None,
            file=self.stderr._out,
        )
        try:
            statements = banking.statements_import(
                bank_format=bank_format,
                data=data,
                file_name=path.name,
                actor=actor,
                progress=bar.update,
            )
        except ValidationError as exc:
            raise CommandError(f"{path.name}: " + " ".join(exc.messages)) from exc
        finally:
            bar.close()
        for statement in statements:
            summary = banking_selectors.statement_summary(statement)
            self.stdout.write(
                f"Statement {statement.statement_id} ({statement.bank_account or '-'}): "
                f"{summary.lines} lines, {summary.matched} matched, "
                f"{summary.suspense} in suspense, {summary.ignored} ignored; "
                f"money in {minor_money(summary.total_minor, summary.currency)} "
                f"(matched {minor_money(summary.matched_minor, summary.currency)}, "
                f"suspense {minor_money(summary.suspense_minor, summary.currency)})."
            )
