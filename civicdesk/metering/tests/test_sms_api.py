"""The staff SMS preview: `POST /api/v1/meter-readings/sms-preview` reads a message and runs the
handler's checks without saving anything; staff who may view readings only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from civicdesk.identity import roles
from civicdesk.metering import selectors
from civicdesk.metering.models import Reading
from civicdesk.metering.tests import factories
from civicdesk.notifications.models import InboundMessage
from civicdesk.notifications.services import inbound_sms_receive
from civicdesk.registry.tests import factories as registry

pytestmark = pytest.mark.django_db

URL = "/api/v1/meter-readings/sms-preview"
HOLDER = "+79161234567"
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(datetime(2026, 3, 20, 9, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def ru_operator(db):
    from civicdesk.registry.models import Operator

    return Operator.objects.create(
        name="Расчётный центр",
        jurisdiction="RU",
        currency="RUB",
        timezone="Europe/Moscow",
        default_language="en",
        enabled_languages=["en", "af", "uk", "ru"],
    )


@pytest.fixture
def home(ru_operator):
    account = registry.account(holder_phone=HOLDER)
    return {
        "account": account,
        "number": account.number,
        "cold": factories.meter(account_=account, resource="cold_water", serial="CW-1"),
        "power": factories.meter(account_=account, resource="electricity", rates="day_night"),
    }


@pytest.fixture
def staff(make_user):
    client = APIClient()
    client.force_authenticate(make_user(role=roles.CALL_CENTRE_AGENT, is_staff=True))
    return client


def preview(client, text, **extra):
    response = client.post(URL, {"text": text, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_message_is_read_and_checked_without_saving_anything(staff, home):
    body = preview(staff, f"{home['number']} ХВ 11,5 ЭЛ 1234/567")

    assert body == {
        "account_number": home["number"],
        "recognised": True,
        "grammars": ["spaced"],
        "keyword": None,
        "readings": [
            {
                "resource": "cold_water",
                "register": "T",
                "value": "11.5",
                "code": "ХВ",
                "ordinal": 1,
                "meter": "CW-1",
                "status": "accepted",
                "message": "Accepted.",
            },
            {
                "resource": "electricity",
                "register": "T1",
                "value": "1234",
                "code": "ЭЛ",
                "ordinal": 1,
                "meter": home["power"].serial,
                "status": "accepted",
                "message": "Accepted.",
            },
            {
                "resource": "electricity",
                "register": "T2",
                "value": "567",
                "code": "ЭЛ",
                "ordinal": 1,
                "meter": home["power"].serial,
                "status": "accepted",
                "message": "Accepted.",
            },
        ],
        "errors": [],
        "reply": f"Account {home['number']}: Cold water 11,5 accepted. "
        "Electricity 1234/567 accepted.",
    }
    assert not Reading.objects.exists()
    assert not InboundMessage.objects.exists()


def test_an_unknown_account_is_listed_and_the_message_read_anyway(staff, home):
    body = preview(staff, "1234567890 ХВ 11 ГВ 12")

    assert body["account_number"] == "1234567890"
    assert [(r["resource"], r["register"], r["value"], r["meter"]) for r in body["readings"]] == [
        ("cold_water", "T", "11", None),
        ("hot_water", "T", "12", None),
    ]
    assert body["errors"] == [
        {
            "code": "unknown_account",
            "message": "Account 1234567890 was not found: check the number on your bill.",
            "resource": None,
        }
    ]


def test_a_resource_without_a_meter_and_grammar_errors(staff, home):
    body = preview(staff, f"{home['number']} ГВ 12 ХВ 1l ХЗ 4 ЭЛ 5")

    assert [(e["code"], e["resource"]) for e in body["errors"]] == [
        ("no_meter", "hot_water"),
        ("value_count", "electricity"),
        ("bad_number", "cold_water"),
        ("unknown_code", None),
    ]
    assert body["errors"][0]["message"] == "There is no hot water meter on this account."
    assert [r["resource"] for r in body["readings"]] == ["hot_water", "electricity"]
    assert body["readings"][0]["status"] is None


def test_validation_is_run_against_the_meters_history(staff, home, frozen):
    inbound_sms_receive(provider="test", sender=HOLDER, text=f"{home['number']} ХВ 20")
    frozen.shift(3600)

    body = preview(staff, f"{home['number']} ХВ 15")

    assert body["readings"][0]["status"] == "rejected"
    assert body["errors"] == [
        {
            "code": "lower_than_previous",
            "message": "Cold water 15 not accepted: the reading is lower than the previous one "
            "(20).",
            "resource": "cold_water",
        }
    ]
    assert Reading.objects.count() == 1  # the SMS's, not the preview's


def test_the_sender_is_checked_only_when_given(staff, home):
    text = f"{home['number']} ХВ 11"

    assert preview(staff, text)["errors"] == []
    assert preview(staff, text, sender=HOLDER)["errors"] == []
    (error,) = preview(staff, text, sender="+7 999 000-00-00")["errors"]
    assert error["code"] == "sender_not_linked"


def test_a_format_the_operator_has_not_enabled(staff, home):
    metering = selectors.metering_settings()
    metering.sms_grammars = ["hash"]
    metering.save()

    body = preview(staff, f"{home['number']} ХВ 11")

    assert [e["code"] for e in body["errors"]] == ["format_not_accepted"]
    assert body["errors"][0]["message"].endswith(f"Send, e.g.: {home['number']}#ХВ#11#ГВ#12")
    assert body["readings"][0]["status"] is None  # refused messages are not validated


def test_text_that_is_not_meant_as_readings(staff, home):
    body = preview(staff, "When is my bill due?")

    assert body["recognised"] is False and body["reply"] is None


def test_codes_that_cannot_be_told_apart(staff, home):
    metering = selectors.metering_settings()
    metering.sms_codes = {"ХВ": "cold_water", "XB": "hot_water"}
    metering.save()

    body = preview(staff, "12345 ХВ 11")

    assert [e["code"] for e in body["errors"]] == ["code_set"]


def test_the_reply_follows_the_staff_members_language(staff, home):
    body = staff.post(
        URL, {"text": f"{home['number']} ХВ 11"}, format="json", headers={"Accept-Language": "uk"}
    ).json()

    assert "Холодна вода" in body["reply"]


# --- access and bad input -------------------------------------------------------------------


def test_residents_are_refused(make_user, home):
    client = APIClient()
    client.force_authenticate(make_user())

    response = client.post(URL, {"text": "12345 ХВ 11"}, format="json")

    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM


def test_staff_without_the_permission_are_refused(make_user, home):
    client = APIClient()
    client.force_authenticate(make_user(role=roles.RESIDENT, is_staff=True))

    assert client.post(URL, {"text": "12345 ХВ 11"}, format="json").status_code == 403


def test_anonymous_callers_are_refused(home):
    response = APIClient().post(URL, {"text": "12345 ХВ 11"}, format="json")

    assert response.status_code in (401, 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": 12345}, "text"),
        ({"text": "x" * 1601}, "text"),
        ({"text": "12345 ХВ 11", "sender": "not a phone"}, "sender"),
        ({"text": "12345 ХВ 11", "sender": 7}, "sender"),
    ],
)
def test_bad_input_names_the_field(staff, home, body, field):
    response = staff.post(URL, body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_without_an_operator(staff):
    body = preview(staff, "12345 ХВ 11")

    assert [e["code"] for e in body["errors"]] == ["code_set"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200))
def test_any_text_gets_an_answer_never_an_error(staff, home, text):
    response = staff.post(URL, {"text": text}, format="json")

    assert response.status_code in (200, 400)  # 400: text a JSON string cannot carry
    assert not Reading.objects.exists()


def test_the_schema_describes_the_preview(staff, make_user):
    client = APIClient()
    client.force_authenticate(make_user(role=roles.OPERATOR_ADMIN, is_staff=True))
    schema = client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/meter-readings/sms-preview"]["post"]
    assert operation["summary"] == "Try an SMS of meter readings (nothing is saved)"
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert response["$ref"].endswith("/PreviewResponse")
