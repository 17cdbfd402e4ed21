"""Migration imports and the opening balances they carry for the ledger."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicdesk.registry.models.accounts import PersonalAccount
from civicdesk.registry.models.organisation import Provider


class OpeningBalance(models.Model):
    """A balance brought over from the old system, kept until the ledger posts it."""

    account = models.ForeignKey(
        PersonalAccount, on_delete=models.CASCADE, related_name="opening_balances"
    )
    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    as_of = models.DateField(_("as of"))
    amount_minor = models.BigIntegerField(
        _("amount (minor units)"), help_text=_("Positive: the resident owes; negative: credit.")
    )
    currency = models.CharField(_("currency"), max_length=3)
    posted_at = models.DateTimeField(_("posted to the ledger at"), null=True, blank=True)

    class Meta:
        ordering = ["account", "as_of"]
        verbose_name = _("opening balance")
        verbose_name_plural = _("opening balances")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "provider", "as_of"],
                condition=models.Q(provider__isnull=False),
                name="opening_balance_unique_per_provider",
            ),
            models.UniqueConstraint(
                fields=["account", "as_of"],
                condition=models.Q(provider__isnull=True),
                name="opening_balance_unique_overall",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.as_of}: {self.amount_minor} {self.currency}"


class ImportRun(models.Model):
    """One run of the registry import: what was read, what was written, what was refused."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    files = models.JSONField(default=list)
    dry_run = models.BooleanField(default=True)
    all_or_nothing = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    rows_read = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list)  # [{"file", "line", "field", "message"}]

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")

    def __str__(self) -> str:
        return f"import {self.started_at:%Y-%m-%d %H:%M} ({self.status})"
