"""Buildings and the premises in them."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from civicdesk.core.models import TimeStampedModel
from civicdesk.registry.models.organisation import Territory

AREA = {"max_digits": 12, "decimal_places": 2, "validators": [MinValueValidator(Decimal("0"))]}


class Building(TimeStampedModel):
    class ManagementForm(models.TextChoices):
        MUNICIPAL = "municipal", _("Municipal")
        MANAGEMENT_COMPANY = "management_company", _("Management company")
        OWNERS_ASSOCIATION = "owners_association", _("Owners' association / body corporate")
        HOUSING_COOPERATIVE = "housing_cooperative", _("Housing co-operative")
        DIRECT = "direct", _("Direct management by owners")
        PRIVATE = "private", _("Private house")

    code = models.SlugField(_("code"), max_length=60, unique=True)
    address = models.CharField(_("address"), max_length=300, db_index=True)
    territory = models.ForeignKey(
        Territory, verbose_name=_("territory"), on_delete=models.PROTECT, related_name="buildings"
    )
    total_area = models.DecimalField(_("total area of all premises (m²)"), **AREA)
    heated_area = models.DecimalField(_("heated area (m²)"), **AREA)
    management_form = models.CharField(
        _("management form"), max_length=30, choices=ManagementForm.choices
    )
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["address"]
        verbose_name = _("building")
        verbose_name_plural = _("buildings")

    def __str__(self) -> str:
        return self.address

    def clean(self) -> None:
        super().clean()
        if (
            self.heated_area is not None
            and self.total_area is not None
            and self.heated_area > self.total_area
        ):
            raise ValidationError(
                {"heated_area": _("The heated area cannot exceed the total area.")}
            )


class Premises(TimeStampedModel):
    class Kind(models.TextChoices):
        RESIDENTIAL = "residential", _("Residential")
        NON_RESIDENTIAL = "non_residential", _("Non-residential")
        BUSINESS = "business", _("Business")

    building = models.ForeignKey(
        Building, verbose_name=_("building"), on_delete=models.PROTECT, related_name="premises"
    )
    number = models.CharField(_("number"), max_length=20)
    kind = models.CharField(
        _("type"), max_length=20, choices=Kind.choices, default=Kind.RESIDENTIAL
    )
    total_area = models.DecimalField(_("total area (m²)"), **AREA)
    heated_area = models.DecimalField(_("heated area (m²)"), **AREA)
    rooms = models.PositiveSmallIntegerField(_("rooms"), default=1)
    occupants = models.PositiveSmallIntegerField(_("registered occupants"), default=0)
    municipal_valuation = models.DecimalField(
        _("municipal valuation"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    valuation_date = models.DateField(_("valuation date"), null=True, blank=True)
    ownership_share = models.DecimalField(
        _("ownership share"),
        max_digits=7,
        decimal_places=6,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("The owner's share, from 0 to 1."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["building", "number"]
        verbose_name = _("premises")
        verbose_name_plural = _("premises")
        constraints = [
            models.UniqueConstraint(fields=["building", "number"], name="premises_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.building.address}, {self.number}"

    @property
    def address(self) -> str:
        return f"{self.building.address}, {self.number}"

    def clean(self) -> None:
        super().clean()
        if (
            self.heated_area is not None
            and self.total_area is not None
            and self.heated_area > self.total_area
        ):
            raise ValidationError(
                {"heated_area": _("The heated area cannot exceed the total area.")}
            )
        if self.valuation_date and self.municipal_valuation is None:
            raise ValidationError({"municipal_valuation": _("Give the valuation for its date.")})
