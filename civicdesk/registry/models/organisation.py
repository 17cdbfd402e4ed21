"""Providers, territories and service centres."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from civicdesk.core.models import TimeStampedModel


class ServiceType(models.TextChoices):
    COLD_WATER = "cold_water", _("Cold water")
    HOT_WATER = "hot_water", _("Hot water")
    SEWERAGE = "sewerage", _("Sewerage")
    ELECTRICITY = "electricity", _("Electricity")
    GAS = "gas", _("Gas")
    HEATING = "heating", _("Heating")
    SOLID_WASTE = "solid_waste", _("Solid waste")
    MAINTENANCE = "maintenance", _("Maintenance")
    CAPITAL_REPAIR = "capital_repair", _("Capital repair")
    PROPERTY_RATES = "property_rates", _("Property rates")
    SCHEME_LEVY = "scheme_levy", _("Scheme levy")
    OTHER = "other", _("Other")


def validate_service_types(value) -> None:
    if not isinstance(value, list):
        raise ValidationError(_("Give a list of service types."))
    unknown = sorted(set(value) - set(ServiceType.values))
    if unknown:
        raise ValidationError(_("Unknown service types: %(types)s") % {"types": ", ".join(unknown)})


PROVIDER_ERRORS = {
    "iban_invalid": _("This IBAN is not valid: check its length and digits."),
    "tax_number_invalid": _("This tax number is not valid for the operator's country."),
    "za_branch_code": _("A South African branch code has 6 digits."),
    "ua_iban_required": _("Ukrainian providers are paid by IBAN."),
    "ru_bic": _("A Russian BIC has 9 digits."),
    "ru_account_key": _("This account number does not match the BIC (control key)."),
}


class Provider(TimeStampedModel):
    """A supplier whose services appear on bills (water utility, electricity network, …)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    registration_number = models.CharField(
        _("company registration number"), max_length=40, blank=True
    )
    tax_number = models.CharField(
        _("tax number"),
        max_length=40,
        blank=True,
        help_text=_("VAT number (ZA), EDRPOU (UA) or INN (RU)."),
    )
    bank_name = models.CharField(_("bank"), max_length=200, blank=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bank_account = models.CharField(
        _("bank account number"), max_length=34, blank=True, help_text=_("Where there is no IBAN.")
    )
    bank_code = models.CharField(
        _("bank code"), max_length=20, blank=True, help_text=_("Branch code (ZA), BIC or MFO.")
    )
    correspondent_account = models.CharField(
        _("correspondent account"), max_length=20, blank=True, help_text=_("Russia.")
    )
    services = models.JSONField(
        _("services supplied"), default=list, blank=True, validators=[validate_service_types]
    )
    email = models.EmailField(_("e-mail"), blank=True)
    phone = PhoneNumberField(_("phone"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("provider")
        verbose_name_plural = _("providers")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        from civicdesk.registry.selectors import operator_get
        from civicdesk.registry.validation import provider_errors

        operator = operator_get()
        codes = provider_errors(
            jurisdiction=operator.jurisdiction if operator else "",
            iban=self.iban,
            bank_account=self.bank_account,
            bank_code=self.bank_code,
            tax_number=self.tax_number,
            correspondent_account=self.correspondent_account,
        )
        if codes:
            raise ValidationError({field: PROVIDER_ERRORS[code] for field, code in codes.items()})


class Territory(TimeStampedModel):
    """A district or an area within one. Drives routing of cases and outage reports."""

    class Kind(models.TextChoices):
        DISTRICT = "district", _("District")
        AREA = "area", _("Area")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("part of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    boundary = models.JSONField(
        _("boundary (GeoJSON)"),
        null=True,
        blank=True,
        help_text=_("A GeoJSON Polygon or MultiPolygon in longitude/latitude."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("territory")
        verbose_name_plural = _("territories")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        from civicdesk.registry.geo import GeoError, parse_boundary

        if self.kind == self.Kind.AREA and self.parent is None:
            raise ValidationError({"parent": _("An area must be part of a district.")})
        if self.kind == self.Kind.DISTRICT and self.parent is not None:
            raise ValidationError({"parent": _("A district is not part of another territory.")})
        if self.boundary:
            try:
                parse_boundary(self.boundary)
            except GeoError as exc:
                raise ValidationError({"boundary": str(exc)}) from exc


class ServiceCentre(TimeStampedModel):
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300)
    territory = models.ForeignKey(
        Territory, verbose_name=_("territory"), on_delete=models.PROTECT, related_name="centres"
    )
    phone = PhoneNumberField(_("phone"), blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("service centre")
        verbose_name_plural = _("service centres")

    def __str__(self) -> str:
        return self.name


class OpeningHours(models.Model):
    """One opening window on a weekday; a day may have several (e.g. a lunch break)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    centre = models.ForeignKey(ServiceCentre, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")), name="hours_close_after_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens and self.closes and self.closes <= self.opens:
            raise ValidationError({"closes": _("Closing time must be after opening time.")})


class Closure(models.Model):
    """Days a centre is closed beyond public holidays (renovation, elections, …)."""

    centre = models.ForeignKey(
        ServiceCentre, null=True, blank=True, on_delete=models.CASCADE, related_name="closures"
    )
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("to (inclusive)"))
    reason = models.CharField(_("reason"), max_length=200)

    class Meta:
        ordering = ["starts_on"]
        verbose_name = _("closure")
        verbose_name_plural = _("closures")

    def __str__(self) -> str:
        return f"{self.starts_on}–{self.ends_on}: {self.reason}"

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("The last day cannot be before the first.")})
