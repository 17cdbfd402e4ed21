"""Billing: runs and their chunks, invoices with their lines, and the run's exceptions.

An invoice is the bill of one personal account for one period (unique together). Its lines
are what the pricing engine produced, one per service (the tariff's sub-lines, such as the
blocks, the fixed charge and the tax, are in ``detail``), plus adjustment lines written by
later runs of the same period when something changed: a re-run prices again and writes only
the differences (recompute and diff), each with the ledger transaction that posted it.

Money is in integer minor units (as in the ledger); quantities are decimals.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicdesk.core.identifiers import uuid7
from civicdesk.registry.models import ServiceType

QUANTITY = {"max_digits": 18, "decimal_places": 6}


class BillingRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to start")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Stopped with an error")

    public_id = models.UUIDField(default=uuid7, unique=True, editable=False)
    period = models.DateField(_("period"), help_text=_("The first day of the billed month."))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    chunk_size = models.PositiveIntegerField(_("accounts per chunk"), default=20_000)
    full = models.BooleanField(
        _("recompute every account"),
        default=False,
        help_text=_("Also where nothing that prices a bill has changed since the last run."),
    )
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    accounts_total = models.PositiveIntegerField(default=0)
    accounts_done = models.PositiveIntegerField(default=0)
    invoices_new = models.PositiveIntegerField(default=0)
    invoices_adjusted = models.PositiveIntegerField(default=0)
    invoices_unchanged = models.PositiveIntegerField(default=0)
    exceptions = models.PositiveIntegerField(default=0)
    charged_minor = models.BigIntegerField(default=0)
    totals = models.JSONField(
        default=dict, blank=True, help_text="Minor units per service and provider."
    )
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("billing run")
        verbose_name_plural = _("billing runs")
        permissions = [("run_billing", "Can start billing runs")]
        constraints = [
            # One run at a time per period: a second start resumes the unfinished one.
            models.UniqueConstraint(
                fields=["period"],
                condition=models.Q(status__in=["pending", "running"]),
                name="billing_one_open_run_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} ({self.get_status_display()})"


class RunChunk(models.Model):
    """A range of personal-account ids: the unit of work, commit, retry and distribution."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_account = models.BigIntegerField()
    last_account = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    accounts = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=100, blank=True)
    totals = models.JSONField(default=dict, blank=True)
    # What the chunk's inputs looked like when it was priced (inputs.chunk_fingerprint): a
    # later run of the period finding the same skips the chunk.
    fingerprint = models.CharField(max_length=32, blank=True)
    unchanged = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="billing_chunk_index"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.index}"


class Invoice(models.Model):
    public_id = models.UUIDField(default=uuid7, unique=True, editable=False)
    number = models.CharField(_("invoice number"), max_length=40, unique=True)
    account = models.ForeignKey(
        "registry.PersonalAccount",
        verbose_name=_("personal account"),
        on_delete=models.PROTECT,
        related_name="invoices",
        db_index=False,  # the (account, period) constraint serves every lookup
    )
    period = models.DateField(_("period"))
    currency = models.CharField(_("currency"), max_length=3)
    issued_on = models.DateField(_("issued on"))
    due_on = models.DateField(_("due on"))
    opening_minor = models.BigIntegerField(_("opening balance"))
    charges_minor = models.BigIntegerField(_("charges"))
    payments_minor = models.BigIntegerField(_("payments received"))
    adjustments_minor = models.BigIntegerField(_("adjustments"))
    closing_minor = models.BigIntegerField(_("closing balance"))
    digest = models.CharField(max_length=32, help_text="Hash of the priced lines.")
    revision = models.PositiveSmallIntegerField(default=0)
    run = models.ForeignKey(
        BillingRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,  # which run last wrote it: a note, not worth a check per invoice
    )
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        ordering = ["-period", "number"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [
            models.UniqueConstraint(fields=["account", "period"], name="invoice_account_period"),
        ]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        CHARGE = "charge", _("Charge")
        ADJUSTMENT = "adjustment", _("Adjustment")
        # Settled by staff (a dispute): not the run's, so a re-run leaves it alone.
        DISPUTE = "dispute", _("Dispute settlement")

    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.CHARGE)
    service = models.CharField(_("service"), max_length=20, choices=ServiceType.choices)
    # A dimension (providers are never deleted: PROTECT): no database check per line, which
    # a billing run would pay for five million times.
    provider = models.ForeignKey(
        "registry.Provider",
        verbose_name=_("provider"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    tariff_code = models.CharField(max_length=64, blank=True)
    tariff_version = models.PositiveIntegerField(null=True, blank=True)
    quantity = models.DecimalField(_("quantity"), **QUANTITY, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    amount_minor = models.BigIntegerField(_("amount"))
    tax_minor = models.BigIntegerField(_("of which tax"), default=0)
    explanation = models.TextField(_("explanation"), blank=True)
    detail = models.JSONField(default=list, blank=True, help_text="The tariff's priced lines.")
    revision = models.PositiveSmallIntegerField(default=0)
    transaction_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["invoice", "position"]
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}#{self.position}"


class RunException(models.Model):
    """An account (or one of its services) a run could not bill, and why: the exception
    queue. The rest of the account's bill is written; the next run of the period tries
    again and closes the exception when it succeeds."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="exception_rows")
    period = models.DateField()
    account = models.ForeignKey(
        "registry.PersonalAccount", on_delete=models.CASCADE, related_name="+"
    )
    service = models.CharField(max_length=20, blank=True)
    code = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["period", "account"],
                condition=models.Q(resolved_at__isnull=True),
                name="billing_exception_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.code}"


class BillingSettings(models.Model):
    """The operator's billing choices; empty fields take the jurisdiction's default
    (``compose.DUE_DAYS``, ``selectors.QR_DEFAULTS``)."""

    class QrFormat(models.TextChoices):
        DEFAULT = "", _("The jurisdiction's standard")
        GOST = "gost_r_56042", _("GOST R 56042-2014 (Russia)")
        NBU = "nbu", _("National Bank of Ukraine payment QR")
        EPC = "epc", _("EPC credit transfer QR")
        REFERENCE = "reference", _("Plain payment reference")
        NONE = "none", _("No QR code")

    operator = models.OneToOneField(
        "registry.Operator", on_delete=models.CASCADE, related_name="billing_settings"
    )
    due_days = models.PositiveSmallIntegerField(
        _("days from issue to due date"),
        null=True,
        blank=True,
        help_text=_("Empty: the jurisdiction's default."),
    )
    qr_format = models.CharField(
        _("payment QR code"), max_length=20, choices=QrFormat.choices, blank=True, default=""
    )
    payee = models.ForeignKey(
        "registry.Provider",
        verbose_name=_("bills are paid to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_(
            "Whose bank account the payment QR code and slip name (a settlement centre's); "
            "empty: the provider with the largest part of the bill."
        ),
    )
    pay_url = models.URLField(
        _("payment page address"),
        blank=True,
        help_text=_("Put into plain payment references; {account} is the account number."),
    )
    email_bills = models.BooleanField(_("e-mail new bills"), default=True)
    bulletin = models.TextField(
        _("monthly bulletin"),
        blank=True,
        help_text=_("News sent with the bills of the next run (plain text)."),
    )

    class Meta:
        verbose_name = _("billing settings")
        verbose_name_plural = _("billing settings")

    def __str__(self) -> str:
        return str(_("Billing settings"))


class InvoiceDispute(models.Model):
    """A resident's dispute of one or more lines of an invoice: the case that carries it, the
    lines (by position), what the resident claims, and the adjustment staff posted when they
    resolved it (negative: a credit). ``billing.casework`` writes it."""

    case = models.OneToOneField(
        "cases.Case", on_delete=models.CASCADE, related_name="invoice_dispute"
    )
    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="disputes"
    )
    lines = models.JSONField(_("disputed lines"), default=list, help_text="Line positions.")
    amount_claimed_minor = models.BigIntegerField(_("amount claimed"), null=True, blank=True)
    adjustment_minor = models.BigIntegerField(_("adjustment"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invoice dispute")
        verbose_name_plural = _("invoice disputes")

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.case_id}"


class InvoiceDelivery(models.Model):
    """A bill sent to one recipient: one row per (invoice, revision, channel, recipient), so a
    delivery run repeated or resumed never sends the same revision twice (``delivery``)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")

    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.CASCADE, related_name="deliveries"
    )
    revision = models.PositiveSmallIntegerField(_("revision"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=254)
    language = models.CharField(_("language"), max_length=8)
    notification = models.ForeignKey(
        "notifications.Delivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent at"))

    class Meta:
        ordering = ["-sent_at"]
        verbose_name = _("bill delivery")
        verbose_name_plural = _("bill deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "revision", "channel", "recipient"],
                name="invoice_delivery_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} r{self.revision} → {self.recipient}"
