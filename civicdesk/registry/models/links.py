"""Residents linking themselves to accounts: requests, proofs, links and invitations."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicdesk.registry.models.accounts import HolderRole, PersonalAccount


class LinkMethod(models.TextChoices):
    CODE = "code", _("Code sent to the contact on file")
    LAST_BILL = "last_bill", _("Amount of the last bill")
    DOCUMENT = "document", _("Document reviewed by staff")
    INVITATION = "invitation", _("Invitation from a holder")
    STAFF = "staff", _("Linked by staff")


# The proofs a resident may offer when starting a link (the rest are given by others).
LINK_START_METHODS = [
    (m.value, m.label) for m in (LinkMethod.CODE, LinkMethod.LAST_BILL, LinkMethod.DOCUMENT)
]


class AccountLink(models.Model):
    """A user may see and act on an account. Revoked links stay for the record."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_links"
    )
    account = models.ForeignKey(PersonalAccount, on_delete=models.CASCADE, related_name="links")
    role = models.CharField(_("role"), max_length=10, choices=HolderRole.choices)
    method = models.CharField(_("proof"), max_length=12, choices=LinkMethod.choices)
    created_at = models.DateTimeField(_("linked at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("unlinked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("account link")
        verbose_name_plural = _("account links")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "account"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_active_link_per_user_account",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.account}"


class LinkRequest(models.Model):
    """A resident's attempt to link an account. `account` stays hidden from the resident: an
    unknown number gets the same answers as a known one."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for your proof")
        IN_REVIEW = "in_review", _("Waiting for staff review")
        CONFIRMED = "confirmed", _("Linked")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Too many wrong answers")
        EXPIRED = "expired", _("Expired")

    class DocumentKind(models.TextChoices):
        LEASE = "lease", _("Lease")
        TITLE_DEED = "title_deed", _("Title deed")
        IDENTITY = "identity", _("Identity document")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="link_requests"
    )
    account_number = models.CharField(_("account number"), max_length=20)
    account = models.ForeignKey(
        PersonalAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    method = models.CharField(_("proof"), max_length=12, choices=LinkMethod.choices)
    role = models.CharField(_("role"), max_length=10, choices=HolderRole.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    code_digest = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    document = models.FileField(_("document"), upload_to="link-documents/%Y/%m/", blank=True)
    document_kind = models.CharField(
        _("document type"), max_length=12, choices=DocumentKind.choices, blank=True
    )
    document_content_type = models.CharField(max_length=100, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("link request")
        verbose_name_plural = _("link requests")
        permissions = [("review_linkrequest", "Can review documents that prove an account")]

    def __str__(self) -> str:
        return f"{self.account_number} by {self.user} ({self.status})"


class LinkInvitation(models.Model):
    """A holder invites another person (e.g. a tenant) to an account with a role."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        PersonalAccount, on_delete=models.CASCADE, related_name="invitations"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    email = models.EmailField(_("e-mail"))
    role = models.CharField(_("role"), max_length=10, choices=HolderRole.choices)
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.email} → {self.account} ({self.role})"
