"""POST/GET /api/v1/payments: scoping (404 for anyone else's), bad input as problem+json with
nothing written, idempotency keys, and the schema."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from civicdesk.core.idempotency import idempotency_key_claim, request_digest
from civicdesk.core.models import IdempotencyKey
from civicdesk.ledger.models import Payment, SandboxCharge, SavedMethod
from civicdesk.ledger.tests.payment_helpers import (
    balance_minor,
    decide,
    deliver,
    ledger_counts,
)
from civicdesk.registry.tests import factories

pytest_plugins = ["civicdesk.ledger.tests.payments_support"]

URL = "/api/v1/payments"
PROBLEM = "application/problem+json"
_keys = itertools.count(1)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def post(client, body, *, key: str | None = "auto", lang: str | None = None):
    headers = {}
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = f"key-{next(_keys)}" if key == "auto" else key
    if lang:
        headers["HTTP_ACCEPT_LANGUAGE"] = lang
    return client.post(URL, body, format="json", **headers)


def body(household, **overrides):
    return {
        "account_number": household.account.number,
        "amount": "100.00",
        "gateway": "sandbox",
        **overrides,
    }


def written():
    return (
        ledger_counts(),
        Payment.objects.count(),
        SandboxCharge.objects.count(),
    )


def test_create_answers_201_with_where_to_pay(household):
    response = post(client_for(household.resident), body(household, invoice="INV-2"))
    assert response.status_code == 201, response.content
    data = response.json()
    payment = Payment.objects.get()
    assert data["id"] == str(payment.pk)
    assert data["status"] == "created"
    assert (data["amount"], data["currency"], data["gateway"]) == ("100.00", "ZAR", "sandbox")
    assert data["invoice"] == "INV-2" and data["channel"] == "api"
    assert data["checkout"] == {
        "url": f"http://testserver/pay/sandbox/{payment.gateway_ref}/",
        "method": "GET",
        "fields": {},
    }
    assert data["created_at"]
    assert response["Location"] == f"http://testserver{URL}/{payment.pk}"
    assert payment.created_by == household.resident
    assert SandboxCharge.objects.get().return_url == f"http://testserver/pay/return/{payment.pk}/"


def test_follow_a_payment_to_success(household):
    client = client_for(household.resident)
    payment_id = post(client, body(household)).json()["id"]
    deliver(decide(Payment.objects.get(pk=payment_id), "success"))
    data = client.get(f"{URL}/{payment_id}").json()
    assert data["status"] == "succeeded" and data["checkout"] is None and data["settled_at"]
    assert balance_minor(household.account) == 5_000
    listed = client.get(URL).json()
    assert [row["id"] for row in listed["results"]] == [payment_id]


def test_one_click_through_the_api(household):
    client = client_for(household.resident)
    first = post(client, body(household, amount="1.00", save_method=True)).json()
    deliver(decide(Payment.objects.get(pk=first["id"]), "success"))
    method = SavedMethod.objects.get()
    response = post(client, body(household, amount="20.00", saved_method=str(method.pk)))
    assert response.status_code == 201
    assert response.json()["status"] == "succeeded" and response.json()["checkout"] is None


# --- access ---------------------------------------------------------------------------------


def test_another_residents_account_or_payment_is_404(household, make_user):
    other = client_for(make_user())
    before = written()
    response = post(other, body(household))
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert household.account.number in response.json()["detail"]
    assert written() == before
    payment_id = post(client_for(household.resident), body(household)).json()["id"]
    assert other.get(f"{URL}/{payment_id}").status_code == 404
    assert other.get(URL).json()["results"] == []
    assert other.get(f"{URL}/not-a-uuid").status_code == 404


def test_staff_read_any_payment_and_the_revenue_team_pays_any_account(household, make_user):
    payment_id = post(client_for(household.resident), body(household)).json()["id"]
    agent = client_for(make_user(role="call_centre_agent"))
    assert agent.get(f"{URL}/{payment_id}").status_code == 200
    assert post(agent, body(household)).status_code == 404  # reads, but does not take payments
    officer = client_for(make_user(role="revenue_officer"))
    response = post(officer, body(household, amount="5.00"))
    assert response.status_code == 201 and response.json()["channel"] == "staff"
    unknown = post(officer, body(household, account_number="9999999999"))
    assert unknown.status_code == 404 and "9999999999" in unknown.json()["detail"]
    assert len(officer.get(URL).json()["results"]) == 2


def test_anonymous_is_401(household):
    client = APIClient()
    assert client.get(URL).status_code in (401, 403)
    assert client.post(URL, body(household), format="json").status_code in (401, 403)
    assert Payment.objects.count() == 0


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "status", "field", "message"),
    [
        ({"amount": "0"}, 422, "amount", "The amount must be more than zero."),
        ({"amount": "0.00"}, 422, "amount", "The amount must be more than zero."),
        ({"amount": "-10.00"}, 422, "amount", "The amount must be more than zero."),
        ({"amount": "10.001"}, 422, "amount", "The amount has more than 2 decimal places."),
        ({"amount": "9" * 30}, 422, "amount", "The amount is too large"),
        ({"amount": "9" * 31}, 400, "amount", "Give the amount as a string with a decimal point"),
        ({"amount": 10.5}, 400, "amount", "Give the amount as a string with a decimal point"),
        ({"amount": "ten"}, 400, "amount", "Give the amount as a string with a decimal point"),
        ({"amount": "1e3"}, 400, "amount", "Give the amount as a string with a decimal point"),
        ({"gateway": "paypal"}, 422, "gateway", "There is no payment gateway called “paypal”."),
        ({"gateway": "yookassa"}, 422, "gateway", "are not available at the moment"),
        ({"gateway": 7}, 400, "gateway", "Not a valid string."),
        ({"save_method": "yes"}, 400, "save_method", "Must be a valid boolean."),
        ({"saved_method": "x"}, 400, "saved_method", "Must be a valid UUID."),
        (
            {"saved_method": "5f1d6d0a-0000-4000-8000-000000000000"},
            422,
            "saved_method",
            "Choose one of your saved payment methods",
        ),
        ({"invoice": "X" * 101}, 400, "invoice", "no more than 100 characters"),
    ],
)
def test_bad_input_is_problem_json_naming_the_field_and_writes_nothing(
    household, overrides, status, field, message
):
    before = written()
    response = post(client_for(household.resident), body(household, **overrides))
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert any(e["field"] == field and message in e["message"] for e in problem["errors"]), problem
    assert written() == before


def test_missing_fields_are_400(household):
    response = post(client_for(household.resident), {})
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"account_number", "amount", "gateway"}


def test_unknown_and_closed_accounts(household, operator):
    client = client_for(household.resident)
    before = written()
    unknown = post(client, body(household, account_number="0000000000"))
    assert unknown.status_code == 404 and unknown["Content-Type"] == PROBLEM
    closed = factories.account(status="closed")
    from civicdesk.registry.models import AccountLink

    AccountLink.objects.create(user=household.resident, account=closed, role="owner", method="code")
    response = post(client, body(household, account_number=closed.number))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "account_number",
            "message": f"Account {closed.number} is closed and takes no more payments.",
            "code": "unprocessable",
        }
    ]
    assert written() == before


def test_errors_speak_the_callers_language(household):
    response = post(client_for(household.resident), body(household, amount="10.001"), lang="uk")
    assert response.status_code == 422
    with translation.override("uk"):
        expected = translation.gettext("The amount has more than %(places)s decimal places.")
    assert response.json()["errors"][0]["message"] == expected % {"places": 2}
    assert (
        "10.001" not in expected
        and expected != "The amount has more than %(places)s decimal places."
    )


# --- idempotency ----------------------------------------------------------------------------


def test_the_same_key_and_body_replays_and_creates_one_payment(household):
    client = client_for(household.resident)
    first = post(client, body(household), key="pay-1")
    again = post(client, body(household), key="pay-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1 and SandboxCharge.objects.count() == 1


def test_the_same_key_with_another_body_is_422(household):
    client = client_for(household.resident)
    post(client, body(household), key="pay-1")
    response = post(client, body(household, amount="99.00"), key="pay-1")
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert Payment.objects.count() == 1


def test_the_same_key_while_the_first_runs_is_409(household):
    client = client_for(household.resident)
    data = body(household)
    idempotency_key_claim(
        scope=f"user:{household.resident.pk}",
        key="pay-1",
        method="POST",
        path=URL,
        digest=request_digest(method="POST", path=URL, query={}, data=data),
        recoverable=False,
    )
    response = post(client, data, key="pay-1")
    assert response.status_code == 409 and response["Retry-After"]
    assert Payment.objects.count() == 0


def test_keys_are_the_callers_own(household, make_user):
    mine = post(client_for(household.resident), body(household), key="shared")
    other_household_user = make_user()
    from civicdesk.registry.models import AccountLink

    AccountLink.objects.create(
        user=other_household_user, account=household.account, role="tenant", method="code"
    )
    theirs = post(client_for(other_household_user), body(household), key="shared")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert IdempotencyKey.objects.count() == 2


def test_a_refusal_is_stored_and_replayed_too(household):
    client = client_for(household.resident)
    first = post(client, body(household, amount="0"), key="zero")
    again = post(client, body(household, amount="0"), key="zero")
    assert first.status_code == again.status_code == 422
    assert again["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 0


def test_the_key_is_required(household):
    response = post(client_for(household.resident), body(household), key=None)
    assert response.status_code == 400
    assert Payment.objects.count() == 0


# --- schema ---------------------------------------------------------------------------------


def test_schema_documents_the_endpoints_and_the_key(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    create = schema["paths"]["/api/v1/payments"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    assert {"201", "409", "422"} <= set(create["responses"])
    assert "get" in schema["paths"]["/api/v1/payments/{payment_id}"]
    request = schema["components"]["schemas"]["PaymentCreateRequest"]
    assert set(request["required"]) == {"account_number", "amount", "gateway"}
    assert request["properties"]["amount"]["type"] == "string"
    payment = schema["components"]["schemas"]["Payment"]["properties"]
    assert payment["amount"]["type"] == "string" and "checkout" in payment


def test_decimal_amounts_are_never_rounded(household):
    """Every representable amount with two decimals is taken exactly; three are refused."""
    client = client_for(household.resident)
    for text, minor in (("0.01", 1), ("1", 100), ("12345678.90", 1234567890)):
        response = post(client, body(household, amount=text))
        assert response.status_code == 201
        assert Payment.objects.get(pk=response.json()["id"]).amount_minor == minor
    assert Decimal(post(client, body(household, amount="0.10")).json()["amount"]) == Decimal("0.1")
