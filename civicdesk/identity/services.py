"""Every write to identity: registration, verification codes, passwords, sessions, tokens, MFA."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from civicdesk.core.audit import audit_record
from civicdesk.core.models import AuditEvent
from civicdesk.identity import roles
from civicdesk.identity.models import ApiToken, Channel, User, UserSession, VerificationCode, digest
from civicdesk.notifications.services import notify

Purpose = VerificationCode.Purpose


class CodeResult(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


def code_error_message(result: CodeResult) -> str:
    return {
        CodeResult.WRONG: _("That code is not right. Check the message and try again."),
        CodeResult.EXPIRED: _("That code has expired or was already used. Ask for a new one."),
        CodeResult.TOO_MANY_ATTEMPTS: _("Too many wrong codes. Ask for a new code."),
    }[result]


# --- registration and profile ---------------------------------------------------------------


@transaction.atomic
def user_register(
    *,
    email: str,
    password: str,
    full_name: str,
    phone: str = "",
    preferred_channel: str = Channel.EMAIL,
    preferred_language: str = "en",
    request=None,
) -> User:
    """Create a resident and send the e-mail verification code (and an SMS code if chosen)."""
    email = User.objects.normalize_email(email).strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": _("An account with this e-mail address already exists.")})
    user = User(
        email=email,
        full_name=full_name.strip(),
        phone=phone or "",
        preferred_channel=preferred_channel,
        preferred_language=preferred_language,
    )
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.add(role_group(roles.RESIDENT))
    audit_record(AuditEvent.Action.USER_REGISTERED, request=request, actor=user)
    code_issue(user=user, purpose=Purpose.VERIFY_EMAIL)
    if preferred_channel == Channel.SMS and user.phone:
        code_issue(user=user, purpose=Purpose.VERIFY_PHONE)
    return user


@transaction.atomic
def user_update_profile(*, user: User, **fields) -> User:
    """Change profile fields. A changed phone must be verified again before SMS is used."""
    allowed = {"full_name", "phone", "preferred_channel", "preferred_language"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    user = User.objects.select_for_update().get(pk=user.pk)
    old_phone = str(user.phone or "")
    for name, value in fields.items():
        setattr(user, name, value if value is not None else "")
    if user.preferred_channel == Channel.SMS and not user.phone:
        raise ValidationError(
            {"preferred_channel": _("Add a mobile phone number to receive messages by SMS.")}
        )
    user.full_clean(exclude=["password"])
    phone_changed = str(user.phone or "") != old_phone
    if phone_changed:
        user.phone_verified_at = None
    user.save()
    if (
        user.phone
        and not user.phone_verified_at
        and (phone_changed or "preferred_channel" in fields)
    ) and user.preferred_channel == Channel.SMS:
        code_issue(user=user, purpose=Purpose.VERIFY_PHONE)
    return user


def role_group(role_key: str) -> Group:
    return Group.objects.get_or_create(name=roles.ROLES[role_key].name)[0]


@transaction.atomic
def user_assign_role(*, user: User, role_key: str) -> None:
    role = roles.ROLES[role_key]
    user.groups.add(role_group(role_key))
    if role.staff and not user.is_staff:
        User.objects.filter(pk=user.pk).update(is_staff=True)
        user.is_staff = True


# --- one-time codes -------------------------------------------------------------------------


def _destination(user: User, purpose: str) -> tuple[str, str]:
    if purpose == Purpose.VERIFY_PHONE:
        return Channel.SMS, str(user.phone)
    if purpose == Purpose.RESET_PASSWORD and user.phone_verified:
        return Channel.SMS, str(user.phone)
    return Channel.EMAIL, user.email


@transaction.atomic
def code_issue(*, user: User, purpose: str) -> VerificationCode:
    """Replace any open code of this purpose with a new 6-digit one and send it."""
    channel, destination = _destination(user, purpose)
    now = timezone.now()
    VerificationCode.objects.filter(user=user, purpose=purpose, consumed_at=None).update(
        consumed_at=now
    )
    code = f"{secrets.randbelow(10**6):06d}"
    record = VerificationCode.objects.create(
        user=user,
        purpose=purpose,
        destination=destination,
        code_digest=digest(f"{purpose}:{user.pk}:{code}"),
        expires_at=now + timedelta(seconds=settings.VERIFICATION_CODE_TTL),
    )
    notify(
        user,
        f"identity/{purpose}",
        {"code": code, "minutes": settings.VERIFICATION_CODE_TTL // 60},
        channel=channel,
        recipient=destination,
    )
    return record


def code_check(*, user: User, purpose: str, code: str) -> CodeResult:
    """Check a code. Wrong attempts are counted and kept even though the caller sees an error."""
    now = timezone.now()
    record = (
        VerificationCode.objects.filter(user=user, purpose=purpose, consumed_at=None)
        .order_by("-created_at")
        .first()
    )
    if record is None or record.expires_at <= now:
        return CodeResult.EXPIRED
    if record.attempts >= settings.VERIFICATION_CODE_MAX_ATTEMPTS:
        return CodeResult.TOO_MANY_ATTEMPTS
    expected = digest(f"{purpose}:{user.pk}:{(code or '').strip()}")
    if not secrets.compare_digest(expected, record.code_digest):
        VerificationCode.objects.filter(pk=record.pk).update(attempts=F("attempts") + 1)
        if record.attempts + 1 >= settings.VERIFICATION_CODE_MAX_ATTEMPTS:
            return CodeResult.TOO_MANY_ATTEMPTS
        return CodeResult.WRONG
    updated = VerificationCode.objects.filter(pk=record.pk, consumed_at=None).update(
        consumed_at=now
    )
    return CodeResult.OK if updated else CodeResult.EXPIRED


@transaction.atomic
def email_verify(*, user: User, code: str) -> CodeResult:
    result = code_check(user=user, purpose=Purpose.VERIFY_EMAIL, code=code)
    if result is CodeResult.OK:
        User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
        user.refresh_from_db()
    return result


@transaction.atomic
def phone_verify(*, user: User, code: str) -> CodeResult:
    result = code_check(user=user, purpose=Purpose.VERIFY_PHONE, code=code)
    if result is CodeResult.OK:
        User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
        user.refresh_from_db()
    return result


# --- passwords ------------------------------------------------------------------------------


def _set_password(user: User, password: str) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
    user.set_password(password)
    user.save(update_fields=["password"])


@transaction.atomic
def password_change(*, user: User, old_password: str, new_password: str, request=None) -> None:
    if not user.check_password(old_password):
        raise ValidationError({"old_password": _("Your current password is not right.")})
    _set_password(user, new_password)
    audit_record(AuditEvent.Action.PASSWORD_CHANGED, request=request, actor=user)


@dataclass(frozen=True)
class ResetStarted:
    channel: str | None  # None when no such user: the caller shows the same message either way
    user: User | None


def _find_user(identifier: str) -> User | None:
    identifier = (identifier or "").strip()
    if "@" in identifier:
        return User.objects.filter(email__iexact=identifier, is_active=True).first()
    import phonenumbers

    try:
        number = phonenumbers.parse(identifier, None)
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return User.objects.filter(phone=e164, is_active=True, phone_verified_at__isnull=False).first()


@transaction.atomic
def password_reset_start(*, identifier: str, base_url: str) -> ResetStarted:
    """E-mail a reset link, or text a code to a verified phone. Says nothing about who exists."""
    user = _find_user(identifier)
    if user is None:
        return ResetStarted(channel=None, user=None)
    if user.phone_verified and "@" not in identifier:
        code_issue(user=user, purpose=Purpose.RESET_PASSWORD)
        return ResetStarted(channel=Channel.SMS, user=user)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    notify(
        user,
        "identity/reset_password_link",
        {
            "link": f"{base_url.rstrip('/')}/password/reset/{uid}/{token}/",
            "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        },
        channel=Channel.EMAIL,
        recipient=user.email,
    )
    return ResetStarted(channel=Channel.EMAIL, user=user)


@transaction.atomic
def password_reset_complete(*, user: User, new_password: str, request=None) -> None:
    _set_password(user, new_password)
    sessions_end(user=user)
    audit_record(AuditEvent.Action.PASSWORD_RESET, request=request, actor=user)


# --- sessions -------------------------------------------------------------------------------


@transaction.atomic
def session_track(*, user: User, session_key: str, ip: str | None, user_agent: str) -> None:
    UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user": user,
            "ip_address": ip,
            "user_agent": user_agent[:300],
            "last_seen_at": timezone.now(),
        },
    )


@transaction.atomic
def sessions_end(*, user: User, keep_session_key: str | None = None, request=None) -> int:
    """End every session of `user` except `keep_session_key`. Returns how many ended."""
    others = UserSession.objects.filter(user=user)
    if keep_session_key:
        others = others.exclude(session_key=keep_session_key)
    keys = list(others.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    others.delete()
    if request is not None and keys:
        audit_record(
            AuditEvent.Action.SESSIONS_REVOKED, request=request, actor=user, count=len(keys)
        )
    return len(keys)


# --- API tokens -----------------------------------------------------------------------------


@transaction.atomic
def token_create(*, user: User, request=None) -> tuple[ApiToken, str]:
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        key_digest=digest(key),
        prefix=key[:8],
        expires_at=timezone.now() + timedelta(days=settings.API_TOKEN_TTL_DAYS),
    )
    audit_record(AuditEvent.Action.TOKEN_CREATED, request=request, actor=user, prefix=token.prefix)
    return token, key


@transaction.atomic
def token_revoke(*, token: ApiToken, request=None) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now())
    audit_record(
        AuditEvent.Action.TOKEN_REVOKED, request=request, actor=token.user, prefix=token.prefix
    )


# --- MFA ------------------------------------------------------------------------------------


def totp_confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


@transaction.atomic
def totp_enrol_start(*, user: User) -> TOTPDevice:
    """An unconfirmed TOTP device for the user to add to their authenticator app."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)


def totp_verify(*, user: User, token: str, request=None) -> TOTPDevice | None:
    """The device that accepts `token` (confirming an enrolment), or None. Audited both ways."""
    token = (token or "").strip().replace(" ", "")
    for device in TOTPDevice.objects.filter(user=user).order_by("-confirmed"):
        if token.isdigit() and device.verify_token(token):
            if not device.confirmed:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            audit_record(AuditEvent.Action.MFA_SUCCEEDED, request=request, actor=user)
            return device
    audit_record(AuditEvent.Action.MFA_FAILED, request=request, actor=user)
    return None
