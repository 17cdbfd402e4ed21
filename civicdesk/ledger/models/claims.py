"""Residents' money requests: a payment that does not show, and a refund of credit."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicdesk.core.models import AppendOnlyModel, TimeStampedModel


class MissingPaymentReport(TimeStampedModel):
    class Status(models.TextChoices):
        OPEN = "open", _("Being looked for")
        MATCHED = "matched", _("Found and allocated")
        REJECTED = "rejected", _("Not found")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        "registry.PersonalAccount",
        verbose_name=_("personal account"),
        on_delete=models.PROTECT,
        related_name="missing_payment_reports",
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reported by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    paid_on = models.DateField(_("paid on"))
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    bank_reference = models.CharField(_("bank reference"), max_length=100, blank=True)
    case = models.OneToOneField(
        "cases.Case",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="missing_payment",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("missing-payment report")
        verbose_name_plural = _("missing-payment reports")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_minor__gt=0), name="ledger_missing_positive"
            ),
        ]


class RefundRequest(TimeStampedModel):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("Waiting for approval")
        APPROVED = "approved", _("Approved, waiting for payout")
        PAID = "paid", _("Paid out")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    OPEN = (Status.REQUESTED, Status.APPROVED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        "registry.PersonalAccount",
        verbose_name=_("personal account"),
        on_delete=models.PROTECT,
        related_name="refund_requests",
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    account_holder = models.CharField(_("account holder"), max_length=200)
    bank_name = models.CharField(_("bank"), max_length=200, blank=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bank_account_number = models.CharField(_("bank account number"), max_length=34, blank=True)
    branch_code = models.CharField(
        _("branch code or BIK"), max_length=12, blank=True, help_text=_("ZA branch code, RU BIK")
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=Status.choices,
        default=Status.REQUESTED,
        db_index=True,
    )
    approvals_needed = models.PositiveSmallIntegerField(_("approvals needed"), default=1)
    case = models.OneToOneField(
        "cases.Case",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refund",
    )
    reserve_transaction = models.OneToOneField(
        "ledger.Transaction",
        verbose_name=_("credit set aside"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refund_reserved",
    )
    payout_transaction = models.OneToOneField(
        "ledger.Transaction",
        verbose_name=_("payout"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refund_paid",
    )
    payout_reference = models.CharField(_("payout reference"), max_length=100, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("refund request")
        verbose_name_plural = _("refund requests")
        permissions = [
            ("approve_refundrequest", "Can approve or reject refunds"),
            ("pay_refundrequest", "Can record refund payouts"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_minor__gt=0), name="ledger_refund_positive"
            ),
        ]


class RefundApproval(AppendOnlyModel):
    class Decision(models.TextChoices):
        APPROVE = "approve", _("Approve")
        REJECT = "reject", _("Reject")

    refund = models.ForeignKey(
        RefundRequest, verbose_name=_("refund"), on_delete=models.PROTECT, related_name="approvals"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approver"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("refund decision")
        verbose_name_plural = _("refund decisions")
        constraints = [
            models.UniqueConstraint(fields=["refund", "approver"], name="ledger_refund_one_vote"),
        ]
