"""GET /meters, /meters/{id}, /meters/{id}/readings, /meters/{id}/consumption and
/accounts/{number}/consumption: residents see their own (anyone else's is 404), staff who read
meters see all, bad parameters are problem+json naming the parameter."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import translation
from rest_framework.test import APIClient

from civicdesk.metering import reasons
from civicdesk.metering.models import Reading
from civicdesk.metering.tests import factories
from civicdesk.metering.tests.api_helpers import (
    NOW,
    PROBLEM,
    api_for,
    at,
    household,
    submit,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def home(make_user, operator):
    return household(make_user, email="naledi@example.org")


@pytest.fixture
def neighbour(make_user, operator):
    return household(make_user, email="thabo@example.org")


# --- the list -------------------------------------------------------------------------------


def test_a_resident_lists_only_the_meters_on_their_accounts(home, neighbour):
    body = api_for(home.user).get("/api/v1/meters").json()
    assert body["count"] == 2
    ids = {row["id"] for row in body["results"]}
    assert ids == {str(home.water.public_id), str(home.power.public_id)}
    water = next(row for row in body["results"] if row["serial"] == home.water.serial)
    assert water == {
        "id": str(home.water.public_id),
        "serial": home.water.serial,
        "resource": "cold_water",
        "rates": "single",
        "registers": ["T"],
        "unit": "m3",
        "digits": 5,
        "multiplier": "1",
        "status": "active",
        "account_number": home.account.number,
        "premises": home.account.premises.address,
        "installed_on": "2020-01-01",
        "verification_due_on": None,
        "last_readings": [
            {
                "register": "T",
                "label": "Total",
                "value": "130.000",
                "taken_at": "2026-04-10T10:00:00+02:00",
            }
        ],
    }
    power = next(row for row in body["results"] if row["serial"] == home.power.serial)
    assert power["registers"] == ["T1", "T2"]
    assert [(r["register"], r["value"]) for r in power["last_readings"]] == [
        ("T1", "1300.000"),
        ("T2", "650.000"),
    ]


def test_a_new_meter_has_no_last_reading_yet(home):
    fresh = factories.meter(account_=home.account, resource="gas")
    body = api_for(home.user).get(f"/api/v1/meters/{fresh.public_id}").json()
    assert body["last_readings"] == [
        {"register": "T", "label": "Total", "value": None, "taken_at": None}
    ]


def test_staff_who_read_meters_see_all_and_filter(home, neighbour, make_user):
    agent = api_for(make_user(role="call_centre_agent"))
    assert agent.get("/api/v1/meters").json()["count"] == 4
    mine = agent.get("/api/v1/meters", {"account": home.account.number}).json()
    assert {row["serial"] for row in mine["results"]} == {home.water.serial, home.power.serial}
    by_serial = agent.get("/api/v1/meters", {"serial": neighbour.water.serial[-4:]}).json()
    assert [row["serial"] for row in by_serial["results"]] == [neighbour.water.serial]
    power = agent.get("/api/v1/meters", {"resource": "electricity"}).json()
    assert power["count"] == 2
    neighbour.water.status = "faulty"
    neighbour.water.save()
    faulty = agent.get("/api/v1/meters", {"status": "faulty"}).json()
    assert [row["serial"] for row in faulty["results"]] == [neighbour.water.serial]


def test_a_bad_filter_is_a_problem_naming_it(home, make_user):
    agent = api_for(make_user(role="call_centre_agent"))
    response = agent.get("/api/v1/meters", {"resource": "plutonium"})
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "resource"


def test_staff_without_the_meter_permission_see_only_their_own(home, make_user):
    """A staff role that may not read meters gets the resident's view: nothing."""
    from civicdesk.identity import roles

    user = make_user(role=roles.MANAGING_AGENT)
    assert api_for(user).get("/api/v1/meters").json()["count"] == 0


def test_anonymous_callers_are_refused(home):
    client = APIClient()
    for url in (
        "/api/v1/meters",
        f"/api/v1/meters/{home.water.public_id}",
        f"/api/v1/meters/{home.water.public_id}/readings",
        f"/api/v1/meters/{home.water.public_id}/consumption",
        f"/api/v1/accounts/{home.account.number}/consumption",
    ):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response["Content-Type"] == PROBLEM


# --- one meter and its readings -------------------------------------------------------------


def test_another_residents_meter_and_account_are_not_found(home, neighbour):
    api = api_for(home.user)
    meter = neighbour.water.public_id
    for url in (
        f"/api/v1/meters/{meter}",
        f"/api/v1/meters/{meter}/readings",
        f"/api/v1/meters/{meter}/consumption",
        f"/api/v1/accounts/{neighbour.account.number}/consumption",
        "/api/v1/meters/00000000-0000-4000-8000-000000000000",
    ):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response["Content-Type"] == PROBLEM


def test_readings_newest_first_with_status_reasons_and_their_text(home):
    submit(home.water, {"T": "125"}, at(5, 1))  # lower than 130: kept as rejected
    with translation.override("en"):
        expected_text = reasons.reason_text("lower_than_previous")
    body = api_for(home.user).get(f"/api/v1/meters/{home.water.public_id}/readings").json()
    assert body["count"] == 5
    rows = body["results"]
    assert [row["value"] for row in rows] == ["125.000", "130.000", "120.000", "110.000", "100.000"]
    rejected, latest = rows[0], rows[1]
    assert rejected["status"] == "rejected"
    assert rejected["status_text"] == "Not accepted"
    assert rejected["reasons"] == ["lower_than_previous"]
    assert rejected["reasons_text"] == [expected_text]
    assert rejected["consumption"] is None
    assert latest == {
        "id": latest["id"],
        "meter": str(home.water.public_id),
        "register": "T",
        "value": "130.000",
        "taken_at": "2026-04-10T10:00:00+02:00",
        "period": "2026-04",
        "consumption": "10.000",
        "rolled_over": False,
        "estimated": False,
        "source": "portal",
        "status": "accepted",
        "status_text": "Accepted",
        "reasons": [],
        "reasons_text": [],
        "has_photo": False,
        "received_at": "2026-04-10T10:00:00+02:00",
        "reviewed_at": None,
    }


def test_readings_are_paginated(home):
    api = api_for(home.user)
    url = f"/api/v1/meters/{home.power.public_id}/readings"
    page = api.get(url, {"page_size": 3}).json()
    assert page["count"] == 8 and len(page["results"]) == 3 and page["next"]
    assert api.get(url, {"page_size": 0}).status_code == 400


def test_readings_say_when_they_are_estimates(home):
    Reading.objects.create(
        meter=home.water,
        register="T",
        value=Decimal("140"),
        taken_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
        period=dt.date(2026, 5, 1),
        consumption=Decimal("10"),
        source=Reading.Source.ESTIMATE,
        status=Reading.Status.ACCEPTED,
        created_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
    )
    rows = api_for(home.user).get(f"/api/v1/meters/{home.water.public_id}/readings").json()
    assert rows["results"][0]["estimated"] is True
    assert rows["results"][0]["source"] == "estimate"


# --- consumption ----------------------------------------------------------------------------


def test_meter_consumption_is_a_monthly_series_of_36_months(home):
    body = api_for(home.user).get(f"/api/v1/meters/{home.water.public_id}/consumption").json()
    assert body["meter"] == str(home.water.public_id)
    assert body["unit"] == "m3" and body["resource"] == "cold_water"
    months = body["months"]
    assert len(months) == 36
    assert months[0]["period"] == "2023-06" and months[-1]["period"] == "2026-05"
    assert months[-4:] == [
        {"period": "2026-02", "quantity": "10.000", "estimated": False},
        {"period": "2026-03", "quantity": "10.000", "estimated": False},
        {"period": "2026-04", "quantity": "10.000", "estimated": False},
        {"period": "2026-05", "quantity": None, "estimated": False},
    ]


def test_months_is_validated(home):
    api = api_for(home.user)
    url = f"/api/v1/meters/{home.water.public_id}/consumption"
    assert len(api.get(url, {"months": 1}).json()["months"]) == 1
    assert len(api.get(url, {"months": 120}).json()["months"]) == 120
    for bad in ("0", "121", "x", "-3"):
        response = api.get(url, {"months": bad})
        assert response.status_code == 400, bad
        assert response["Content-Type"] == PROBLEM
        assert response.json()["errors"][0]["field"] == "months"


def test_account_consumption_per_resource_and_per_meter(home):
    body = api_for(home.user).get(
        f"/api/v1/accounts/{home.account.number}/consumption", {"months": 3}
    )
    assert body.status_code == 200
    body = body.json()
    assert body["account_number"] == home.account.number
    assert [(r["resource"], r["unit"]) for r in body["resources"]] == [
        ("cold_water", "m3"),
        ("electricity", "kWh"),
    ]
    power = body["resources"][1]["months"]
    # both registers together: 100 + 50 a month
    assert power == [
        {"period": "2026-03", "quantity": "150.000", "estimated": False},
        {"period": "2026-04", "quantity": "150.000", "estimated": False},
        {"period": "2026-05", "quantity": None, "estimated": False},
    ]
    assert {m["serial"] for m in body["meters"]} == {home.water.serial, home.power.serial}
    assert all(len(m["months"]) == 3 for m in body["meters"])


def test_staff_read_any_accounts_consumption(home, make_user):
    agent = api_for(make_user(role="call_centre_agent"))
    response = agent.get(f"/api/v1/accounts/{home.account.number}/consumption")
    assert response.status_code == 200
    assert agent.get("/api/v1/accounts/999999999/consumption").status_code == 404


def test_the_list_takes_a_fixed_number_of_queries(home, make_user, django_assert_max_num_queries):
    agent = api_for(make_user(role="call_centre_agent"))
    agent.get("/api/v1/meters")  # permissions and the operator cached
    with django_assert_max_num_queries(8) as few:
        agent.get("/api/v1/meters")
    for _ in range(5):
        factories.meter(account_=home.account, resource="hot_water", rates="three_rate")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert agent.get("/api/v1/meters").json()["count"] == 7
