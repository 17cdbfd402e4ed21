"""The refunds API: residents ask, follow and cancel their own; the revenue team decides and
records payouts; every POST is idempotent; bad input is 400/422 problem+json with nothing
written; another resident's refund or account is 404."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from civicdesk.ledger import services as ledger
from civicdesk.ledger.models import RefundRequest, Transaction
from civicdesk.ledger.tests.refund_helpers import UA_BANK, ZA_BANK, balances, credit, link
from civicdesk.registry.tests import factories as rf

pytest_plugins = ["civicdesk.ledger.tests.refund_support"]

pytestmark = pytest.mark.django_db

URL = "/api/v1/refunds"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def post(client, url, body, key=None):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()))


def body(account, amount="150.00", **bank):
    return {"account_number": account.number, "amount": amount, **(bank or ZA_BANK)}


def test_resident_asks_and_the_team_approves_and_pays(
    resident, account_with_credit, officer, second_officer, operator
):
    operator.refund_second_approval_minor = 10000
    operator.save()
    me = client_for(resident)
    response = post(me, URL, body(account_with_credit, "150.00"))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["amount"] == "150.00" and data["currency"] == "ZAR"
    assert data["status"] == "requested" and data["approvals_needed"] == 2
    assert data["case_reference"].startswith("C-")
    assert data["decisions"] == []
    assert response["Location"].endswith(f"{URL}/{data['id']}")
    refund_url = f"{URL}/{data['id']}"
    assert balances(account_with_credit)["payable"] == -15000

    team = client_for(officer)
    response = post(team, f"{refund_url}/decision", {"decision": "approve", "note": "ok"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "requested" and response.json()["approvals_given"] == 1
    response = post(team, f"{refund_url}/decision", {"decision": "approve"})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "approver"

    response = post(client_for(second_officer), f"{refund_url}/decision", {"decision": "approve"})
    assert response.json()["status"] == "approved"
    assert [d["approver"] for d in response.json()["decisions"]] == [
        officer.email,
        second_officer.email,
    ]

    response = post(team, f"{refund_url}/payout", {"payout_reference": "EFT 42"})
    assert response.status_code == 200
    assert response.json()["status"] == "paid" and response.json()["payout_reference"] == "EFT 42"
    assert balances(account_with_credit) == {"receivable": -35000, "payable": 0, "payouts": -15000}

    mine = me.get(refund_url).json()
    assert mine["status"] == "paid" and mine["status_label"] == "Paid out"
    assert mine["decisions"] == []  # who decided is the team's business


def test_create_is_idempotent(resident, account_with_credit):
    me = client_for(resident)
    key = str(uuid.uuid4())
    first = post(me, URL, body(account_with_credit, "100.00"), key)
    again = post(me, URL, body(account_with_credit, "100.00"), key)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert RefundRequest.objects.count() == 1
    assert ledger.credit_available(account_with_credit) == 40000
    other = post(me, URL, body(account_with_credit, "101.00"), key)
    assert other.status_code == 422
    missing = me.post(URL, body(account_with_credit), format="json")
    assert missing.status_code == 400 and "Idempotency-Key" in missing.json()["detail"]
    assert RefundRequest.objects.count() == 1


def test_payout_is_idempotent_and_posted_once(resident, account_with_credit, officer):
    refund_id = post(client_for(resident), URL, body(account_with_credit)).json()["id"]
    team = client_for(officer)
    post(team, f"{URL}/{refund_id}/decision", {"decision": "approve"})
    key = str(uuid.uuid4())
    first = post(team, f"{URL}/{refund_id}/payout", {"payout_reference": "EFT 1"}, key)
    again = post(team, f"{URL}/{refund_id}/payout", {"payout_reference": "EFT 1"}, key)
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert (
        Transaction.objects.filter(reference=f"refund:{refund_id}").count() == 2
    )  # reserve, payout
    different = post(team, f"{URL}/{refund_id}/payout", {"payout_reference": "EFT 1"})
    assert different.status_code == 422  # a new key: paid already
    assert balances(account_with_credit)["payouts"] == -15000


@pytest.mark.parametrize(
    ("amount", "status", "field"),
    [
        ("0", 422, "amount"),
        ("0.00", 422, "amount"),
        ("-1.00", 422, "amount"),
        ("1.005", 422, "amount"),
        ("500.01", 422, "amount"),  # more than the credit
        (150, 400, "amount"),  # a JSON number
        ("1e3", 400, "amount"),
        ("", 400, "amount"),
        ("abc", 400, "amount"),
    ],
)
def test_bad_amounts(resident, account_with_credit, amount, status, field):
    response = post(client_for(resident), URL, body(account_with_credit, amount))
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not RefundRequest.objects.exists()
    assert balances(account_with_credit)["payable"] == 0


def test_too_many_decimals_says_so(resident, account_with_credit):
    response = post(client_for(resident), URL, body(account_with_credit, "10.001"))
    assert "more than 2 decimal places" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("bank", "field"),
    [
        ({**ZA_BANK, "branch_code": "12"}, "branch_code"),
        ({**ZA_BANK, "iban": UA_BANK["iban"]}, "iban"),
        ({**ZA_BANK, "bank_account_number": "12"}, "bank_account_number"),
        ({**ZA_BANK, "holder": "  "}, "holder"),  # blank: the schema refuses it (400)
    ],
)
def test_bad_bank_details_name_the_field(resident, account_with_credit, bank, field):
    response = post(client_for(resident), URL, body(account_with_credit, **bank))
    assert response.status_code in (400, 422)
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not RefundRequest.objects.exists()


def test_another_residents_account_and_refund_are_404(resident, account_with_credit, make_user):
    stranger = make_user()
    theirs = rf.account()
    link(stranger, theirs)
    credit(theirs, 10000, reference="PAY-2")
    response = post(client_for(resident), URL, body(theirs, "10.00"))
    assert response.status_code == 404
    response = post(client_for(resident), URL, body(theirs, "10.00") | {"account_number": "nope"})
    assert response.status_code == 404

    refund_id = post(client_for(resident), URL, body(account_with_credit)).json()["id"]
    stranger_client = client_for(stranger)
    assert stranger_client.get(f"{URL}/{refund_id}").status_code == 404
    assert post(stranger_client, f"{URL}/{refund_id}/cancel", {}).status_code == 404
    assert stranger_client.get(URL).json()["results"] == []
    assert client_for(resident).get(f"{URL}/{uuid.uuid4()}").status_code == 404
    assert RefundRequest.objects.get().status == "requested"


def test_resident_cancels_and_cannot_decide(resident, account_with_credit):
    me = client_for(resident)
    refund_id = post(me, URL, body(account_with_credit)).json()["id"]
    assert post(me, f"{URL}/{refund_id}/decision", {"decision": "approve"}).status_code == 403
    assert post(me, f"{URL}/{refund_id}/payout", {"payout_reference": "x"}).status_code == 403
    response = post(me, f"{URL}/{refund_id}/cancel", {})
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert ledger.credit_available(account_with_credit) == 50000
    again = post(me, f"{URL}/{refund_id}/cancel", {})
    assert again.status_code == 422


def test_cancel_after_payout_is_422(resident, account_with_credit, officer):
    me = client_for(resident)
    refund_id = post(me, URL, body(account_with_credit)).json()["id"]
    team = client_for(officer)
    post(team, f"{URL}/{refund_id}/decision", {"decision": "approve"})
    post(team, f"{URL}/{refund_id}/payout", {"payout_reference": "EFT 3"})
    response = post(me, f"{URL}/{refund_id}/cancel", {"reason": "changed my mind"})
    assert response.status_code == 422
    assert "paid out" in response.json()["detail"]
    assert balances(account_with_credit)["payouts"] == -15000


def test_staff_cannot_ask_through_the_api(make_user, operator):
    staff_resident = make_user(role="revenue_officer")
    account = rf.account()
    link(staff_resident, account)
    credit(account, 10000)
    # staff cannot ask through the API at all
    response = post(client_for(staff_resident), URL, body(account, "10.00"))
    assert response.status_code == 403


def test_reject_needs_a_note_and_returns_the_credit(resident, account_with_credit, officer):
    refund_id = post(client_for(resident), URL, body(account_with_credit, "77.77")).json()["id"]
    team = client_for(officer)
    response = post(team, f"{URL}/{refund_id}/decision", {"decision": "reject"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "note"
    response = post(team, f"{URL}/{refund_id}/decision", {"decision": "nope"})
    assert response.status_code == 400
    response = post(team, f"{URL}/{refund_id}/decision", {"decision": "reject", "note": "Dup"})
    assert response.json()["status"] == "rejected" and response.json()["reason"] == "Dup"
    assert ledger.credit_available(account_with_credit) == 50000


def test_staff_lists_with_filters_and_agents_read_only(
    resident, account_with_credit, officer, make_user
):
    me = client_for(resident)
    first = post(me, URL, body(account_with_credit, "10.00")).json()["id"]
    post(me, URL, body(account_with_credit, "20.00"))
    post(me, f"{URL}/{first}/cancel", {})
    team = client_for(officer)
    assert len(team.get(URL).json()["results"]) == 2
    requested = team.get(URL, {"status": "requested"}).json()["results"]
    assert [r["amount"] for r in requested] == ["20.00"]
    assert team.get(URL, {"status": "bogus"}).status_code == 400
    assert team.get(URL, {"account_number": "0000"}).json()["results"] == []
    agent = client_for(make_user(role="call_centre_agent"))
    assert agent.get(f"{URL}/{first}").status_code == 200
    response = post(agent, f"{URL}/{first}/decision", {"decision": "approve"})
    assert response.status_code == 403
    response = post(agent, URL, body(account_with_credit))
    assert response.status_code == 403


def test_anonymous_is_refused():
    assert APIClient().get(URL).status_code in (401, 403)


def test_schema_documents_the_idempotency_key(client, operator):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    if response.status_code == 404:
        pytest.skip("no schema endpoint at /api/schema/")
    text = response.content.decode()
    assert "/api/v1/refunds/{refund_id}/payout" in text
    assert "Idempotency-Key" in text
