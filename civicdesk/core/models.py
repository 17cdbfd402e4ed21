"""Shared model mixins and the append-only audit log."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class AppendOnlyError(RuntimeError):
    """An append-only record was asked to change or disappear."""


class AppendOnlyModel(models.Model):
    """Rows are inserted once and never updated or deleted (audit trails, ledgers, timelines)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")


class AuditEvent(AppendOnlyModel):
    """Security-relevant events: logins, failures, lockouts, permission denials, MFA, tokens."""

    class Action(models.TextChoices):
        LOGIN_SUCCEEDED = "login.succeeded", _("Login succeeded")
        LOGIN_FAILED = "login.failed", _("Login failed")
        LOGIN_LOCKED_OUT = "login.locked_out", _("Locked out after failed logins")
        LOGOUT = "logout", _("Logout")
        MFA_SUCCEEDED = "mfa.succeeded", _("MFA code accepted")
        MFA_FAILED = "mfa.failed", _("MFA code refused")
        PERMISSION_DENIED = "permission.denied", _("Permission denied")
        PASSWORD_CHANGED = "password.changed", _("Password changed")
        PASSWORD_RESET = "password.reset", _("Password reset")
        SESSIONS_REVOKED = "sessions.revoked", _("Other sessions logged out")
        TOKEN_CREATED = "token.created", _("API token issued")
        TOKEN_REVOKED = "token.revoked", _("API token revoked")
        USER_REGISTERED = "user.registered", _("Registered")
        READING_ENTERED = "reading.entered", _("Meter reading entered by staff")
        READING_REVIEWED = "reading.reviewed", _("Flagged meter reading reviewed")
        METER_CHANGED = "meter.changed", _("Meter changed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    occurred_at = models.DateTimeField(_("occurred at"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=40, choices=Action.choices, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    identifier = models.CharField(_("identifier"), max_length=254, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    path = models.CharField(_("path"), max_length=300, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action} {self.identifier}"


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` a caller sent with a money-moving API request, and the answer it got.

    One row per (caller, key). While the request runs the row is `in_flight`; once the endpoint
    has answered with anything but a 5xx, a 409 or a 429 it is `completed` and holds that answer,
    which a retry with the same key and the same request gets again. See core/idempotency.py.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", _("In progress")
        COMPLETED = "completed", _("Completed")

    scope = models.CharField(
        _("caller"), max_length=64, help_text=_("Whose key this is, e.g. user:42.")
    )
    key = models.CharField(_("key"), max_length=255)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=500)
    request_digest = models.CharField(
        _("request digest"),
        max_length=64,
        help_text=_("SHA-256 of the method, path, query and canonical body."),
    )
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.IN_FLIGHT
    )
    recoverable = models.BooleanField(
        _("recoverable"),
        default=True,
        help_text=_(
            "The endpoint's writes and the stored answer commit together, so a request that died "
            "while in progress left nothing behind and a retry may take its key over."
        ),
    )
    claim_token = models.UUIDField(_("claim token"), default=uuid.uuid4, editable=False)
    claimed_at = models.DateTimeField(_("claimed at"))
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_body = models.TextField(_("response body"), blank=True)
    response_headers = models.JSONField(_("response headers"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key"], name="core_idempotency_key_unique_per_caller"
            ),
        ]
        ordering = ["-created_at"]
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")

    def __str__(self) -> str:
        return f"{self.scope} {self.key} ({self.state})"
