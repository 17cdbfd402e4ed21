"""Identity services: registration, codes, passwords, sessions, tokens, MFA."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.utils import timezone

from civicdesk.core.models import AuditEvent
from civicdesk.identity import services
from civicdesk.identity.models import ApiToken, User, UserSession, VerificationCode
from civicdesk.identity.services import CodeResult, Purpose
from civicdesk.notifications import sms

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _commit(django_capture_on_commit_callbacks):
    """Messages are sent when the transaction commits; run those callbacks as a commit would."""
    global _committed
    _committed = django_capture_on_commit_callbacks


def _register(**overrides):
    with _committed(execute=True):
        return _register_now(**overrides)


def _register_now(**overrides):
    data = {
        "email": "Naledi@Example.org",
        "password": "a long enough passphrase",
        "full_name": "Naledi Mahlangu",
        "preferred_language": "af",
    }
    data.update(overrides)
    return services.user_register(**data)


def _code_from(text: str) -> str:
    return re.search(r"\b(\d{6})\b", text).group(1)


def test_register_creates_resident_and_emails_code_in_their_language(mailoutbox):
    user = _register()
    assert user.email == "naledi@example.org"
    assert user.role_names == ["Resident"]
    assert not user.email_verified
    assert user.check_password("a long enough passphrase")
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["naledi@example.org"]
    assert AuditEvent.objects.filter(action="user.registered", actor=user).exists()
    code = _code_from(mailoutbox[0].body)
    assert services.email_verify(user=user, code=code) is CodeResult.OK
    user.refresh_from_db()
    assert user.email_verified


def test_register_with_sms_channel_also_texts_a_phone_code(mailoutbox):
    user = _register(phone="+27821234567", preferred_channel="sms")
    assert len(mailoutbox) == 1
    assert [to for to, _body in sms.outbox] == ["+27821234567"]
    assert user.effective_channel == "email"  # not until the phone is verified
    assert services.phone_verify(user=user, code=_code_from(sms.outbox[0][1])) is CodeResult.OK
    user.refresh_from_db()
    assert user.phone_verified and user.effective_channel == "sms"


def test_register_twice_with_the_same_email_is_refused_and_creates_nothing(mailoutbox):
    _register()
    with pytest.raises(ValidationError) as exc:
        _register(email="NALEDI@example.org", full_name="Someone Else")
    assert "already exists" in str(exc.value.message_dict["email"])
    assert User.objects.count() == 1
    assert len(mailoutbox) == 1


@pytest.mark.parametrize(
    "password", ["short", "password123", "12345678901234", "naledi@example.org"]
)
def test_weak_passwords_are_refused_and_nothing_is_created(password):
    with pytest.raises(ValidationError) as exc:
        _register(password=password)
    assert "password" in exc.value.message_dict
    assert not User.objects.exists()


def test_long_passphrases_are_allowed_up_to_128():
    user = _register(password="word " * 20)  # 100 characters
    assert user.check_password("word " * 20)
    with pytest.raises(ValidationError):
        _register(email="other@example.org", password="x" * 129)


def test_malformed_phone_is_refused():
    with pytest.raises(ValidationError) as exc:
        _register(phone="12345")
    assert "phone" in exc.value.message_dict
    assert not User.objects.exists()


def test_wrong_codes_are_counted_and_then_locked(settings, mailoutbox):
    settings.VERIFICATION_CODE_MAX_ATTEMPTS = 3
    user = _register()
    code = _code_from(mailoutbox[0].body)
    wrong = "000000" if code != "000000" else "111111"
    assert services.email_verify(user=user, code=wrong) is CodeResult.WRONG
    assert services.email_verify(user=user, code=wrong) is CodeResult.WRONG
    assert services.email_verify(user=user, code=wrong) is CodeResult.TOO_MANY_ATTEMPTS
    # Even the right code is refused now: a new one must be requested.
    assert services.email_verify(user=user, code=code) is CodeResult.TOO_MANY_ATTEMPTS
    user.refresh_from_db()
    assert not user.email_verified
    assert VerificationCode.objects.get(user=user, consumed_at=None).attempts == 3


def test_expired_code_is_refused(mailoutbox):
    user = _register()
    code = _code_from(mailoutbox[0].body)
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert services.email_verify(user=user, code=code) is CodeResult.EXPIRED
    user.refresh_from_db()
    assert not user.email_verified


def test_a_code_works_once_and_a_new_code_replaces_the_old(mailoutbox):
    user = _register()
    first = _code_from(mailoutbox[0].body)
    with _committed(execute=True):
        services.code_issue(user=user, purpose=Purpose.VERIFY_EMAIL)
    second = _code_from(mailoutbox[1].body)
    if first != second:
        assert services.email_verify(user=user, code=first) is CodeResult.WRONG
    assert services.email_verify(user=user, code=second) is CodeResult.OK
    assert services.email_verify(user=user, code=second) is CodeResult.EXPIRED


def test_changing_the_phone_unverifies_it_and_sms_falls_back_to_email(make_user):
    user = make_user(
        phone="+27821234567", preferred_channel="sms", phone_verified_at=timezone.now()
    )
    assert user.effective_channel == "sms"
    with _committed(execute=True):
        user = services.user_update_profile(user=user, phone="+27829876543")
    assert not user.phone_verified
    assert user.effective_channel == "email"
    assert sms.outbox[-1][0] == "+27829876543"  # a new code went to the new number


def test_choosing_sms_without_a_phone_is_refused(make_user):
    user = make_user()
    with pytest.raises(ValidationError) as exc:
        services.user_update_profile(user=user, preferred_channel="sms")
    assert "preferred_channel" in exc.value.message_dict
    user.refresh_from_db()
    assert user.preferred_channel == "email"


def test_password_change_needs_the_current_password(make_user):
    user = make_user()
    with pytest.raises(ValidationError) as exc:
        services.password_change(user=user, old_password="wrong", new_password="a new passphrase")
    assert "old_password" in exc.value.message_dict
    user.refresh_from_db()
    assert user.check_password(user.raw_password)
    services.password_change(
        user=user, old_password=user.raw_password, new_password="a new passphrase"
    )
    user.refresh_from_db()
    assert user.check_password("a new passphrase")
    assert AuditEvent.objects.filter(action="password.changed", actor=user).exists()


def test_password_reset_by_email_says_nothing_about_unknown_addresses(mailoutbox):
    started = services.password_reset_start(identifier="nobody@example.org", base_url="http://x/")
    assert started.channel is None
    assert mailoutbox == []


def test_password_reset_by_sms_for_a_verified_phone(make_user):
    user = make_user(phone="+27821234567", phone_verified_at=timezone.now())
    with _committed(execute=True):
        started = services.password_reset_start(identifier="+27 82 123 4567", base_url="http://x/")
    assert started.channel == "sms" and started.user == user
    code = _code_from(sms.outbox[-1][1])
    assert (
        services.code_check(user=user, purpose=Purpose.RESET_PASSWORD, code=code) is CodeResult.OK
    )


def test_sessions_end_keeps_the_current_one(make_user):
    user = make_user()
    keys = []
    for _ in range(3):
        store = SessionStore()
        store["_auth_user_id"] = str(user.pk)
        store.create()
        keys.append(store.session_key)
        services.session_track(
            user=user, session_key=store.session_key, ip="10.0.0.1", user_agent="t"
        )
    ended = services.sessions_end(user=user, keep_session_key=keys[0])
    assert ended == 2
    assert list(Session.objects.values_list("session_key", flat=True)) == [keys[0]]
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [keys[0]]


def test_tokens_are_stored_as_digests_and_revocable(make_user):
    user = make_user()
    token, key = services.token_create(user=user)
    assert key not in token.key_digest and len(key) >= 40
    assert ApiToken.objects.get(pk=token.pk).is_valid
    services.token_revoke(token=token)
    assert not ApiToken.objects.get(pk=token.pk).is_valid


def test_totp_enrolment_confirms_on_the_first_good_code(make_user, totp_code):
    user = make_user(role="call_centre_agent", totp=False)
    device = services.totp_enrol_start(user=user)
    assert services.totp_confirmed_device(user) is None
    secret = base64.b32encode(device.bin_key).decode()
    wrong = "000000" if totp_code(secret) != "000000" else "111111"
    assert services.totp_verify(user=user, token=wrong) is None
    # django-otp throttles a device after a failure (1 s, doubling): wait it out.
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        assert services.totp_verify(user=user, token=totp_code(secret)) is not None
    assert services.totp_confirmed_device(user) is not None
    actions = list(AuditEvent.objects.filter(actor=user).values_list("action", flat=True))
    assert "mfa.failed" in actions and "mfa.succeeded" in actions


def test_argon2_is_the_password_hasher_outside_tests():
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='civicdesk.config.settings';"
            "django.setup();from django.contrib.auth.hashers import get_hasher;"
            "print(get_hasher().algorithm)",
        ],
        capture_output=True,
        text=True,
        env={"CIVICDESK_ENV": "development", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert out.stdout.strip() == "argon2"
