"""Account pages through the real URLs: register, verify, login, lockout, MFA, profile,
password, reset and sessions. Errors are shown translated and nothing is half-written."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from civicdesk.core.models import AuditEvent
from civicdesk.identity.models import User, UserSession

pytestmark = pytest.mark.django_db

REGISTER = {
    "full_name": "Naledi Mahlangu",
    "email": "naledi@example.org",
    "phone": "",
    "preferred_channel": "email",
    "password": "a long enough passphrase",
}


def _code(text: str) -> str:
    return re.search(r"\b(\d{6})\b", text).group(1)


def test_register_verify_and_arrive_logged_in(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/register/", REGISTER)
    assert response.status_code == 302 and response["Location"] == "/verify/"
    user = User.objects.get(email="naledi@example.org")
    response = client.post("/verify/", {"code": _code(mailoutbox[0].body)}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert response.context["user"] == user
    user.refresh_from_db()
    assert user.email_verified


def test_register_with_a_taken_email_shows_a_clear_error(client, make_user):
    make_user("naledi@example.org")
    response = client.post("/register/", REGISTER)
    assert response.status_code == 200
    assert "An account with this e-mail address already exists." in response.content.decode()
    assert User.objects.count() == 1


def test_register_errors_are_translated(client):
    response = client.post("/register/", {**REGISTER, "phone": "12345"}, HTTP_ACCEPT_LANGUAGE="uk")
    assert response.status_code == 200
    assert response.context["form"].errors["phone"]
    assert '<html lang="uk">' in response.content.decode()
    assert not User.objects.exists()


def test_wrong_verification_code_is_refused_then_locked(
    client, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.VERIFICATION_CODE_MAX_ATTEMPTS = 2
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/register/", REGISTER)
    real = _code(mailoutbox[0].body)
    wrong = "000000" if real != "000000" else "111111"
    body = client.post("/verify/", {"code": wrong}).content.decode()
    assert "That code is not right." in body
    body = client.post("/verify/", {"code": wrong}).content.decode()
    assert "Too many wrong codes." in body
    body = client.post("/verify/", {"code": real}).content.decode()
    assert "Too many wrong codes." in body
    assert not User.objects.get().email_verified


def test_login_success_and_failure_are_audited(client, make_user):
    user = make_user("thandi@example.org")
    response = client.post("/login/", {"username": "thandi@example.org", "password": "nope"})
    assert response.status_code == 200
    assert "The e-mail address or password is not right." in response.content.decode()
    response = client.post(
        "/login/", {"username": "THANDI@example.org", "password": user.raw_password}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    actions = list(AuditEvent.objects.order_by("occurred_at").values_list("action", "identifier"))
    assert ("login.failed", "thandi@example.org") in actions
    assert ("login.succeeded", "thandi@example.org") in actions
    assert UserSession.objects.filter(user=user).count() == 1


def test_unverified_resident_is_sent_to_verify(
    client, make_user, mailoutbox, django_capture_on_commit_callbacks
):
    user = make_user(verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/login/", {"username": user.email, "password": user.raw_password})
    assert response["Location"] == "/verify/"
    assert len(mailoutbox) == 1


def test_lockout_after_repeated_failures(client, make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = make_user()
    for _ in range(3):
        client.post("/login/", {"username": user.email, "password": "wrong"})
    response = client.post("/login/", {"username": user.email, "password": user.raw_password})
    assert response.status_code == 429
    assert "Too many failed attempts." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="login.locked_out").exists()


def test_staff_must_pass_totp_before_any_staff_page(client, make_user, totp_code):
    agent = make_user(role="call_centre_agent")
    response = client.post("/login/", {"username": agent.email, "password": agent.raw_password})
    assert response["Location"].startswith("/mfa/")
    assert client.get("/staff/")["Location"].startswith("/mfa/")
    assert client.get("/admin/")["Location"].startswith("/mfa/")
    api = client.get("/api/v1/me")
    assert api.status_code == 403 and api["Content-Type"] == "application/problem+json"
    response = client.post("/mfa/", {"code": totp_code(), "next": "/staff/"})
    assert response["Location"] == "/staff/"
    page = client.get("/staff/")
    assert page.status_code == 200 and "Call centre" in page.content.decode()
    assert AuditEvent.objects.filter(action="mfa.succeeded", actor=agent).exists()


def test_staff_without_a_device_enrol_with_a_qr_code(client, make_user):
    admin = make_user(role="operator_admin", totp=False)
    client.post("/login/", {"username": admin.email, "password": admin.raw_password})
    page = client.get("/mfa/").content.decode()
    assert "<svg" in page and "Key" in page


def test_admin_portal_for_the_operator_admin_after_mfa(client, make_user, totp_code):
    admin = make_user(role="operator_admin", is_superuser=True)
    client.post("/login/", {"username": admin.email, "password": admin.raw_password})
    client.post("/mfa/", {"code": totp_code()})
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/registry/operator/").status_code == 200
    assert client.get("/admin/login/")["Location"].startswith("/login/")


def test_residents_are_denied_staff_pages_and_it_is_audited(client, make_user):
    user = make_user()
    client.force_login(user)
    assert client.get("/staff/").status_code == 403
    assert AuditEvent.objects.filter(action="permission.denied", actor=user).exists()


def test_audit_log_is_readable_by_quality_and_not_editable(client, make_user, totp_code):
    quality = make_user(role="quality_controller")
    client.post("/login/", {"username": quality.email, "password": quality.raw_password})
    client.post("/mfa/", {"code": totp_code()})
    page = client.get("/staff/audit/")
    assert page.status_code == 200 and "Login succeeded" in page.content.decode()
    event = AuditEvent.objects.first()
    from civicdesk.core.models import AppendOnlyError

    event.identifier = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


def test_profile_edit_and_bad_phone(client, make_user):
    user = make_user()
    client.force_login(user)
    response = client.post(
        "/profile/", {"full_name": "New Name", "phone": "not a phone", "preferred_language": "en"}
    )
    assert response.status_code == 200 and response.context["form"].errors["phone"]
    user.refresh_from_db()
    assert user.full_name != "New Name"
    response = client.post(
        "/profile/",
        {"full_name": "New Name", "phone": "+27 82 555 1234", "preferred_language": "af"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.full_name, str(user.phone), user.preferred_language) == (
        "New Name",
        "+27825551234",
        "af",
    )
    # The user's language now drives the pages, whatever the browser asks for.
    page = client.get("/profile/", HTTP_ACCEPT_LANGUAGE="ru")
    assert '<html lang="af">' in page.content.decode()


def test_language_switcher_sets_the_users_preference(client, make_user):
    user = make_user()
    client.force_login(user)
    client.post("/i18n/setlang/", {"language": "uk", "next": "/"})
    user.refresh_from_db()
    assert user.preferred_language == "uk"


def test_anonymous_language_follows_accept_language_until_chosen(client):
    assert '<html lang="ru">' in client.get("/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    client.post("/i18n/setlang/", {"language": "af", "next": "/"})
    assert '<html lang="af">' in client.get("/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()


def test_choosing_sms_sends_a_phone_code(client, make_user, django_capture_on_commit_callbacks):
    from civicdesk.notifications import sms

    user = make_user(phone="+27821234567")
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/profile/notifications/", {"preferred_channel": "sms", "preferred_language": "en"}
        )
    assert response["Location"] == "/verify/phone/"
    assert sms.outbox and sms.outbox[-1][0] == "+27821234567"
    response = client.post("/verify/phone/", {"code": _code(sms.outbox[-1][1])})
    user.refresh_from_db()
    assert user.phone_verified and user.effective_channel == "sms"


def test_password_change_then_log_out_the_other_sessions(make_user):
    user = make_user()
    other = Client()
    other.post("/login/", {"username": user.email, "password": user.raw_password})
    me = Client()
    me.post("/login/", {"username": user.email, "password": user.raw_password})
    response = me.post(
        "/password/", {"old_password": "wrong", "new_password": "another passphrase"}
    )
    assert "Your current password is not right." in response.content.decode()
    response = me.post(
        "/password/",
        {"old_password": user.raw_password, "new_password": "another passphrase"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/sessions/"
    page = response.content.decode()
    assert "Log out all other sessions" in page
    me.post("/sessions/")
    assert UserSession.objects.filter(user=user).count() == 1
    assert other.get("/profile/")["Location"].startswith("/login/")
    assert me.get("/profile/").status_code == 200


def test_password_reset_by_link_and_expired_link(
    client, make_user, mailoutbox, django_capture_on_commit_callbacks
):
    user = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/password/reset/", {"identifier": user.email})
    assert "If that address is registered" in response.content.decode()
    link = re.search(r"http://testserver(/password/reset/\S+/)", mailoutbox[0].body).group(1)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        expired = client.get(link)
        assert expired.status_code == 400
        assert "invalid, has expired" in expired.content.decode()
    response = client.post(link, {"new_password": "brand new passphrase"})
    assert response["Location"] == "/login/"
    user.refresh_from_db()
    assert user.check_password("brand new passphrase")
    # The link works once.
    assert client.get(link).status_code == 400


def test_password_reset_for_unknown_email_looks_the_same(client, mailoutbox):
    response = client.post("/password/reset/", {"identifier": "nobody@example.org"})
    assert "If that address is registered" in response.content.decode()
    assert mailoutbox == []


def test_password_reset_by_sms_code(client, make_user, django_capture_on_commit_callbacks):
    from civicdesk.notifications import sms

    user = make_user(phone="+27821234567", phone_verified_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/password/reset/", {"identifier": "+27821234567"})
    assert response["Location"] == "/password/reset/code/"
    code = _code(sms.outbox[-1][1])
    bad = client.post(
        "/password/reset/code/",
        {"code": "000000" if code != "000000" else "1", "new_password": "sms new passphrase"},
    )
    assert "That code is not right." in bad.content.decode()
    client.post("/password/reset/code/", {"code": code, "new_password": "sms new passphrase"})
    user.refresh_from_db()
    assert user.check_password("sms new passphrase")


def test_bad_reset_link_is_refused(client, make_user):
    user = make_user()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    assert client.get(f"/password/reset/{uid}/not-a-token/").status_code == 400
    assert client.get("/password/reset/%%%/x/").status_code in (400, 404)
    token = default_token_generator.make_token(user)
    assert client.get(f"/password/reset/{uid}/{token}/").status_code == 200


def test_idle_session_times_out(client, make_user, settings):
    user = make_user()
    client.post("/login/", {"username": user.email, "password": user.raw_password})
    assert client.get("/profile/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SESSION_IDLE_TIMEOUT + 5)):
        assert client.get("/profile/")["Location"].startswith("/login/")


def test_absolute_session_timeout_despite_activity(client, make_user, settings):
    settings.SESSION_IDLE_TIMEOUT = 600
    settings.SESSION_ABSOLUTE_TIMEOUT = 1800
    user = make_user()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        client.post("/login/", {"username": user.email, "password": user.raw_password})
        for _ in range(3):
            traveller.shift(500)
            assert client.get("/profile/").status_code == 200
        traveller.shift(500)  # 2000 s after login
        assert client.get("/profile/")["Location"].startswith("/login/")
