"""The identity API: tokens (staff add their TOTP code) and /me. Errors are problem+json."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from civicdesk.core.models import AuditEvent
from civicdesk.identity.models import ApiToken

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture
def api():
    return APIClient()


def _token(api, user, **extra) -> str:
    response = api.post(
        "/api/v1/auth/token", {"email": user.email, "password": user.raw_password, **extra}
    )
    assert response.status_code == 201, response.content
    return response.json()["token"]


def test_resident_gets_a_token_and_reads_their_profile(api, make_user):
    user = make_user(full_name="Thandi Mokoena", phone="+27821234567")
    token = _token(api, user)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = api.get("/api/v1/me").json()
    assert body["email"] == user.email
    assert body["full_name"] == "Thandi Mokoena"
    assert body["phone"] == "+27821234567"
    assert body["roles"] == ["Resident"]
    assert body["id"] == str(user.public_id)
    assert "password" not in body


def test_wrong_password_is_a_problem_and_audited(api, make_user):
    user = make_user()
    response = api.post("/api/v1/auth/token", {"email": user.email, "password": "wrong"})
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert (
        body["status"] == 401 and body["detail"] == "The e-mail address or password is not right."
    )
    assert AuditEvent.objects.filter(action="login.failed", identifier=user.email).exists()
    assert not ApiToken.objects.exists()


def test_errors_come_in_the_callers_language(api, make_user):
    user = make_user()
    response = api.post(
        "/api/v1/auth/token",
        {"email": user.email, "password": "wrong"},
        HTTP_ACCEPT_LANGUAGE="uk",
    )
    assert response.status_code == 401
    assert response["Content-Language"] == "uk"


def test_invalid_body_names_the_fields(api):
    response = api.post("/api/v1/auth/token", {"email": "not-an-email"})
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"email", "password"}


def test_staff_need_their_totp_code(api, make_user, totp_code):
    agent = make_user(role="call_centre_agent")
    response = api.post(
        "/api/v1/auth/token", {"email": agent.email, "password": agent.raw_password}
    )
    assert response.status_code == 401 and "otp" in response.json()["detail"]
    wrong = "000000" if totp_code() != "000000" else "111111"
    response = api.post(
        "/api/v1/auth/token",
        {"email": agent.email, "password": agent.raw_password, "otp": wrong},
    )
    assert response.status_code == 401
    assert not ApiToken.objects.exists()


def test_staff_token_with_totp_reaches_the_api(api, make_user, totp_code):
    agent = make_user(role="call_centre_agent")
    token = _token(api, agent, otp=totp_code())
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/me").json()["roles"] == ["Call-centre agent"]


def test_unverified_residents_get_no_token(api, make_user):
    user = make_user(verified=False)
    response = api.post("/api/v1/auth/token", {"email": user.email, "password": user.raw_password})
    assert response.status_code == 403


def test_revoking_a_token(api, make_user):
    user = make_user()
    token = _token(api, user)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.delete("/api/v1/auth/token").status_code == 204
    response = api.get("/api/v1/me")
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM
    assert AuditEvent.objects.filter(action="token.revoked").exists()


def test_garbage_tokens_are_refused(api, make_user):
    for header in ("Bearer", "Bearer a b", "Bearer nonsense", "Token \u00ff"):
        api.credentials(HTTP_AUTHORIZATION=header)
        response = api.get("/api/v1/me")
        assert response.status_code == 401, header
        assert response["Content-Type"] == PROBLEM


def test_patch_me_changes_language_and_channel(api, make_user):
    user = make_user(phone="+27821234567")
    api.force_authenticate(user)
    response = api.patch("/api/v1/me", {"preferred_language": "ru", "full_name": "Ivan"})
    assert response.status_code == 200
    assert response.json()["preferred_language"] == "ru"
    user.refresh_from_db()
    assert (user.preferred_language, user.full_name) == ("ru", "Ivan")


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"phone": "12"}, "phone"),
        ({"preferred_language": "xx"}, "preferred_language"),
        ({"preferred_channel": "pigeon"}, "preferred_channel"),
        ({"full_name": ""}, "full_name"),
    ],
)
def test_patch_me_refuses_bad_values_and_changes_nothing(api, make_user, payload, field):
    user = make_user(full_name="Kept Name")
    api.force_authenticate(user)
    response = api.patch("/api/v1/me", payload)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert field in {e["field"] for e in response.json()["errors"]}
    user.refresh_from_db()
    assert user.full_name == "Kept Name" and user.preferred_language == "en"


def test_sms_channel_without_phone_is_refused(api, make_user):
    user = make_user()
    api.force_authenticate(user)
    response = api.patch("/api/v1/me", {"preferred_channel": "sms"})
    assert response.status_code == 422  # well-formed, refused by a rule
    assert response.json()["errors"][0]["field"] == "preferred_channel"


def test_unauthenticated_me_is_401_problem(api):
    response = api.get("/api/v1/me")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response.json()["title"] == "Not authenticated"


def test_token_endpoint_is_throttled(api, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    # DRF copies the rates onto the class at import: patch it there, for this test only.
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "auth": "3/min"}
    )
    codes = [
        api.post("/api/v1/auth/token", {"email": "x@example.org", "password": "y"}).status_code
        for _ in range(5)
    ]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
