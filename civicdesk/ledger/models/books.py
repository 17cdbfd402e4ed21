"""Double-entry ledger: accounts, transactions and their postings in integer minor units.

Transactions and postings are append-only (in code here; by triggers on PostgreSQL, see
migration 0002). A correction is a reversing transaction linked to the original.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicdesk.core.models import AppendOnlyModel
from civicdesk.registry.models import ServiceType


class LedgerAccount(models.Model):
    class Kind(models.TextChoices):
        RECEIVABLE = "receivable", _("Receivable (personal account)")
        PROVIDER_PAYABLE = "provider_payable", _("Payable to provider")
        BANK_CLEARING = "bank_clearing", _("Bank clearing")
        GATEWAY_CLEARING = "gateway_clearing", _("Payment gateway clearing")
        SUSPENSE = "suspense", _("Suspense (unallocated money)")
        REFUNDS_PAYABLE = "refunds_payable", _("Refunds payable")
        REVENUE = "revenue", _("Revenue")
        OPENING_BALANCE_EQUITY = "opening_balance_equity", _("Opening balance equity")

    code = models.CharField(_("code"), max_length=60, unique=True)
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices, db_index=True)
    name = models.CharField(_("name"), max_length=200)
    currency = models.CharField(_("currency"), max_length=3)
    personal_account = models.ForeignKey(
        "registry.PersonalAccount",
        verbose_name=_("personal account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    provider = models.ForeignKey(
        "registry.Provider",
        verbose_name=_("provider"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["personal_account"],
                condition=models.Q(kind="receivable"),
                name="ledger_one_receivable_per_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.currency})"


class Transaction(AppendOnlyModel):
    class Kind(models.TextChoices):
        CHARGE = "charge", _("Charge")
        PAYMENT = "payment", _("Payment")
        ADJUSTMENT = "adjustment", _("Adjustment")
        REFUND = "refund", _("Refund")
        TRANSFER = "transfer", _("Transfer")
        WRITE_OFF = "write_off", _("Write-off")
        OPENING_BALANCE = "opening_balance", _("Opening balance")
        REVERSAL = "reversal", _("Reversal")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    value_date = models.DateField(_("value date"), db_index=True)
    booked_at = models.DateTimeField(_("booked at"), default=timezone.now, db_index=True)
    reference = models.CharField(_("reference"), max_length=100, blank=True, db_index=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("reverses"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
    )
    currency = models.CharField(_("currency"), max_length=3)

    class Meta:
        ordering = ["booked_at"]
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")

    def __str__(self) -> str:
        return f"{self.kind} {self.value_date} {self.reference}".strip()


class Posting(AppendOnlyModel):
    transaction = models.ForeignKey(
        Transaction,
        verbose_name=_("transaction"),
        on_delete=models.PROTECT,
        related_name="postings",
    )
    account = models.ForeignKey(
        LedgerAccount,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="postings",
        db_index=False,  # the (account, transaction) index below serves every lookup
    )
    amount_minor = models.BigIntegerField(
        _("amount (minor units)"), help_text=_("Positive: debit; negative: credit.")
    )
    currency = models.CharField(_("currency"), max_length=3)
    # Dimensions of receivable postings: what the charge was for and who supplies it.
    service = models.CharField(
        _("service"), max_length=30, choices=ServiceType.choices, blank=True, db_default=""
    )
    # A dimension (providers are never deleted: PROTECT): no database check per posting, which
    # a billing run would pay for millions of times.
    provider = models.ForeignKey(
        "registry.Provider",
        verbose_name=_("provider"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        indexes = [models.Index(fields=["account", "transaction"], name="ledger_post_acct_txn")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(amount_minor=0), name="ledger_posting_nonzero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_minor} {self.currency}"


class Allocation(AppendOnlyModel):
    """Part of a receivable credit (a payment, a credit note) set against part of a receivable
    debit (a charge). Negative rows release an earlier allocation (when either side is
    reversed). For every pair the sum stays between zero and the smaller of the two postings,
    so an account's balance always equals its open charges less its open credits."""

    credit = models.ForeignKey(
        Posting,
        verbose_name=_("credit posting"),
        on_delete=models.PROTECT,
        related_name="allocations_as_credit",
    )
    charge = models.ForeignKey(
        Posting,
        verbose_name=_("charge posting"),
        on_delete=models.PROTECT,
        related_name="allocations_as_charge",
    )
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        indexes = [models.Index(fields=["credit", "charge"], name="ledger_alloc_pair")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(amount_minor=0), name="ledger_allocation_nonzero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.credit_id} → {self.charge_id}: {self.amount_minor}"
