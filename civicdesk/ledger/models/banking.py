"""Bank statements: per-bank formats, imported statements and their lines."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicdesk.core.models import TimeStampedModel


class BankFormat(TimeStampedModel):
    """How one bank's statements arrive: a CSV column mapping, or ISO 20022 camt.053."""

    class Kind(models.TextChoices):
        CSV = "csv", _("CSV with a column mapping")
        CAMT053 = "camt053", _("ISO 20022 camt.053 XML")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    mapping = models.JSONField(_("CSV column mapping"), default=dict, blank=True)
    bank_account = models.CharField(
        _("operator's bank account"), max_length=40, blank=True, help_text=_("IBAN or number")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("bank statement format")
        verbose_name_plural = _("bank statement formats")

    def __str__(self) -> str:
        return self.name


class BankStatement(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bank_format = models.ForeignKey(
        BankFormat, verbose_name=_("format"), on_delete=models.PROTECT, related_name="statements"
    )
    statement_id = models.CharField(_("statement identifier"), max_length=100)
    bank_account = models.CharField(_("bank account"), max_length=40, blank=True)
    digest = models.CharField(_("file digest"), max_length=64, unique=True)
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    line_count = models.PositiveIntegerField(_("lines"), default=0)
    matched_count = models.PositiveIntegerField(_("matched lines"), default=0)
    total_minor = models.BigIntegerField(_("money in (minor units)"), default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-imported_at"]
        verbose_name = _("bank statement")
        verbose_name_plural = _("bank statements")
        constraints = [
            models.UniqueConstraint(
                fields=["bank_account", "statement_id"], name="ledger_statement_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank_account} {self.statement_id}"


class BankLine(models.Model):
    class Status(models.TextChoices):
        MATCHED = "matched", _("Matched automatically")
        SUSPENSE = "suspense", _("Unmatched (in suspense)")
        RESOLVED = "resolved", _("Matched by an officer")
        IGNORED = "ignored", _("Not a payment to us")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    statement = models.ForeignKey(
        BankStatement, verbose_name=_("statement"), on_delete=models.PROTECT, related_name="lines"
    )
    line_no = models.PositiveIntegerField(_("line"))
    booked_on = models.DateField(_("booked on"), db_index=True)
    value_date = models.DateField(_("value date"))
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    reference = models.CharField(_("reference"), max_length=500, blank=True)
    counterparty = models.CharField(_("payer"), max_length=200, blank=True)
    bank_ref = models.CharField(_("bank reference"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, db_index=True)
    match_reason = models.CharField(_("match reason"), max_length=40, blank=True)
    account = models.ForeignKey(
        "registry.PersonalAccount",
        verbose_name=_("personal account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bank_lines",
    )
    transaction = models.ForeignKey(
        "ledger.Transaction",
        verbose_name=_("ledger transaction"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolved_transaction = models.ForeignKey(
        "ledger.Transaction",
        verbose_name=_("transfer out of suspense"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("matched by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("matched at"), null=True, blank=True)
    report = models.ForeignKey(
        "ledger.MissingPaymentReport",
        verbose_name=_("missing-payment report"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bank_lines",
    )

    class Meta:
        ordering = ["statement", "line_no"]
        verbose_name = _("bank statement line")
        verbose_name_plural = _("bank statement lines")
        permissions = [("match_bankline", "Can match bank lines to accounts")]
        constraints = [
            models.UniqueConstraint(fields=["statement", "line_no"], name="ledger_line_once"),
        ]

    def __str__(self) -> str:
        return f"{self.booked_on} {self.amount_minor} {self.reference}"
