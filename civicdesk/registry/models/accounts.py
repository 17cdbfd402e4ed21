"""Personal accounts: what a bill is addressed to, who holds it and which services it has."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from civicdesk.core.models import TimeStampedModel
from civicdesk.registry.models.organisation import Provider, ServiceType
from civicdesk.registry.models.property import Premises


class DeliveryPreference(models.TextChoices):
    EMAIL = "email", _("E-mail")
    PORTAL = "portal", _("Portal only")
    PAPER = "paper", _("Paper")


class HolderRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    TENANT = "tenant", _("Tenant")
    PAYER = "payer", _("Payer")


class PersonalAccount(TimeStampedModel):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    number = models.CharField(_("account number"), max_length=20, unique=True)
    premises = models.ForeignKey(
        Premises, verbose_name=_("premises"), on_delete=models.PROTECT, related_name="accounts"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    opened_on = models.DateField(_("opened on"))
    suspended_on = models.DateField(_("suspended on"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    delivery_preference = models.CharField(
        _("bill delivery"),
        max_length=10,
        choices=DeliveryPreference.choices,
        default=DeliveryPreference.PORTAL,
    )
    last_bill_amount = models.DecimalField(
        _("last bill amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Kept by billing; residents may prove an account is theirs with it."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["number"]
        verbose_name = _("personal account")
        verbose_name_plural = _("personal accounts")

    def __str__(self) -> str:
        return self.number

    def clean(self) -> None:
        super().clean()
        if self.closed_on and self.opened_on and self.closed_on < self.opened_on:
            raise ValidationError({"closed_on": _("An account cannot close before it opens.")})
        if self.status == self.Status.CLOSED and not self.closed_on:
            raise ValidationError({"closed_on": _("Give the date the account closed.")})
        if self.status == self.Status.SUSPENDED and not self.suspended_on:
            raise ValidationError({"suspended_on": _("Give the date the account was suspended.")})


class AccountHolder(TimeStampedModel):
    """A person who holds an account (they need not have a login)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(PersonalAccount, on_delete=models.CASCADE, related_name="holders")
    role = models.CharField(_("role"), max_length=10, choices=HolderRole.choices)
    full_name = models.CharField(_("full name"), max_length=150, db_index=True)
    id_number = models.CharField(_("identity number"), max_length=40, blank=True)
    email = models.EmailField(_("e-mail"), blank=True, db_index=True)
    phone = PhoneNumberField(_("phone"), blank=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="holdings",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["account", "role", "full_name"]
        verbose_name = _("account holder")
        verbose_name_plural = _("account holders")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "full_name", "role"], name="holder_unique_per_account_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.get_role_display()})"


class AccountService(TimeStampedModel):
    account = models.ForeignKey(PersonalAccount, on_delete=models.CASCADE, related_name="services")
    service_type = models.CharField(_("service"), max_length=20, choices=ServiceType.choices)
    provider = models.ForeignKey(
        Provider, verbose_name=_("provider"), on_delete=models.PROTECT, related_name="+"
    )
    tariff_code = models.CharField(_("tariff code"), max_length=60, blank=True)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["account", "service_type", "starts_on"]
        verbose_name = _("account service")
        verbose_name_plural = _("account services")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "service_type", "provider", "starts_on"],
                name="account_service_unique_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.get_service_type_display()}"

    def clean(self) -> None:
        super().clean()
        if self.ends_on and self.starts_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("A service cannot end before it starts.")})
