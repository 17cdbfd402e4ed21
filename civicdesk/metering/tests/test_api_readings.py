"""POST /meter-readings (JSON and multipart with a photo), GET /meter-readings for staff and
POST /meter-readings/{id}/review: scoping, refusals as problem+json in the caller's language
with nothing written, multi-register meters, idempotent retries and the review of flagged
readings."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from civicdesk.core.models import AuditEvent
from civicdesk.metering import reasons
from civicdesk.metering.models import MeterRegister, Reading
from civicdesk.metering.tests.api_helpers import (
    NOW,
    PROBLEM,
    api_for,
    household,
    png_bytes,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/meter-readings"
_keys = itertools.count(1)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def home(make_user, operator):
    return household(make_user, email="naledi@example.org")


@pytest.fixture
def neighbour(make_user, operator):
    return household(make_user, email="thabo@example.org")


def written() -> tuple[int, list]:
    return Reading.objects.count(), list(
        MeterRegister.objects.order_by("pk").values_list("last_value", "recent")
    )


# --- accepted -------------------------------------------------------------------------------


def test_a_resident_sends_a_reading_of_a_single_rate_meter(home):
    response = api_for(home.user).post(
        URL, {"meter": str(home.water.public_id), "value": "138.5"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["meter"] == str(home.water.public_id)
    [reading] = body["readings"]
    assert reading["value"] == "138.500"
    assert reading["consumption"] == "8.500"
    assert reading["status"] == "accepted"
    assert reading["source"] == "api"
    assert reading["period"] == "2026-05"
    assert reading["message"] == "Accepted."
    stored = Reading.objects.get(public_id=reading["id"])
    assert stored.submitted_by == home.user and stored.source == "api"


def test_a_comma_is_a_decimal_separator_too(home):
    response = api_for(home.user).post(
        URL, {"meter": str(home.water.public_id), "value": "131,25"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["readings"][0]["value"] == "131.250"


def test_a_day_night_meter_takes_a_value_per_register(home):
    response = api_for(home.user).post(
        URL,
        {"meter": str(home.power.public_id), "values": {"T1": "1390", "T2": "690.5"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    rows = response.json()["readings"]
    assert [(r["register"], r["value"], r["consumption"]) for r in rows] == [
        ("T1", "1390.000", "90.000"),
        ("T2", "690.500", "40.500"),
    ]


# --- refused --------------------------------------------------------------------------------


def test_a_reading_lower_than_before_is_refused_and_nothing_is_written(home):
    before = written()
    response = api_for(home.user).post(
        URL, {"meter": str(home.water.public_id), "value": "120"}, format="json"
    )
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("/reading-rejected")
    assert body["detail"] == "The reading is lower than the previous one (130)."
    assert body["errors"] == [
        {
            "field": "value",
            "message": "The reading is lower than the previous one (130).",
            "code": "lower_than_previous",
        }
    ]
    assert written() == before


def test_refusals_speak_the_callers_language(home):
    """Accept-Language for a token client; the user's own preference for a browser session."""
    with translation.override("ru"):
        expected = reasons.reason_text("lower_than_previous", {"previous": Decimal("130.000")})
    api = api_for(home.user, language="ru")
    body = api.post(URL, {"meter": str(home.water.public_id), "value": "120"}, format="json").json()
    assert body["detail"] == expected
    # a schema error is in Russian too: DRF's own catalogue
    missing = api.post(URL, {"value": "120"}, format="json").json()
    assert missing["errors"] == [
        {"field": "meter", "message": "Это поле обязательно.", "code": "required"}
    ]


def test_the_users_preferred_language_wins_in_a_session(client, make_user, operator):
    russian = household(make_user, email="ivan@example.org", language="ru")
    client.force_login(russian.user)
    response = client.post(
        URL,
        {"meter": str(russian.water.public_id)},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 422
    with translation.override("ru"):
        from django.utils.translation import gettext

        assert response.json()["detail"] == "value: " + gettext("Give the reading.")


def test_a_missing_register_is_named(home):
    before = written()
    api = api_for(home.user)
    response = api.post(
        URL, {"meter": str(home.power.public_id), "values": {"T1": "1390"}}, format="json"
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["values.T2"]
    unknown = api.post(
        URL,
        {"meter": str(home.power.public_id), "values": {"T1": "1390", "T2": "700", "T3": "1"}},
        format="json",
    )
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["values.T3"]
    single = api.post(URL, {"meter": str(home.power.public_id), "value": "1390"}, format="json")
    assert single.status_code == 422
    assert single.json()["errors"][0]["field"] == "values"
    assert "T1, T2" in single.json()["detail"]
    both = api.post(
        URL,
        {"meter": str(home.water.public_id), "value": "140", "values": {"T": "140"}},
        format="json",
    )
    assert both.status_code == 422
    assert written() == before


def test_one_bad_register_refuses_the_whole_reading(home):
    before = written()
    response = api_for(home.user).post(
        URL,
        {"meter": str(home.power.public_id), "values": {"T1": "1390", "T2": "600"}},
        format="json",
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [
        {
            "field": "values.T2",
            "message": "The reading is lower than the previous one (650).",
            "code": "lower_than_previous",
        }
    ]
    assert body["detail"] == "T2: The reading is lower than the previous one (650)."
    assert written() == before


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("abc", "bad_value"),
        ("-5", "negative"),
        ("123456", "too_many_digits"),
        ("140.0001", "bad_value"),
    ],
)
def test_absurd_values_are_refused_with_their_reason(home, value, code):
    response = api_for(home.user).post(
        URL, {"meter": str(home.water.public_id), "value": value}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == code


def test_a_reading_in_the_future_is_refused(home):
    response = api_for(home.user).post(
        URL,
        {
            "meter": str(home.water.public_id),
            "value": "140",
            "taken_at": "2026-05-20T10:00:00+02:00",
        },
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "in_future"


def test_schema_breaking_input_is_a_400(home):
    api = api_for(home.user)
    for body in (
        {"meter": "not-a-uuid", "value": "1"},
        {"meter": str(home.water.public_id), "value": 140},  # a number, not a string
        {"meter": str(home.water.public_id), "values": ["140"]},
        {"meter": str(home.water.public_id), "value": "1", "taken_at": "yesterday"},
    ):
        response = api.post(URL, body, format="json")
        assert response.status_code == 400, body
        assert response["Content-Type"] == PROBLEM


# --- scoping --------------------------------------------------------------------------------


def test_another_residents_meter_is_not_found_and_nothing_is_written(home, neighbour):
    before = written()
    response = api_for(home.user).post(
        URL, {"meter": str(neighbour.water.public_id), "value": "999"}, format="json"
    )
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert written() == before


def test_anonymous_callers_cannot_send_readings(home):
    from rest_framework.test import APIClient

    response = APIClient().post(
        URL, {"meter": str(home.water.public_id), "value": "140"}, format="json"
    )
    assert response.status_code == 401


def test_staff_who_enter_readings_send_them_for_any_meter(home, make_user):
    agent = make_user(role="call_centre_agent")
    response = api_for(agent).post(
        URL, {"meter": str(home.water.public_id), "value": "140"}, format="json"
    )
    assert response.status_code == 201
    stored = Reading.objects.get(public_id=response.json()["readings"][0]["id"])
    assert stored.source == "staff" and stored.submitted_by == agent
    assert AuditEvent.objects.filter(actor=agent).exists()


def test_staff_who_may_not_enter_readings_are_refused(home, make_user):
    controller = make_user(role="quality_controller")
    response = api_for(controller).post(
        URL, {"meter": str(home.water.public_id), "value": "140"}, format="json"
    )
    assert response.status_code == 403


# --- idempotency ----------------------------------------------------------------------------


def test_a_retry_with_the_same_key_replays_the_answer(home):
    api = api_for(home.user)
    body = {"meter": str(home.water.public_id), "value": "141"}
    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="reading-1")
    again = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="reading-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Reading.objects.filter(meter=home.water).count() == 5
    other = api.post(URL, {**body, "value": "142"}, format="json", HTTP_IDEMPOTENCY_KEY="reading-1")
    assert other.status_code == 422  # the key was used for another request


def test_a_refusal_is_replayed_too(home):
    api = api_for(home.user)
    body = {"meter": str(home.water.public_id), "value": "1"}
    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="low-1")
    again = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="low-1")
    assert first.status_code == again.status_code == 422
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


# --- photos ---------------------------------------------------------------------------------


def test_a_reading_with_a_photo_as_multipart(home):
    photo = SimpleUploadedFile("dial.png", png_bytes(), content_type="image/png")
    response = api_for(home.user).post(
        URL,
        {"meter": str(home.water.public_id), "value": "140", "photo": photo},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    reading = response.json()["readings"][0]
    assert reading["has_photo"] is True
    assert Reading.objects.get(public_id=reading["id"]).photo.name.endswith(".png")


def test_multipart_values_per_register(home):
    response = api_for(home.user).post(
        URL,
        {"meter": str(home.power.public_id), "values.T1": "1400", "values.T2": "700"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert len(response.json()["readings"]) == 2


def test_a_photo_that_is_not_an_image_is_refused_naming_photo(home):
    before = written()
    fake = SimpleUploadedFile("dial.jpg", b"%PDF-1.4 not a picture", content_type="image/jpeg")
    response = api_for(home.user, language="ru").post(
        URL,
        {"meter": str(home.water.public_id), "value": "140", "photo": fake},
        format="multipart",
    )
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["photo"]
    assert written() == before
    empty = SimpleUploadedFile("dial.jpg", b"", content_type="image/jpeg")
    response = api_for(home.user).post(
        URL,
        {"meter": str(home.water.public_id), "value": "140", "photo": empty},
        format="multipart",
    )
    assert response.status_code in (400, 422)
    assert [e["field"] for e in response.json()["errors"]] == ["photo"]


# --- flagged readings and their review ------------------------------------------------------


@pytest.fixture
def flagged(home):
    """Use of 170 m³ against a usual 10 a month: kept for review."""
    response = api_for(home.user).post(
        URL, {"meter": str(home.water.public_id), "value": "300"}, format="json"
    )
    assert response.status_code == 201
    reading = response.json()["readings"][0]
    assert reading["status"] == "flagged"
    assert reading["reasons"] == ["spike"]
    assert reading["message"].startswith("Accepted for review.")
    return Reading.objects.get(public_id=reading["id"])


def test_staff_list_the_flagged_readings_oldest_first(flagged, home, make_user):
    api = api_for(make_user(role="case_specialist"))
    body = api.get(URL, {"status": "flagged", "order": "oldest"}).json()
    assert [row["id"] for row in body["results"]] == [str(flagged.public_id)]
    assert body["results"][0]["reasons_text"] == [reasons.reason_text("spike")]
    everything = api.get(URL, {"account": home.account.number}).json()
    assert everything["count"] == 13
    assert api.get(URL, {"status": "lost"}).status_code == 400


def test_residents_cannot_list_or_review_readings(flagged, home):
    api = api_for(home.user)
    assert api.get(URL, {"status": "flagged"}).status_code == 403
    review = api.post(f"{URL}/{flagged.public_id}/review", {"decision": "accept"}, format="json")
    assert review.status_code == 403


def test_a_reviewer_accepts_a_flagged_reading(flagged, make_user):
    reviewer = make_user(role="case_specialist")
    response = api_for(reviewer).post(
        f"{URL}/{flagged.public_id}/review",
        {"decision": "accept", "note": "Leak fixed, photo checked"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    assert response.json()["consumption"] == "170.000"
    flagged.refresh_from_db()
    assert flagged.status == "accepted" and flagged.reviewed_by == reviewer
    again = api_for(reviewer).post(
        f"{URL}/{flagged.public_id}/review", {"decision": "reject"}, format="json"
    )
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "reading"


def test_a_reviewer_rejects_a_flagged_reading(flagged, make_user):
    response = api_for(make_user(role="revenue_officer")).post(
        f"{URL}/{flagged.public_id}/review", {"decision": "reject", "note": "typo"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"


def test_review_needs_the_permission_and_a_known_decision(flagged, make_user):
    agent = api_for(make_user(role="call_centre_agent"))  # reads readings, may not review
    url = f"{URL}/{flagged.public_id}/review"
    assert agent.post(url, {"decision": "accept"}, format="json").status_code == 403
    reviewer = api_for(make_user(role="case_specialist"))
    assert reviewer.post(url, {"decision": "maybe"}, format="json").status_code == 400
    missing = f"{URL}/00000000-0000-4000-8000-000000000000/review"
    assert reviewer.post(missing, {"decision": "accept"}, format="json").status_code == 404


# --- the schema -----------------------------------------------------------------------------


def test_the_schema_documents_the_endpoints(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    for path in (
        "/api/v1/meters",
        "/api/v1/meters/{meter_id}",
        "/api/v1/meters/{meter_id}/readings",
        "/api/v1/meters/{meter_id}/consumption",
        "/api/v1/accounts/{account_number}/consumption",
        "/api/v1/meter-readings",
        "/api/v1/meter-readings/{reading_id}/review",
    ):
        assert path in paths, path
    create = paths["/api/v1/meter-readings"]["post"]
    assert set(create["requestBody"]["content"]) >= {"application/json", "multipart/form-data"}
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    assert "422" in create["responses"]
