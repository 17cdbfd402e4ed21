"""Tariffs as loaded: each version of a definition, stored in its canonical form.

A tariff is identified by its code; every load of a changed definition adds a version. The
version in force on a day is the one with the latest ``valid_from`` on or before that day
(and no ``valid_to`` before it), and among versions with the same ``valid_from`` the highest
version number: a correction of a tariff already billed is a new version with the same
``valid_from``, and the next billing run prices again and posts the differences.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicdesk.registry.models import ServiceType


class Tariff(models.Model):
    code = models.SlugField(_("code"), max_length=64)
    version = models.PositiveIntegerField(_("version"))
    name = models.CharField(_("name"), max_length=200, blank=True)
    service = models.CharField(_("service"), max_length=20, choices=ServiceType.choices)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    definition = models.JSONField(_("definition"))
    source = models.TextField(_("source text"), blank=True)
    digest = models.CharField(_("digest"), max_length=64)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now_add=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("loaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["code", "-valid_from", "-version"]
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="tariff_code_version"),
        ]
        indexes = [models.Index(fields=["code", "valid_from"], name="tariff_code_from")]

    def __str__(self) -> str:
        return f"{self.code} v{self.version} ({self.valid_from})"
