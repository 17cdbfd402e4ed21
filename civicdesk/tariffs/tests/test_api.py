"""The tariffs API and the public calculators: reading tariffs without a login, loading them as
staff (all or nothing, every error listed), the issue's worked examples (436 kWh → R1,639.90;
R500 of prepaid electricity → 161.5 kWh), bad input of every kind answered as a problem that
names the field, permissions, throttling, and the OpenAPI schema."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from civicdesk.core.tests.test_schemathesis import generous_throttles, media_root, schema
from civicdesk.identity import services as identity_services
from civicdesk.tariffs import definition, engine, prepaid, services
from civicdesk.tariffs.models import Tariff

__all__ = ["generous_throttles", "media_root"]  # fixtures, used by name
pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
# 15 August 2025, 10:00 in Johannesburg.
NOW = dt.datetime(2025, 8, 15, 8, 0, tzinfo=dt.UTC)
QUOTE = "/api/v1/calculators/tariff-quote"
PREPAID = "/api/v1/calculators/prepaid-purchase"
TARIFFS = "/api/v1/tariffs"

EXAMPLE_YAML = """\
code: example-electricity
service: electricity
unit: kWh
currency: ZAR
valid_from: 2025-07-01
tax: {name: VAT, rate: "0.15", prices_include_tax: false}
charges:
  - kind: block
    blocks:
      - {up_to: 100, price: "2.50"}
      - {up_to: 400, price: "3.00"}
      - {up_to: null, price: "3.50"}
  - kind: fixed
    amount: "150.00"
"""
EXAMPLE = {
    "code": "example-electricity",
    "service": "electricity",
    "unit": "kWh",
    "currency": "ZAR",
    "valid_from": "2025-07-01",
    "tax": {"name": "VAT", "rate": "0.15", "prices_include_tax": False},
    "charges": [
        {
            "kind": "block",
            "blocks": [
                {"up_to": 100, "price": "2.50"},
                {"up_to": 400, "price": "3.00"},
                {"up_to": None, "price": "3.50"},
            ],
        },
        {"kind": "fixed", "amount": "150.00"},
    ],
}
# Maintenance per m² in roubles, without tax: a tariff that needs an input besides consumption.
MAINTENANCE = {
    "code": "ru-maintenance",
    "name": "Содержание жилого помещения",
    "service": "maintenance",
    "unit": "m²",
    "currency": "RUB",
    "jurisdiction": "ru",
    "valid_from": "2025-01-01",
    "charges": [{"kind": "per_m2", "rate": "32.17", "description": "maintenance"}],
}
BLOCK_EXPLANATION = "100 kWh × R2.50 + 300 kWh × R3.00 + 36 kWh × R3.50"


@pytest.fixture(autouse=True)
def _now(operator):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def example():
    [loaded] = services.tariffs_load(EXAMPLE_YAML)
    return loaded.tariff


@pytest.fixture
def anonymous():
    return APIClient()


def _api(user, language: str | None = None) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    if language:
        client.credentials(HTTP_ACCEPT_LANGUAGE=language)
    return client


@pytest.fixture
def loader_user(make_user):
    """Staff who may add tariffs (a revenue officer; the permission is also given directly,
    so the tests do not hang on the roles table)."""
    from django.contrib.auth.models import Permission

    user = make_user(role="revenue_officer")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="tariffs", codename="add_tariff")
    )
    return user


@pytest.fixture
def loader(loader_user):
    return _api(loader_user)


def _fields(response) -> dict[str, str]:
    assert response["Content-Type"] == PROBLEM, response.content
    return {error["field"]: error["code"] for error in response.json()["errors"]}


# --- reading tariffs --------------------------------------------------------------------------


def test_tariffs_in_force_are_public(anonymous, example):
    response = anonymous.get(TARIFFS)
    assert response.status_code == 200
    [row] = response.json()
    assert {k: row[k] for k in ("code", "version", "service", "unit", "currency")} == {
        "code": "example-electricity",
        "version": 1,
        "service": "electricity",
        "unit": "kWh",
        "currency": "ZAR",
    }
    assert row["valid_from"] == "2025-07-01" and row["valid_to"] is None
    assert row["definition"]["charges"][0]["blocks"][0] == {"up_to": "100", "price": "2.50"}
    assert "source" not in row and "loaded_by" not in row


def test_tariffs_on_a_day_pick_the_version_then_in_force(anonymous, example):
    changed = EXAMPLE_YAML.replace('"150.00"', '"165.00"').replace("2025-07-01", "2025-10-01")
    services.tariffs_load(changed)
    assert anonymous.get(TARIFFS, {"on": "2025-06-30"}).json() == []
    assert [r["version"] for r in anonymous.get(TARIFFS, {"on": "2025-09-30"}).json()] == [1]
    assert [r["version"] for r in anonymous.get(TARIFFS, {"on": "2025-10-01"}).json()] == [2]
    bad = anonymous.get(TARIFFS, {"on": "2025-02-30"})
    assert bad.status_code == 400 and "on" in _fields(bad)


def test_every_version_of_a_code_newest_first(anonymous, example):
    services.tariffs_load(EXAMPLE_YAML.replace('"150.00"', '"165.00"'))
    response = anonymous.get(f"{TARIFFS}/example-electricity")
    assert response.status_code == 200
    assert [row["version"] for row in response.json()] == [2, 1]
    missing = anonymous.get(f"{TARIFFS}/no-such-tariff")
    assert missing.status_code == 404 and missing["Content-Type"] == PROBLEM
    assert "no-such-tariff" in missing.json()["detail"]


# --- loading tariffs --------------------------------------------------------------------------


def test_loading_needs_staff_with_the_permission(anonymous, make_user):
    assert anonymous.post(TARIFFS, EXAMPLE, format="json").status_code == 401
    resident = _api(make_user())
    assert resident.post(TARIFFS, EXAMPLE, format="json").status_code == 403
    agent = make_user(role="call_centre_agent")  # staff who may read tariffs, not load them
    assert agent.is_staff and not agent.has_perm("tariffs.add_tariff")
    assert _api(agent).post(TARIFFS, EXAMPLE, format="json").status_code == 403
    assert not Tariff.objects.exists()


def test_a_definition_loads_once_and_a_change_is_the_next_version(loader):
    first = loader.post(TARIFFS, EXAMPLE, format="json")
    assert first.status_code == 201
    assert first.json() == [{"code": "example-electricity", "version": 1, "status": "created"}]
    again = loader.post(TARIFFS, EXAMPLE, format="json")
    assert again.json() == [{"code": "example-electricity", "version": 1, "status": "unchanged"}]
    changed = {**EXAMPLE, "charges": [*EXAMPLE["charges"][:1], {"kind": "fixed", "amount": "9"}]}
    assert loader.post(TARIFFS, changed, format="json").json()[0] == {
        "code": "example-electricity",
        "version": 2,
        "status": "created",
    }
    row = Tariff.objects.get(version=2)
    assert row.loaded_by is not None and row.definition["charges"][1]["amount"] == "9"


def test_a_list_and_yaml_text_load_too(loader):
    listed = loader.post(TARIFFS, [EXAMPLE, MAINTENANCE], format="json")
    assert listed.status_code == 201
    assert [(r["code"], r["status"]) for r in listed.json()] == [
        ("example-electricity", "created"),
        ("ru-maintenance", "created"),
    ]
    text = loader.post(TARIFFS, {"text": EXAMPLE_YAML}, format="json")
    assert text.status_code == 201 and text.json()[0]["status"] == "unchanged"


def test_json_numbers_in_a_definition_are_read_exactly(loader):
    """The body's fractions are parsed as Decimal: 0.1 + 0.2 style binary noise never gets
    into a price."""
    body = json.loads(json.dumps(EXAMPLE))
    body["charges"][0]["blocks"][0]["price"] = "PRICE"
    raw = json.dumps(body).replace('"PRICE"', "2.1234567891")
    response = loader.post(TARIFFS, raw, content_type="application/json")
    assert response.status_code == 201, response.content
    stored = Tariff.objects.get().definition["charges"][0]["blocks"][0]["price"]
    assert stored == "2.1234567891"


def test_a_definition_with_errors_lists_every_one_and_stores_nothing(loader):
    bad = {
        **EXAMPLE,
        "currency": "ZZZ",
        "charges": [
            {
                "kind": "block",
                "blocks": [
                    {"up_to": 100, "price": "-2.50"},
                    {"up_to": 50, "price": "3.00"},
                    {"up_to": None, "price": "3.50"},
                ],
            },
            {"kind": "flat_rate", "price": "1"},
        ],
    }
    response = loader.post(TARIFFS, bad, format="json")
    assert response.status_code == 422
    body = response.json()
    paths = {error["path"]: error["code"] for error in body["errors"]}
    assert paths == {
        "currency": "unknown_currency",
        "charges[0].blocks[0].price": "negative_not_allowed",
        "charges[0].blocks[1].up_to": "not_ascending",
        "charges[1].kind": "unknown_charge_kind",
    }
    assert all(error["field"] == error["path"] for error in body["errors"])
    assert all(error["message"] for error in body["errors"])
    assert not Tariff.objects.exists()


def test_one_bad_tariff_in_a_list_loads_none_and_paths_say_which(loader):
    response = loader.post(TARIFFS, [EXAMPLE, {**MAINTENANCE, "service": "teleportation"}])
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["[1].service"]
    assert not Tariff.objects.exists()


def test_yaml_syntax_errors_and_other_bodies(loader):
    response = loader.post(TARIFFS, {"text": "code: [unclosed"}, format="json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "yaml_syntax"
    assert loader.post(TARIFFS, "5", content_type="application/json").status_code == 400
    not_json = loader.post(TARIFFS, "{", content_type="application/json")
    assert not_json.status_code == 400 and not_json["Content-Type"] == PROBLEM


def test_deeply_nested_json_is_a_400_not_a_crash(loader):
    """Python's JSON reader gives up past ~1,000 levels with a RecursionError, not a
    ValueError: both the loader and the calculators answer 400."""
    nested = "[" * 5000 + "]" * 5000
    for client, url in ((loader, TARIFFS), (APIClient(), QUOTE)):
        response = client.post(url, nested, content_type="application/json")
        assert response.status_code == 400 and response["Content-Type"] == PROBLEM


# --- quotes -----------------------------------------------------------------------------------


def test_the_worked_example_by_code(anonymous, example):
    response = anonymous.post(
        QUOTE, {"tariff": "example-electricity", "consumption": "436", "period": "2025-08"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tariff"] == {"code": "example-electricity", "version": 1}
    assert body["period"] == "2025-08" and body["currency"] == "ZAR"
    assert (body["total_excl_tax"], body["tax"], body["total"]) == ("1426.00", "213.90", "1639.90")
    assert body["tax_label"] == "VAT"
    block, fixed = body["lines"]
    assert block == {
        "description": "Consumption (inclining blocks)",
        "quantity": "436",
        "unit": "kWh",
        "rate": None,
        "amount": "1276.00",
        "explanation": BLOCK_EXPLANATION,
    }
    assert fixed == {
        "description": "Fixed monthly charge",
        "quantity": "1",
        "unit": "month",
        "rate": "150.00",
        "amount": "150.00",
        "explanation": "R150.00",
    }


def test_an_inline_definition_prices_the_same_without_being_stored(anonymous):
    response = anonymous.post(
        QUOTE, {"tariff": EXAMPLE, "consumption": "436", "period": "2025-08"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["total"] == "1639.90"
    assert not Tariff.objects.exists()


def test_the_period_defaults_to_this_month(anonymous, example):
    response = anonymous.post(QUOTE, {"tariff": "example-electricity", "consumption": "50"})
    assert response.json()["period"] == "2025-08"
    assert response.json()["total_excl_tax"] == "275.00"


def test_explanations_follow_the_callers_language(make_user, example):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="ru")
    body = client.post(QUOTE, {"tariff": "example-electricity", "consumption": "436"}).json()
    assert body["lines"][0]["explanation"] == BLOCK_EXPLANATION.replace(".", ",")
    assert body["total"] == "1639.90"  # amounts stay machine-readable


def test_a_tariff_in_another_currency_and_its_inputs(anonymous):
    response = anonymous.post(
        QUOTE,
        {"tariff": MAINTENANCE, "period": "2025-08", "inputs": {"area_m2": "54.3"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["currency"] == "RUB" and body["tax_label"] is None
    [line] = body["lines"]
    assert line["unit"] == "m²" and line["amount"] == "1746.83"  # 54.3 × 32.17 = 1746.831
    assert line["explanation"] == "54.3 m² × ₽32.17"
    assert body["total"] == "1746.83"


def test_an_unknown_tariff_or_none_in_force_is_404(anonymous, example):
    missing = anonymous.post(QUOTE, {"tariff": "no-such", "consumption": "1"})
    assert missing.status_code == 404 and missing["Content-Type"] == PROBLEM
    early = anonymous.post(QUOTE, {"tariff": "example-electricity", "period": "2025-06"})
    assert early.status_code == 404
    assert "2025-06" in early.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"consumption": 436}, 400, "consumption"),  # a JSON number
        ({"consumption": "4e2"}, 400, "consumption"),
        ({"consumption": "-1"}, 422, "consumption"),
        ({"consumption": "1", "period": "2025-13"}, 422, "period"),
        ({"consumption": "1", "period": "August"}, 422, "period"),
        ({"consumption": "1", "period": 202508}, 400, "period"),
        ({"consumption": "1", "inputs": {"aera_m2": "50"}}, 422, "inputs.aera_m2"),
        ({"consumption": "1", "inputs": {"area_m2": 50.5}}, 400, "inputs.area_m2"),
        ({"consumption": "1", "inputs": {"occupants": "3"}}, 400, "inputs.occupants"),
        ({"consumption": "1", "inputs": {"indigent": "yes"}}, 400, "inputs.indigent"),
        ({"consumption": "1", "inputs": {"days_in_service": 0}}, 400, "inputs.days_in_service"),
        ({"consumption": "1", "inputs": {"extra": {"bins": 2}}}, 400, "inputs.extra.bins"),
        ({"consumption": "1", "tariff": 5}, 400, "tariff"),
        ({}, 422, "consumption"),  # the blocks need the consumption
    ],
)
def test_bad_quote_input_names_the_field(anonymous, example, body, status, field):
    response = anonymous.post(QUOTE, {"tariff": "example-electricity", **body}, format="json")
    assert response.status_code == status, response.content
    assert field in _fields(response)


def test_a_missing_input_says_why_in_the_callers_language(anonymous):
    response = anonymous.post(QUOTE, {"tariff": MAINTENANCE, "period": "2025-08"}, format="json")
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error == {
        "field": "inputs.area_m2",
        "code": "input_required",
        "message": "The input “area_m2” is needed to price this tariff. (charge per_m2)",
    }


def test_an_inline_definition_with_errors_lists_every_one(anonymous):
    bad = {**EXAMPLE, "valid_from": "July", "unit": "", "charges": [{"kind": "fixed"}]}
    response = anonymous.post(QUOTE, {"tariff": bad, "consumption": "1"}, format="json")
    assert response.status_code == 422
    assert _fields(response) == {
        "tariff.unit": "required",
        "tariff.valid_from": "not_a_date",
        "tariff.charges[0]": "one_of_required",
    }
    assert {e["path"] for e in response.json()["errors"]} == {"unit", "valid_from", "charges[0]"}
    unknown_service = anonymous.post(
        QUOTE, {"tariff": {**EXAMPLE, "service": "magic"}, "consumption": "1"}, format="json"
    )
    assert _fields(unknown_service) == {"tariff.service": "unknown_service"}


def test_an_inline_definition_not_in_force_in_the_month(anonymous):
    response = anonymous.post(
        QUOTE, {"tariff": EXAMPLE, "consumption": "1", "period": "2025-01"}, format="json"
    )
    assert response.status_code == 422
    assert _fields(response) == {"period": "tariff_not_in_force"}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kwh=st.decimals(min_value=0, max_value=100_000, places=3))
def test_quotes_add_up_and_equal_the_engine(anonymous, example, kwh):
    """For any consumption: the API gives exactly the engine's lines, the lines add up to the
    total excluding tax, and the tax is 15% of it, rounded half up to the cent."""
    response = anonymous.post(QUOTE, {"tariff": "example-electricity", "consumption": str(kwh)})
    assert response.status_code == 200, response.content
    body = response.json()
    [tariff] = definition.load_tariffs_text(EXAMPLE_YAML)
    quote = engine.price(tariff, engine.PricingInput(consumption=kwh, period=(2025, 8)))
    assert [Decimal(line["amount"]) for line in body["lines"]] == [
        line.amount for line in quote.lines
    ]
    excl = Decimal(body["total_excl_tax"])
    assert sum(Decimal(line["amount"]) for line in body["lines"]) == excl
    assert Decimal(body["tax"]) == (excl * Decimal("0.15")).quantize(
        Decimal("0.01"), "ROUND_HALF_UP"
    )
    assert Decimal(body["total"]) == excl + Decimal(body["tax"])


# --- prepaid ----------------------------------------------------------------------------------


def test_the_prepaid_worked_example(anonymous, example):
    response = anonymous.post(
        PREPAID,
        {"tariff": "example-electricity", "amount": "500.00", "already_purchased_units": "0"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["units"] == "161.5"
    # 100 kWh × R2.875 + 61.5 kWh × R3.45 = R499.675, R499.68 to the cent; VAT in it R65.18.
    assert (body["amount"], body["tax"], body["unspent"]) == ("499.68", "65.18", "0.32")
    assert body["period"] == "2025-08"
    [line] = body["lines"]
    assert line["explanation"] == "100 kWh × R2.875 + 61.5 kWh × R3.45"


def test_a_second_purchase_in_the_month_is_dearer(anonymous, example):
    response = anonymous.post(
        PREPAID,
        {"tariff": EXAMPLE, "amount": "345.00", "already_purchased_units": "100"},
        format="json",
    )
    assert response.json()["units"] == "100"  # R3.45 a unit in the second block


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"amount": 500}, 400, "amount"),
        ({"amount": "-5.00"}, 422, "amount"),
        ({"amount": "5.001"}, 422, "amount"),
        ({"amount": "5", "already_purchased_units": "-1"}, 422, "already_purchased_units"),
        ({"amount": "5", "period": "25-08"}, 422, "period"),
    ],
)
def test_bad_prepaid_input_names_the_field(anonymous, example, body, status, field):
    response = anonymous.post(PREPAID, {"tariff": "example-electricity", **body}, format="json")
    assert response.status_code == status, response.content
    assert field in _fields(response)


def test_a_tariff_that_cannot_be_sold_in_advance(anonymous):
    response = anonymous.post(
        PREPAID, {"tariff": MAINTENANCE, "amount": "100.00", "period": "2025-08"}, format="json"
    )
    assert response.status_code == 422
    assert _fields(response) == {"tariff": prepaid.PREPAID_UNSUPPORTED_CHARGE}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cents=st.integers(min_value=0, max_value=1_000_000),
    before=st.decimals(min_value=0, max_value=1000, places=1),
)
def test_a_purchase_never_costs_more_than_the_payment(anonymous, example, cents, before):
    payment = Decimal(cents) / 100
    response = anonymous.post(
        PREPAID,
        {
            "tariff": "example-electricity",
            "amount": f"{payment:.2f}",
            "already_purchased_units": str(before),
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    amount, units = Decimal(body["amount"]), Decimal(body["units"])
    assert amount <= payment and amount + Decimal(body["unspent"]) == payment
    assert units == units.quantize(Decimal("0.1")) and units >= 0


# --- throttling and schema --------------------------------------------------------------------


def test_anonymous_calculators_are_throttled(anonymous, example, settings, monkeypatch):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "2/min"}
    for throttle in (AnonRateThrottle, UserRateThrottle):
        monkeypatch.setattr(throttle, "THROTTLE_RATES", rates)
    body = {"tariff": "example-electricity", "consumption": "1"}
    assert [anonymous.post(QUOTE, body).status_code for _ in range(3)] == [200, 200, 429]


def test_the_schema_lists_the_endpoints_and_who_may_call_them(tmp_path):
    target = tmp_path / "schema.json"
    call_command(
        "spectacular",
        "--validate",
        "--format",
        "openapi-json",
        "--file",
        str(target),
        stdout=StringIO(),
        stderr=StringIO(),
    )
    paths = json.loads(target.read_text())["paths"]
    public = [
        paths["/api/v1/tariffs"]["get"],
        paths["/api/v1/tariffs/{code}"]["get"],
        paths["/api/v1/calculators/tariff-quote"]["post"],
        paths["/api/v1/calculators/prepaid-purchase"]["post"],
    ]
    assert all({} in operation["security"] for operation in public)
    assert {} not in paths["/api/v1/tariffs"]["post"]["security"]
    quote = paths["/api/v1/calculators/tariff-quote"]["post"]
    assert {"200", "404", "422"} <= set(quote["responses"])


@pytest.mark.django_db(transaction=True)
@schema.include(path_regex=r"^/api/v1/(tariffs|calculators/)").parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_conforms_to_its_schema_as_staff(case, loader_user, generous_throttles, media_root):
    """The project-wide run calls everything as a resident with no tariff stored; here staff
    who may load tariffs call them with the example loaded, so quotes and loads succeed too:
    no 500s, statuses and bodies as declared, schema-breaking requests refused."""
    services.tariffs_load(EXAMPLE_YAML)
    _token, key = identity_services.token_create(user=loader_user)
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"})
