"""Online payments: one row per attempt to pay through a gateway, its events, saved methods and
the built-in sandbox gateway's own records."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicdesk.core.models import AppendOnlyModel, TimeStampedModel


class Payment(TimeStampedModel):
    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        PENDING = "pending", _("Waiting for the gateway")
        SUCCEEDED = "succeeded", _("Paid")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Channel(models.TextChoices):
        PORTAL = "portal", _("Portal")
        API = "api", _("API")
        STAFF = "staff", _("Staff")

    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        "registry.PersonalAccount",
        verbose_name=_("personal account"),
        on_delete=models.PROTECT,
        related_name="payments",
    )
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    gateway = models.CharField(_("gateway"), max_length=30, db_index=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.CREATED, db_index=True
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.PORTAL
    )
    invoice = models.CharField(
        _("invoice"), max_length=100, blank=True, help_text=_("Pay this bill first.")
    )
    gateway_ref = models.CharField(_("gateway reference"), max_length=200, blank=True)
    checkout_url = models.TextField(_("where to pay"), blank=True)
    checkout_method = models.CharField(_("checkout method"), max_length=4, default="GET")
    checkout_fields = models.JSONField(_("checkout form fields"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    saved_method = models.ForeignKey(
        "ledger.SavedMethod",
        verbose_name=_("saved payment method"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    save_method = models.BooleanField(_("save the method for next time"), default=False)
    transaction = models.OneToOneField(
        "ledger.Transaction",
        verbose_name=_("ledger transaction"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payment",
    )
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=300, blank=True)
    checked_at = models.DateTimeField(_("last asked the gateway at"), null=True, blank=True)
    check_count = models.PositiveIntegerField(_("times asked the gateway"), default=0)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        indexes = [
            models.Index(fields=["status", "created_at"], name="ledger_pay_status_created"),
            models.Index(fields=["gateway", "gateway_ref"], name="ledger_pay_gateway_ref"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_minor__gt=0), name="ledger_payment_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.amount_minor} {self.currency} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class PaymentEvent(AppendOnlyModel):
    """What happened to a payment: created, notification, return, reconciliation, settlement.
    A gateway notification's ``event_id`` is unique per gateway, so a replay is recognised."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        NOTIFICATION = "notification", _("Gateway notification")
        RETURNED = "returned", _("Resident returned from the gateway")
        RECONCILED = "reconciled", _("Asked the gateway")
        SETTLED = "settled", _("Settled")
        FAILED = "failed", _("Failed")
        REPLAYED = "replayed", _("Replayed notification ignored")

    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    gateway = models.CharField(_("gateway"), max_length=30)
    event_id = models.CharField(_("gateway event"), max_length=200, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "event_id"],
                condition=~models.Q(event_id=""),
                name="ledger_payment_event_once",
            ),
        ]


class SavedMethod(TimeStampedModel):
    """A gateway's token for a resident's card or wallet, for one-click payments. The card itself
    never reaches civicdesk."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="saved_payment_methods",
    )
    gateway = models.CharField(_("gateway"), max_length=30)
    token = models.CharField(_("token"), max_length=200)
    label = models.CharField(_("label"), max_length=100, blank=True)
    revoked_at = models.DateTimeField(_("removed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("saved payment method")
        verbose_name_plural = _("saved payment methods")
        constraints = [
            models.UniqueConstraint(fields=["gateway", "token"], name="ledger_saved_method_once"),
        ]

    def __str__(self) -> str:
        return self.label or f"{self.gateway} ···"


class SandboxCharge(models.Model):
    """The built-in sandbox gateway's own book: what its hosted page decided."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment_id = models.CharField(_("payment"), max_length=64, db_index=True)
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    description = models.CharField(_("description"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    deliver_notification = models.BooleanField(_("deliver the notification"), default=True)
    save_method = models.BooleanField(_("save the method"), default=False)
    method_token = models.CharField(_("method token"), max_length=100, blank=True)
    return_url = models.TextField(_("return URL"), blank=True)
    cancel_url = models.TextField(_("cancel URL"), blank=True)
    notify_url = models.TextField(_("notification URL"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("sandbox charge")
        verbose_name_plural = _("sandbox charges")

    def __str__(self) -> str:
        return f"sandbox {self.id} {self.status}"
