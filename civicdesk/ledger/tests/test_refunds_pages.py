"""Refund pages: the resident's "Ask for a refund" (bank fields per jurisdiction, credit shown)
and "Refunds" list with Cancel; the back office's approvals queue and request page (approve,
reject, record payout, cancel). Another resident's account or refund is 404."""

from __future__ import annotations

import pytest
from django.test import Client

from civicdesk.ledger import refunds
from civicdesk.ledger import services as ledger
from civicdesk.ledger.models import RefundRequest
from civicdesk.ledger.tests.refund_helpers import UA_BANK, balances, credit, link
from civicdesk.registry.tests import factories as rf

pytest_plugins = ["civicdesk.ledger.tests.refund_support"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident_client(client, resident):
    client.force_login(resident)
    return client


@pytest.fixture
def staff_client(totp_code):
    def _login(user) -> Client:
        browser = Client()
        browser.force_login(user)
        response = browser.post("/mfa/", {"code": totp_code()})
        assert response.status_code == 302, "TOTP was not accepted"
        return browser

    return _login


def new_url(account) -> str:
    return f"/accounts/{account.number}/refund/"


# --- portal ---------------------------------------------------------------------------------


def test_ask_page_shows_the_credit_and_za_bank_fields(resident_client, account_with_credit):
    response = resident_client.get(new_url(account_with_credit))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ask for a refund" in html
    assert "500.00" in html  # the credit available
    form = response.context["form"]
    assert list(form.fields) == [
        "amount",
        "holder",
        "bank_account_number",
        "branch_code",
        "bank_name",
    ]
    assert form.fields["branch_code"].label == "Branch code"
    assert 'name="iban"' not in html


@pytest.mark.parametrize(
    ("jurisdiction", "fields", "label"),
    [
        ("UA", ["amount", "holder", "iban", "bank_name"], "IBAN"),
        ("RU", ["amount", "holder", "bank_account_number", "branch_code", "bank_name"], "BIK"),
    ],
)
def test_bank_fields_follow_the_jurisdiction(
    resident_client, account_with_credit, operator, jurisdiction, fields, label
):
    operator.jurisdiction = jurisdiction
    operator.save()
    response = resident_client.get(new_url(account_with_credit))
    form = response.context["form"]
    assert list(form.fields) == fields
    assert label in response.content.decode()


def test_asking_sets_the_credit_aside_and_lists_it(resident_client, account_with_credit):
    response = resident_client.post(
        new_url(account_with_credit),
        {
            "amount": "120.50",
            "holder": "Naledi Mahlangu",
            "bank_account_number": "6200 001 2345",
            "branch_code": "250655",
            "bank_name": "FNB",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/refunds/"
    refund = RefundRequest.objects.get()
    assert refund.amount_minor == 12050 and refund.bank_account_number == "62000012345"
    assert ledger.credit_available(account_with_credit) == 50000 - 12050
    page = resident_client.get("/refunds/")
    html = page.content.decode()
    assert refund.case.reference in html
    assert "Waiting for approval" in html
    assert f"/refunds/{refund.id}/cancel/" in html  # the Cancel button
    assert "379.50" in html  # the credit still on the account, with its "Ask for a refund"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "600.00"}, "amount", "more than the credit"),
        ({"amount": "0"}, "amount", "more than zero"),
        ({"amount": "-3"}, "amount", "more than zero"),
        ({"amount": "1.001"}, "amount", "decimal places"),
        ({"amount": "abc"}, "amount", "Enter a number"),
        ({"branch_code": "2506"}, "branch_code", "6 digits"),
        ({"bank_account_number": "12x"}, "bank_account_number", "digits only"),
        ({"holder": ""}, "holder", "required"),
    ],
)
def test_bad_input_is_shown_on_the_form(resident_client, account_with_credit, data, field, message):
    body = {
        "amount": "10.00",
        "holder": "Naledi",
        "bank_account_number": "62000012345",
        "branch_code": "250655",
        **data,
    }
    response = resident_client.post(new_url(account_with_credit), body)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert not RefundRequest.objects.exists()


def test_ua_iban_error_is_shown(resident_client, account_with_credit, operator):
    operator.jurisdiction = "UA"
    operator.save()
    response = resident_client.post(
        new_url(account_with_credit),
        {"amount": "10.00", "holder": "Іван", "iban": UA_BANK["iban"][:-1] + "9"},
    )
    assert "check digits" in " ".join(response.context["form"].errors["iban"])


def test_no_credit_no_form(resident_client, resident, operator):
    account = rf.account()
    link(resident, account)
    response = resident_client.get(new_url(account))
    assert response.status_code == 200
    assert response.context["has_credit"] is False
    assert 'data-testid="refund-form"' not in response.content.decode()


def test_another_residents_account_and_refund_are_404(
    resident_client, account_with_credit, make_user, ask
):
    stranger = make_user()
    theirs = rf.account()
    link(stranger, theirs)
    credit(theirs, 1000, reference="PAY-2")
    assert resident_client.get(new_url(theirs)).status_code == 404
    assert resident_client.post(new_url(theirs), {"amount": "1"}).status_code == 404
    mine = ask("10.00")
    other = Client()
    other.force_login(stranger)
    assert other.post(f"/refunds/{mine.id}/cancel/").status_code == 404
    assert str(mine.id) not in other.get("/refunds/").content.decode()
    mine.refresh_from_db()
    assert mine.status == RefundRequest.Status.REQUESTED


def test_resident_cancels_from_the_list(resident_client, account_with_credit, ask):
    refund = ask("25.00")
    response = resident_client.post(f"/refunds/{refund.id}/cancel/", follow=True)
    assert "the credit is back" in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.CANCELLED
    assert ledger.credit_available(account_with_credit) == 50000
    response = resident_client.post(f"/refunds/{refund.id}/cancel/", follow=True)
    assert "already" in response.content.decode()  # told, not a 500
    assert resident_client.get(f"/refunds/{refund.id}/cancel/").status_code == 405


def test_anonymous_visitors_are_sent_to_log_in(client, account_with_credit):
    response = client.get(new_url(account_with_credit))
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- back office ----------------------------------------------------------------------------


def test_queue_shows_amount_credit_approvals_and_who_asked(
    staff_client, officer, ask, resident, operator
):
    operator.refund_second_approval_minor = 5000
    operator.save()
    refund = ask("150.00")
    refunds.refund_decide(refund=refund, approver=officer, decision="approve")
    approved = ask("20.00")
    refunds.refund_decide(refund=approved, approver=officer, decision="approve")
    browser = staff_client(officer)
    response = browser.get("/staff/money/refunds/")
    assert response.status_code == 200
    html = response.content.decode()
    queue = html[
        html.index('data-testid="approval-queue"') : html.index('data-testid="payout-queue"')
    ]
    assert "150.00" in queue and "330.00" in queue  # amount, credit left now (500-150-20)
    assert "1 of 2" in queue and officer.email in queue and resident.email in queue
    payouts = html[html.index('data-testid="payout-queue"') :]
    assert "20.00" in payouts and "Record payout" in payouts


def test_officer_approves_then_records_the_payout(staff_client, officer, ask, account_with_credit):
    refund = ask("150.00")
    browser = staff_client(officer)
    url = f"/staff/money/refunds/{refund.id}/"
    page = browser.get(url)
    assert page.status_code == 200 and "62000012345" in page.content.decode()
    response = browser.post(url, {"action": "approve", "note": "Looks right"})
    assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.APPROVED
    response = browser.post(url, {"action": "payout", "payout_reference": ""})
    assert response.status_code == 400  # the reference is required
    response = browser.post(url, {"action": "payout", "payout_reference": "EFT 55"})
    assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.PAID
    assert balances(account_with_credit) == {"receivable": -35000, "payable": 0, "payouts": -15000}
    assert "Paid out" in browser.get(url).content.decode()


def test_reject_without_a_note_is_refused_on_the_page(staff_client, officer, ask):
    refund = ask("10.00")
    browser = staff_client(officer)
    url = f"/staff/money/refunds/{refund.id}/"
    response = browser.post(url, {"action": "reject", "note": ""})
    assert response.status_code == 400
    assert "resident reads it" in response.content.decode()
    response = browser.post(url, {"action": "reject", "note": "Not yours"})
    assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.REJECTED


def test_the_same_officer_is_not_offered_a_second_vote(staff_client, officer, ask, operator):
    operator.refund_second_approval_minor = 100
    operator.save()
    refund = ask("10.00")
    browser = staff_client(officer)
    url = f"/staff/money/refunds/{refund.id}/"
    browser.post(url, {"action": "approve"})
    page = browser.get(url).content.decode()
    assert 'value="approve"' not in page and "another approver" in page
    response = browser.post(url, {"action": "approve"})  # forced: the service refuses it
    assert response.status_code == 400
    refund.refresh_from_db()
    assert refund.approvals.count() == 1 and refund.status == RefundRequest.Status.REQUESTED


def test_staff_cancel_needs_a_reason(staff_client, officer, ask, account_with_credit):
    refund = ask("10.00")
    browser = staff_client(officer)
    url = f"/staff/money/refunds/{refund.id}/"
    assert browser.post(url, {"action": "cancel", "reason": ""}).status_code == 400
    assert browser.post(url, {"action": "cancel", "reason": "Asked by phone"}).status_code == 302
    assert ledger.credit_available(account_with_credit) == 50000
    assert browser.post(url, {"action": "bogus"}).status_code == 400


def test_agents_see_but_cannot_decide(staff_client, make_user, ask):
    refund = ask("10.00")
    agent = make_user(role="call_centre_agent")
    browser = staff_client(agent)
    url = f"/staff/money/refunds/{refund.id}/"
    page = browser.get(url).content.decode()
    assert 'value="approve"' not in page and 'value="payout"' not in page
    assert browser.post(url, {"action": "approve"}).status_code == 403
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.REQUESTED


def test_residents_cannot_open_the_back_office(resident_client, ask):
    refund = ask("10.00")
    assert resident_client.get("/staff/money/refunds/").status_code == 403
    assert resident_client.get(f"/staff/money/refunds/{refund.id}/").status_code == 403
