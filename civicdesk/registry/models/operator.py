"""The operator running this installation. Later: providers, territories, buildings, accounts."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
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

    class Meta:
        verbose_name = _("operator")
        verbose_name_plural = _("operator")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        self.currency = (self.currency or "").upper()
        if self.enabled_languages and self.default_language not in self.enabled_languages:
            raise ValidationError(
                {"default_language": _("The default language must be one of the enabled ones.")}
            )
        if Operator.objects.exclude(pk=self.pk).exists():
            raise ValidationError(_("There is already an operator; edit it instead."))
