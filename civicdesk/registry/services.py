"""Every write to the registry. Record changes keep their history (django-simple-history) with
the acting user; linking never tells an unverified caller whether an account number exists."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from civicdesk.core.identifiers import InvalidIdentifier, account_number_check, account_number_make
from civicdesk.core.uploads import UploadRejected, check_upload
from civicdesk.identity.models import digest
from civicdesk.notifications.services import notify, notify_contact
from civicdesk.registry.models import (
    AccountLink,
    HolderRole,
    LinkInvitation,
    LinkRequest,
    OpeningBalance,
    Operator,
    PersonalAccount,
)
from civicdesk.registry.models.links import LinkMethod
from civicdesk.registry.selectors import operator_get

LINK_REQUEST_TTL = timedelta(hours=24)
LINK_CODE_TTL = timedelta(minutes=15)
INVITATION_TTL = timedelta(days=14)
DOCUMENT_TYPES = {"application/pdf", "image/jpeg", "image/png"}
DOCUMENT_MAX_BYTES = 10 * 1024 * 1024


def _operator() -> Operator:
    operator = operator_get()
    if operator is None:
        raise ValidationError(_("The operator is not set up yet."))
    return operator


# --- records with history -------------------------------------------------------------------


@transaction.atomic
def record_save(instance: models.Model, *, actor=None, reason: str = "") -> models.Model:
    """Validate and save a registry record; its history row names `actor` and `reason`."""
    instance.full_clean()
    if actor is not None and getattr(actor, "pk", None):
        instance._history_user = actor
    if reason:
        instance._change_reason = reason[:100]
    instance.save()
    return instance


# --- account numbers ------------------------------------------------------------------------


def account_number_error(reason: str, operator: Operator) -> str:
    fmt = operator.account_number_format
    return {
        "empty": _("Enter the account number."),
        "format": _("An account number has digits only."),
        "length": _("An account number has %(length)d digits.") % {"length": fmt.length},
        "prefix": _("Account numbers here start with %(prefix)s.") % {"prefix": fmt.prefix},
        "check_digit": _(
            "This account number is not valid: check it against your bill "
            "(its last digit is a check digit)."
        ),
    }[reason]


def account_number_parse(raw: str, *, field: str = "account_number") -> str:
    """The normalised account number, or a ValidationError on `field` saying what is wrong."""
    operator = _operator()
    try:
        return account_number_check(operator.account_number_format, raw)
    except InvalidIdentifier as exc:
        raise ValidationError({field: account_number_error(exc.reason, operator)}) from exc


@transaction.atomic
def account_numbers_allocate(count: int) -> list[str]:
    """`count` new account numbers in the operator's format (locks the operator's counter)."""
    operator = Operator.objects.select_for_update().get(pk=_operator().pk)
    fmt = operator.account_number_format
    start = operator.account_number_next
    numbers = [account_number_make(fmt, start + i) for i in range(count)]
    Operator.objects.filter(pk=operator.pk).update(
        account_number_next=F("account_number_next") + count
    )
    return numbers


@transaction.atomic
def account_open(*, premises, opened_on=None, actor=None, number: str | None = None, **fields):
    number = account_number_parse(number) if number else account_numbers_allocate(1)[0]
    account = PersonalAccount(
        number=number, premises=premises, opened_on=opened_on or timezone.localdate(), **fields
    )
    return record_save(account, actor=actor, reason="opened")


# --- linking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkOutcome:
    request: LinkRequest
    ok: bool
    message: str


def _link_methods(operator: Operator) -> set[str]:
    enabled = set()
    if operator.link_by_code:
        enabled.add(LinkMethod.CODE)
    if operator.link_by_last_bill:
        enabled.add(LinkMethod.LAST_BILL)
    if operator.link_by_document:
        enabled.add(LinkMethod.DOCUMENT)
    return enabled


def _contact_on_file(account: PersonalAccount) -> tuple[str, str] | None:
    """(channel, address) of the first holder with a phone, else with an e-mail; payers and
    owners first."""
    order = {HolderRole.PAYER: 0, HolderRole.OWNER: 1, HolderRole.TENANT: 2}
    holders = sorted(account.holders.all(), key=lambda h: (order.get(h.role, 9), h.pk))
    for holder in holders:
        if holder.phone:
            return "sms", str(holder.phone)
    for holder in holders:
        if holder.email:
            return "email", holder.email
    return None


@transaction.atomic
def link_request_start(
    *,
    user,
    account_number: str,
    method: str,
    role: str = HolderRole.OWNER,
    document=None,
    document_kind: str = "",
) -> LinkRequest:
    """Start linking `user` to an account. The answer is the same whether or not the number
    belongs to an account: a code goes only to the contact on file, a bill amount is checked
    only on confirmation, and a document waits for staff."""
    operator = _operator()
    if method not in _link_methods(operator):
        raise ValidationError({"method": _("This way of proving an account is not offered.")})
    if role not in HolderRole.values:
        raise ValidationError({"role": _("Choose owner, tenant or payer.")})
    since = timezone.now() - timedelta(days=1)
    if (
        LinkRequest.objects.filter(user=user, created_at__gte=since).count()
        >= operator.link_max_requests_per_day
    ):
        raise ValidationError(_("Too many link requests today. Please try again tomorrow."))
    number = account_number_parse(account_number)
    account = (
        PersonalAccount.objects.filter(number=number)
        .exclude(status=PersonalAccount.Status.CLOSED)
        .first()
    )
    if (
        account is not None
        and AccountLink.objects.filter(user=user, account=account, revoked_at=None).exists()
    ):
        raise ValidationError({"account_number": _("This account is already linked to you.")})
    request = LinkRequest(
        user=user,
        account_number=number,
        account=account,
        method=method,
        role=role,
        expires_at=timezone.now() + LINK_REQUEST_TTL,
    )
    if method == LinkMethod.DOCUMENT:
        if document is None:
            raise ValidationError({"document": _("Attach the document.")})
        if document_kind not in LinkRequest.DocumentKind.values:
            raise ValidationError({"document_kind": _("Choose the type of document.")})
        try:
            content_type = check_upload(document, DOCUMENT_TYPES, DOCUMENT_MAX_BYTES)
        except UploadRejected as exc:
            raise ValidationError({"document": exc.message}) from exc
        request.document = document
        request.document_kind = document_kind
        request.document_content_type = content_type
        request.status = LinkRequest.Status.IN_REVIEW
    elif method == LinkMethod.CODE:
        code = f"{secrets.randbelow(10**6):06d}"
        request.expires_at = timezone.now() + LINK_CODE_TTL
        request.code_digest = digest(f"link:{request.id}:{code}")
        contact = _contact_on_file(account) if account is not None else None
        if contact is not None:
            channel, address = contact
            notify_contact(
                channel=channel,
                recipient=address,
                template_key="registry/link_code",
                context={"code": code, "minutes": int(LINK_CODE_TTL.total_seconds() // 60)},
                language=user.preferred_language,
            )
    request.save()
    return request


# Where an account's last bill amount is (the billing app's invoices register theirs); without
# one, the amount imported with the account is used.
_last_bill_sources: list[Callable[[PersonalAccount], Decimal | None]] = []


def last_bill_source_register(source: Callable[[PersonalAccount], Decimal | None]) -> None:
    if source not in _last_bill_sources:
        _last_bill_sources.append(source)


def account_last_bill(account: PersonalAccount) -> Decimal | None:
    """The amount of the account's last bill: what a resident quotes to prove it is theirs."""
    for source in _last_bill_sources:
        found = source(account)
        if found is not None:
            return found
    return account.last_bill_amount


@transaction.atomic
def link_request_confirm(*, user, request_id, code: str = "", amount: str = "") -> LinkOutcome:
    """Check the proof. Wrong answers are counted (and kept: the outcome is returned, not
    raised) up to the operator's limit."""
    request = (
        LinkRequest.objects.select_for_update(of=("self",))
        .select_related("account")
        .get(id=request_id, user=user)
    )
    operator = _operator()
    if request.status != LinkRequest.Status.PENDING:
        return LinkOutcome(request, False, _link_status_message(request))
    if request.expires_at <= timezone.now():
        request.status = LinkRequest.Status.EXPIRED
        request.save(update_fields=["status"])
        return LinkOutcome(request, False, _link_status_message(request))
    account = request.account
    if request.method == LinkMethod.CODE:
        given = digest(f"link:{request.id}:{(code or '').strip()}")
        ok = account is not None and secrets.compare_digest(given, request.code_digest)
    elif request.method == LinkMethod.LAST_BILL:
        try:
            value = Decimal(str(amount).strip().replace(",", ".").replace(" ", ""))
        except InvalidOperation:
            value = None
        last_bill = account_last_bill(account) if account is not None else None
        ok = value is not None and last_bill is not None and value == last_bill
    else:
        return LinkOutcome(request, False, _link_status_message(request))
    if not ok:
        request.attempts += 1
        if request.attempts >= operator.link_max_attempts:
            request.status = LinkRequest.Status.FAILED
        request.save(update_fields=["attempts", "status"])
        if request.status == LinkRequest.Status.FAILED:
            return LinkOutcome(request, False, _link_status_message(request))
        if request.method == LinkMethod.CODE:
            return LinkOutcome(request, False, _("That code is not right."))
        return LinkOutcome(request, False, _("That amount does not match the last bill."))
    _link_create(user=user, account=account, role=request.role, method=request.method)
    request.status = LinkRequest.Status.CONFIRMED
    request.save(update_fields=["status"])
    return LinkOutcome(request, True, _("The account is linked."))


def _link_status_message(request: LinkRequest) -> str:
    return {
        LinkRequest.Status.IN_REVIEW: _("Staff are reviewing your document."),
        LinkRequest.Status.CONFIRMED: _("The account is linked."),
        LinkRequest.Status.REJECTED: _("This request was rejected."),
        LinkRequest.Status.FAILED: _("Too many wrong answers. Start a new request."),
        LinkRequest.Status.EXPIRED: _("This request has expired. Start a new one."),
    }.get(request.status, _("This request cannot be confirmed."))


def _link_create(*, user, account: PersonalAccount, role: str, method: str) -> AccountLink:
    link, _created = AccountLink.objects.get_or_create(
        user=user, account=account, revoked_at=None, defaults={"role": role, "method": method}
    )
    return link


@transaction.atomic
def link_request_review(*, request_id, reviewer, approve: bool, note: str = "") -> LinkRequest:
    """Staff decide on a document: approving links the account, both outcomes tell the user."""
    request = (
        LinkRequest.objects.select_for_update(of=("self",))
        .select_related("account", "user")
        .get(id=request_id)
    )
    if request.status != LinkRequest.Status.IN_REVIEW:
        raise ValidationError(_("This request is not waiting for review."))
    if approve and request.account is None:
        raise ValidationError(_("No open account has this number: reject the request and say why."))
    if not approve and not note.strip():
        raise ValidationError({"note": _("Say why the request is rejected.")})
    request.status = LinkRequest.Status.CONFIRMED if approve else LinkRequest.Status.REJECTED
    request.reviewed_by = reviewer
    request.reviewed_at = timezone.now()
    request.review_note = note.strip()[:500]
    request.save()
    if approve:
        _link_create(
            user=request.user,
            account=request.account,
            role=request.role,
            method=LinkMethod.DOCUMENT,
        )
    notify(
        request.user,
        "registry/link_reviewed",
        {
            "approved": approve,
            "account_number": request.account_number,
            "note": request.review_note,
        },
    )
    return request


@transaction.atomic
def link_revoke(*, user, account: PersonalAccount) -> None:
    updated = AccountLink.objects.filter(user=user, account=account, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    if not updated:
        raise ValidationError(_("This account is not linked to you."))


@transaction.atomic
def link_by_staff(*, user, account: PersonalAccount, role: str) -> AccountLink:
    return _link_create(user=user, account=account, role=role, method=LinkMethod.STAFF)


# --- invitations ----------------------------------------------------------------------------


@transaction.atomic
def invitation_create(*, inviter, account: PersonalAccount, email: str, role: str, base_url: str):
    """A holder (owner or payer) invites someone to the account by e-mail."""
    link = AccountLink.objects.filter(user=inviter, account=account, revoked_at=None).first()
    if link is None or link.role not in (HolderRole.OWNER, HolderRole.PAYER):
        raise ValidationError(_("Only an owner or payer of the account can invite others."))
    if role not in HolderRole.values:
        raise ValidationError({"role": _("Choose owner, tenant or payer.")})
    email = (email or "").strip().lower()
    if email == inviter.email.lower():
        raise ValidationError({"email": _("You cannot invite yourself.")})
    token = secrets.token_urlsafe(24)
    invitation = LinkInvitation.objects.create(
        account=account,
        invited_by=inviter,
        email=email,
        role=role,
        token_digest=digest(token),
        expires_at=timezone.now() + INVITATION_TTL,
    )
    notify_contact(
        channel="email",
        recipient=email,
        template_key="registry/invitation",
        context={
            "inviter": inviter.full_name,
            "link": f"{base_url.rstrip('/')}/accounts/invitations/{token}/",
            "role": invitation.get_role_display(),
            "days": INVITATION_TTL.days,
        },
        language=inviter.preferred_language,
    )
    return invitation, token


@transaction.atomic
def invitation_accept(*, token: str, user) -> AccountLink:
    invitation = (
        LinkInvitation.objects.select_for_update()
        .filter(token_digest=digest(token or ""))
        .select_related("account")
        .first()
    )
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= timezone.now()
    ):
        raise ValidationError(_("This invitation is invalid, has expired or was already used."))
    if invitation.email != user.email.lower():
        raise ValidationError(
            _("This invitation was sent to another e-mail address. Log in with that address.")
        )
    invitation.accepted_by = user
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_by", "accepted_at"])
    return _link_create(
        user=user, account=invitation.account, role=invitation.role, method=LinkMethod.INVITATION
    )


# --- opening balances (kept by the import, posted by the ledger) ----------------------------


def opening_balances_unposted():
    """The imported opening balances the ledger has not posted yet, locked for posting."""
    return (
        OpeningBalance.objects.select_for_update(of=("self",))
        .filter(posted_at__isnull=True)
        .order_by("pk")
    )


@transaction.atomic
def opening_balances_mark_posted(ids: list[int], *, at=None) -> int:
    """Stamp opening balances as posted (the ledger calls this in the transaction that posts
    them, so a second run finds nothing to post)."""
    return OpeningBalance.objects.filter(pk__in=ids, posted_at__isnull=True).update(
        posted_at=at or timezone.now()
    )
