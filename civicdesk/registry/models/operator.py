"""The operator running this installation, with its settings for identifiers and linking."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField


class Jurisdiction(models.TextChoices):
    ZA = "ZA", _("South Africa")
    UA = "UA", _("Ukraine")
    RU = "RU", _("Russia")


LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]


def validate_languages(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(_("Choose at least one language."))
    unknown = [v for v in value if v not in LANGUAGE_CODES]
    if unknown:
        raise ValidationError(
            _("Unknown languages: %(codes)s. Choose from %(known)s.")
            % {"codes": ", ".join(map(str, unknown)), "known": ", ".join(LANGUAGE_CODES)}
        )


def validate_digits(value: str) -> None:
    if value and not value.isdigit():
        raise ValidationError(_("Use digits only."))


def validate_timezone(value: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("%(tz)s is not a known time zone.") % {"tz": value}) from exc


class Operator(models.Model):
    """The organisation running the installation: exactly one row."""

    name = models.CharField(_("name"), max_length=200)
    jurisdiction = models.CharField(_("jurisdiction"), max_length=2, choices=Jurisdiction.choices)
    currency = models.CharField(_("currency"), max_length=3, help_text=_("ISO 4217, e.g. ZAR"))
    timezone = models.CharField(_("time zone"), max_length=64, validators=[validate_timezone])
    default_language = models.CharField(
        _("default language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    enabled_languages = models.JSONField(
        _("enabled languages"), default=list, validators=[validate_languages]
    )
    email = models.EmailField(_("contact e-mail"), blank=True)
    phone = PhoneNumberField(_("contact phone"), blank=True)
    website = models.URLField(_("website"), blank=True)
    address = models.TextField(_("address"), blank=True)

    # Account numbers: digits, an optional prefix, one check digit (core.identifiers).
    account_number_algorithm = models.CharField(
        _("account number check digit"),
        max_length=10,
        choices=[("luhn", "Luhn"), ("verhoeff", "Verhoeff"), ("damm", "Damm")],
        default="luhn",
    )
    account_number_length = models.PositiveSmallIntegerField(
        _("account number length"),
        default=10,
        validators=[MinValueValidator(4), MaxValueValidator(20)],
    )
    account_number_prefix = models.CharField(
        _("account number prefix"), max_length=6, blank=True, validators=[validate_digits]
    )
    account_number_next = models.PositiveBigIntegerField(
        _("next account sequence"), default=1, editable=False
    )
    # How residents prove an account is theirs.
    link_by_code = models.BooleanField(
        _("link with a code sent to the contact on file"), default=True
    )
    link_by_last_bill = models.BooleanField(
        _("link with the amount of the last bill"), default=True
    )
    link_by_document = models.BooleanField(
        _("link with a document reviewed by staff"), default=True
    )
    link_max_attempts = models.PositiveSmallIntegerField(
        _("wrong answers allowed per link request"), default=5
    )
    link_max_requests_per_day = models.PositiveSmallIntegerField(
        _("link requests allowed per resident per day"), default=10
    )

    # Money: how payments meet charges, and who must approve refunds.
    allocation_rule = models.CharField(
        _("payment allocation rule"),
        max_length=20,
        choices=[
            ("oldest_first", _("Oldest charges first")),
            ("proportional", _("Oldest bill first, shared across its providers")),
        ],
        default="oldest_first",
    )
    allocation_provider_priority = models.JSONField(
        _("provider order within a bill"),
        default=list,
        blank=True,
        help_text=_("Provider codes, first paid first (oldest-first rule)."),
    )
    refund_second_approval_minor = models.PositiveBigIntegerField(
        _("refunds above this need a second approver (minor units)"), default=100000
    )

    class Meta:
        verbose_name = _("operator")
        verbose_name_plural = _("operator")

    def __str__(self) -> str:
        return self.name

    @property
    def account_number_format(self):
        from civicdesk.core.identifiers import AccountNumberFormat

        return AccountNumberFormat(
            algorithm=self.account_number_algorithm,
            length=self.account_number_length,
            prefix=self.account_number_prefix,
        )

    def clean(self) -> None:
        super().clean()
        self.currency = (self.currency or "").upper()
        if self.enabled_languages and self.default_language not in self.enabled_languages:
            raise ValidationError(
                {"default_language": _("The default language must be one of the enabled ones.")}
            )
        try:
            self.account_number_format  # noqa: B018 - validates length and prefix together
        except ValueError as exc:
            raise ValidationError(
                {"account_number_length": _("The length must leave room after the prefix.")}
            ) from exc
        if Operator.objects.exclude(pk=self.pk).exists():
            raise ValidationError(_("There is already an operator; edit it instead."))
