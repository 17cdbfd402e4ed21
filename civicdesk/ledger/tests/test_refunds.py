"""Refund services: the whole flow with the ledger checked at each step, never more than the
credit, approvals (threshold, a second person, never the requester), reject and cancel return
the credit exactly, bad input is refused with nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from civicdesk.cases.models import Case, CaseEvent
from civicdesk.ledger import refunds
from civicdesk.ledger import services as ledger
from civicdesk.ledger.models import RefundApproval, RefundRequest, Transaction
from civicdesk.ledger.tests.refund_helpers import (
    RU_BANK,
    UA_BANK,
    ZA_BANK,
    balances,
    credit,
    link,
)
from civicdesk.notifications.models import Delivery
from civicdesk.registry.tests import factories as rf

pytest_plugins = ["civicdesk.ledger.tests.refund_support"]

pytestmark = pytest.mark.django_db


def errors_of(caught) -> dict:
    return caught.value.message_dict


def test_full_flow_with_balances_at_each_step(
    ask, account_with_credit, resident, officer, django_capture_on_commit_callbacks
):
    account = account_with_credit
    assert balances(account) == {"receivable": -50000, "payable": 0, "payouts": 0}
    assert ledger.credit_available(account) == 50000

    with django_capture_on_commit_callbacks(execute=True):
        refund = ask("150.00")
    assert refund.status == RefundRequest.Status.REQUESTED
    assert refund.amount_minor == 15000 and refund.currency == "ZAR"
    assert refund.approvals_needed == 1
    assert refund.reserve_transaction.kind == Transaction.Kind.REFUND
    assert balances(account) == {"receivable": -35000, "payable": -15000, "payouts": 0}
    assert ledger.credit_available(account) == 35000
    assert (refund.bank_account_number, refund.branch_code) == ("62000012345", "250655")
    case = refund.case
    assert case.category.kind == "refund" and case.requester == resident
    assert case.links.get().object_id == str(account.pk)
    assert Delivery.objects.filter(user=resident, template_key="refunds/requested").count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.refund_decide(refund=refund, approver=officer, decision="approve")
    assert refund.status == RefundRequest.Status.APPROVED and refund.decided_at
    assert balances(account) == {"receivable": -35000, "payable": -15000, "payouts": 0}
    assert Delivery.objects.filter(template_key="refunds/approved").count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.refund_pay(refund=refund, actor=officer, payout_reference="EFT 0001")
    assert refund.status == RefundRequest.Status.PAID
    assert refund.payout_reference == "EFT 0001"
    # credit → reserved → paid: refunds payable is back to zero, the bank paid out R 150.00
    assert balances(account) == {"receivable": -35000, "payable": 0, "payouts": -15000}
    payout = refund.payout_transaction
    assert sorted(p.amount_minor for p in payout.postings.all()) == [-15000, 15000]
    case.refresh_from_db()
    assert case.status == "resolved"
    reply = case.events.filter(kind=CaseEvent.Kind.STATUS, public=True).last()
    assert "EFT 0001" in reply.text
    paid = Delivery.objects.get(template_key="refunds/paid")
    assert "EFT 0001" in paid.body and "150.00" in paid.body


def test_every_step_is_in_the_case_timeline(ask, officer, second_officer, operator):
    operator.refund_second_approval_minor = 10000
    operator.save()
    refund = ask("150.00")
    refunds.refund_decide(refund=refund, approver=officer, decision="approve", note="Checked")
    refunds.refund_decide(refund=refund, approver=second_officer, decision="approve")
    refunds.refund_pay(refund=refund, actor=second_officer, payout_reference="EFT 7")
    kinds = list(
        Case.objects.get(pk=refund.case_id)
        .events.order_by("created_at", "pk")
        .values_list("kind", "public", "text")
    )
    notes = [text for kind, public, text in kinds if kind == "note"]
    assert "Approvals needed: 2" in notes[0]
    assert "Approval 1 of 2" in notes[1] and "Checked" in notes[1]
    assert "Approved (2 of 2)" in notes[2]
    assert all(not public for kind, public, _text in kinds if kind == "note")
    statuses = [(public, text) for kind, public, text in kinds if kind == "status"]
    assert statuses[0] == (False, "")  # in progress with the first decision
    assert statuses[-1][0] is True and "EFT 7" in statuses[-1][1]


# --- never more than the credit ---------------------------------------------------------------


def test_more_than_the_credit_is_refused_and_nothing_written(ask, account_with_credit):
    with pytest.raises(ValidationError) as caught:
        ask("500.01")
    assert "more than the credit" in errors_of(caught)["amount"][0]
    assert RefundRequest.objects.count() == 0 and Case.objects.count() == 0
    assert balances(account_with_credit)["receivable"] == -50000


def test_exactly_the_credit_is_allowed(ask, account_with_credit):
    ask("500.00")
    assert ledger.credit_available(account_with_credit) == 0


def test_two_requests_that_together_exceed_the_credit(ask, account_with_credit):
    ask("300.00")
    with pytest.raises(ValidationError) as caught:
        ask("300.00")
    assert "200.00" in errors_of(caught)["amount"][0]  # what is left is named
    assert RefundRequest.objects.count() == 1
    ask("200.00")
    assert ledger.credit_available(account_with_credit) == 0
    assert balances(account_with_credit) == {"receivable": 0, "payable": -50000, "payouts": 0}


def test_an_account_that_owes_has_no_credit_to_refund(resident, operator, ask):
    account = rf.account()
    link(resident, account)
    ledger.charge_post(
        account=account,
        lines=[ledger.ChargeLine(20000)],
        currency="ZAR",
        value_date=dt.date(2026, 3, 1),
        reference="INV-1",
    )
    credit(account, 5000)  # a part payment: still owes R 150.00
    with pytest.raises(ValidationError) as caught:
        ask("10.00", account=account)
    assert "amount" in errors_of(caught)


# --- approvals ------------------------------------------------------------------------------


def test_above_the_threshold_two_different_approvers_are_needed(
    ask, operator, officer, second_officer, account_with_credit
):
    operator.refund_second_approval_minor = 20000  # R 200.00
    operator.save()
    assert ask("200.00").approvals_needed == 1  # at the threshold: one is enough
    refund = ask("200.01")
    assert refund.approvals_needed == 2

    refund = refunds.refund_decide(refund=refund, approver=officer, decision="approve")
    assert refund.status == RefundRequest.Status.REQUESTED
    with pytest.raises(ValidationError) as caught:  # the same person cannot give the second
        refunds.refund_decide(refund=refund, approver=officer, decision="approve")
    assert "another approver" in errors_of(caught)["approver"][0]
    with pytest.raises(ValidationError):  # not approved yet: cannot be paid
        refunds.refund_pay(refund=refund, actor=officer, payout_reference="X")
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.REQUESTED
    refund = refunds.refund_decide(refund=refund, approver=second_officer, decision="approve")
    assert refund.status == RefundRequest.Status.APPROVED
    assert RefundApproval.objects.filter(refund=refund).count() == 2


def test_paying_before_approval_is_refused(ask, officer):
    refund = ask("100.00")
    with pytest.raises(ValidationError) as caught:
        refunds.refund_pay(refund=refund, actor=officer, payout_reference="EFT 1")
    assert "Only an approved refund" in errors_of(caught)["status"][0]
    assert refund.payout_transaction is None


def test_the_requester_cannot_approve_their_own(make_user, operator, officer):
    # a member of staff with credit of their own asks for a refund, then tries to approve it
    staff_resident = make_user(role="revenue_officer")
    account = rf.account()
    link(staff_resident, account)
    credit(account, 10000)
    refund = refunds.refund_request(
        account=account, requester=staff_resident, amount=Decimal("50.00"), **ZA_BANK
    )
    with pytest.raises(ValidationError) as caught:
        refunds.refund_decide(refund=refund, approver=staff_resident, decision="approve")
    assert "you asked for" in errors_of(caught)["approver"][0]
    assert not RefundApproval.objects.exists()
    refunds.refund_decide(refund=refund, approver=officer, decision="approve")


def test_who_may_decide_and_pay(ask, make_user, resident):
    refund = ask("100.00")
    agent = make_user(role="call_centre_agent")  # LEDGER_VIEW only
    for user in (agent, resident):
        with pytest.raises(PermissionDenied):
            refunds.refund_decide(refund=refund, approver=user, decision="approve")
        with pytest.raises(PermissionDenied):
            refunds.refund_pay(refund=refund, actor=user, payout_reference="X")
    assert not RefundApproval.objects.exists()


def test_decision_must_be_approve_or_reject(ask, officer):
    refund = ask("100.00")
    with pytest.raises(ValidationError) as caught:
        refunds.refund_decide(refund=refund, approver=officer, decision="maybe")
    assert "decision" in errors_of(caught)


# --- reject and cancel return the credit exactly ---------------------------------------------


def test_reject_returns_the_credit_exactly(
    ask, account_with_credit, officer, django_capture_on_commit_callbacks
):
    refund = ask("123.45")
    assert balances(account_with_credit)["receivable"] == -50000 + 12345
    with pytest.raises(ValidationError) as caught:
        refunds.refund_decide(refund=refund, approver=officer, decision="reject", note="  ")
    assert "note" in errors_of(caught)
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.refund_decide(
            refund=refund, approver=officer, decision="reject", note="The credit is a deposit."
        )
    assert refund.status == RefundRequest.Status.REJECTED
    assert refund.reason == "The credit is a deposit."
    assert balances(account_with_credit) == {"receivable": -50000, "payable": 0, "payouts": 0}
    assert ledger.credit_available(account_with_credit) == 50000
    assert Transaction.objects.filter(reverses=refund.reserve_transaction).count() == 1
    case = Case.objects.get(pk=refund.case_id)
    assert case.status == "resolved"
    assert "deposit" in case.events.filter(public=True).last().text
    assert "deposit" in Delivery.objects.get(template_key="refunds/rejected").body
    with pytest.raises(ValidationError):  # decided once
        refunds.refund_decide(refund=refund, approver=officer, decision="approve")


@pytest.mark.parametrize("approved_first", [False, True])
def test_the_resident_cancels_before_payout(
    ask, account_with_credit, resident, officer, approved_first, django_capture_on_commit_callbacks
):
    refund = ask("99.99")
    if approved_first:
        refunds.refund_decide(refund=refund, approver=officer, decision="approve")
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.refund_cancel(refund=refund, actor=resident)
    assert refund.status == RefundRequest.Status.CANCELLED
    assert refund.reason == "Cancelled by the resident."
    assert balances(account_with_credit) == {"receivable": -50000, "payable": 0, "payouts": 0}
    assert Case.objects.get(pk=refund.case_id).status == "cancelled"
    assert Delivery.objects.filter(template_key="refunds/cancelled").count() == 1
    with pytest.raises(ValidationError) as caught:
        refunds.refund_cancel(refund=refund, actor=resident)
    assert "already" in errors_of(caught)["status"][0]


def test_staff_cancel_needs_a_reason_and_the_permission(
    ask, officer, make_user, account_with_credit
):
    refund = ask("10.00")
    with pytest.raises(PermissionDenied):
        refunds.refund_cancel(refund=refund, actor=make_user(role="call_centre_agent"))
    with pytest.raises(PermissionDenied):
        refunds.refund_cancel(refund=refund, actor=make_user())  # another resident
    with pytest.raises(ValidationError) as caught:
        refunds.refund_cancel(refund=refund, actor=officer)
    assert "reason" in errors_of(caught)
    refunds.refund_cancel(refund=refund, actor=officer, reason="Duplicate of an earlier one.")
    assert ledger.credit_available(account_with_credit) == 50000


def test_cancel_after_payout_is_refused(ask, resident, officer, account_with_credit):
    refund = ask("50.00")
    refunds.refund_decide(refund=refund, approver=officer, decision="approve")
    refunds.refund_pay(refund=refund, actor=officer, payout_reference="EFT 9")
    for actor, reason in ((resident, ""), (officer, "Changed mind")):
        with pytest.raises(ValidationError) as caught:
            refunds.refund_cancel(refund=refund, actor=actor, reason=reason)
        assert "paid out" in errors_of(caught)["status"][0]
    with pytest.raises(ValidationError):
        refunds.refund_pay(refund=refund, actor=officer, payout_reference="EFT 10")  # not twice
    assert balances(account_with_credit) == {"receivable": -45000, "payable": 0, "payouts": -5000}
    assert RefundRequest.objects.get().status == RefundRequest.Status.PAID


def test_payout_reference_is_required(ask, officer):
    refund = ask("50.00")
    refunds.refund_decide(refund=refund, approver=officer, decision="approve")
    for bad in ("", "   ", "x" * 101):
        with pytest.raises(ValidationError) as caught:
            refunds.refund_pay(refund=refund, actor=officer, payout_reference=bad)
        assert "payout_reference" in errors_of(caught)
    assert RefundRequest.objects.get().status == RefundRequest.Status.APPROVED


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Decimal("0"), "more than zero"),
        (Decimal("0.00"), "more than zero"),
        (Decimal("-5.00"), "more than zero"),
        (Decimal("1.005"), "decimal places"),
        (Decimal("NaN"), "number"),
        (Decimal("Infinity"), "number"),
        (1.5, "number"),
    ],
)
def test_bad_amounts_are_refused_with_nothing_written(ask, account_with_credit, amount, message):
    with pytest.raises(ValidationError) as caught:
        ask(amount)
    assert message in errors_of(caught)["amount"][0]
    assert not RefundRequest.objects.exists() and not Case.objects.exists()
    assert balances(account_with_credit)["payable"] == 0


def test_amount_and_bank_errors_are_reported_together(ask):
    with pytest.raises(ValidationError) as caught:
        ask("-1", holder="", bank_account_number="1", branch_code="1")
    assert set(errors_of(caught)) == {"amount", "holder"}


@pytest.mark.parametrize(
    ("jurisdiction", "bank", "field", "message"),
    [
        ("ZA", {**ZA_BANK, "iban": UA_BANK["iban"]}, "iban", "not used in South Africa"),
        ("ZA", {**ZA_BANK, "bank_account_number": "12AB"}, "bank_account_number", "digits only"),
        ("ZA", {**ZA_BANK, "branch_code": "2506"}, "branch_code", "branch code has 6 digits"),
        ("UA", {**UA_BANK, "iban": UA_BANK["iban"][:-1] + "2"}, "iban", "check digits"),
        ("UA", {"holder": "Х", "iban": "PL61109010140000071219812874"}, "iban", "starts with UA"),
        ("UA", {**UA_BANK, "bank_account_number": "123"}, "bank_account_number", "only the IBAN"),
        ("RU", {**RU_BANK, "branch_code": "049805747"}, "bank_account_number", "control key"),
        ("RU", {**RU_BANK, "branch_code": "04980574"}, "branch_code", "BIK has 9 digits"),
        ("RU", {**RU_BANK, "holder": ""}, "holder", "account holder"),
    ],
)
def test_bad_bank_details_per_jurisdiction(ask, operator, jurisdiction, bank, field, message):
    operator.jurisdiction = jurisdiction
    operator.save()
    with pytest.raises(ValidationError) as caught:
        ask("10.00", **bank)
    assert message in errors_of(caught)[field][0]
    assert not RefundRequest.objects.exists()


def test_bank_errors_are_translated(ask, operator):
    operator.jurisdiction = "RU"
    operator.save()
    with translation.override("ru"), pytest.raises(ValidationError) as caught:
        ask("10.00", **{**RU_BANK, "branch_code": "049805747"})
    english = str(refunds.BANK_MESSAGES[("control_key", "account_number")])
    with translation.override("ru"):
        translated = str(refunds.BANK_MESSAGES[("control_key", "account_number")])
    assert errors_of(caught)["bank_account_number"] == [translated]
    # the catalogue is the lead's to fill; the message at least went through gettext
    assert isinstance(english, str)


@pytest.mark.parametrize(
    ("jurisdiction", "currency", "bank"),
    [("UA", "UAH", UA_BANK), ("RU", "RUB", RU_BANK)],
)
def test_other_jurisdictions_store_their_details(resident, operator, jurisdiction, currency, bank):
    operator.jurisdiction, operator.currency = jurisdiction, currency
    operator.save()
    account = rf.account()
    link(resident, account)
    credit(account, 10000, currency=currency)
    refund = refunds.refund_request(
        account=account, requester=resident, amount=Decimal("100.00"), **bank
    )
    assert refund.currency == currency
    assert (refund.iban, refund.bank_account_number, refund.branch_code) == (
        bank.get("iban", ""),
        bank.get("bank_account_number", ""),
        bank.get("branch_code", ""),
    )
    assert balances(account, currency)["payable"] == -10000


def test_transition_table_is_closed():
    for target_set in refunds.TRANSITIONS.values():
        assert target_set <= set(refunds.TRANSITIONS)
    assert not refunds.can_move("paid", "cancelled")
    assert refunds.can_move("approved", "cancelled")
    assert not refunds.can_move("requested", "paid")


def test_cancelling_the_case_in_the_crm_withdraws_the_refund(
    ask, account_with_credit, make_user, django_capture_on_commit_callbacks
):
    """A case specialist cancels the refund's case from the work queue: the credit set aside
    comes back exactly, and cancelling the refund itself afterwards is refused as decided."""
    from civicdesk.cases.services import case_transition

    refund = ask("123.45")
    assert ledger.credit_available(account_with_credit) == 50000 - 12345
    specialist = make_user(role="case_specialist")
    with django_capture_on_commit_callbacks(execute=True):
        case_transition(
            case=Case.objects.get(pk=refund.case_id),
            target="cancelled",
            actor=specialist,
            note="Asked by phone to withdraw it.",
        )
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.CANCELLED
    assert refund.reason == "Asked by phone to withdraw it."
    assert balances(account_with_credit) == {"receivable": -50000, "payable": 0, "payouts": 0}
    assert Transaction.objects.filter(reverses=refund.reserve_transaction).count() == 1
    assert Delivery.objects.filter(template_key="refunds/cancelled").count() == 1


def test_cancelling_the_refund_cancels_its_case_once(ask, resident, account_with_credit):
    refund = refunds.refund_cancel(refund=ask("10.00"), actor=resident)
    assert Case.objects.get(pk=refund.case_id).status == "cancelled"
    assert Transaction.objects.filter(reverses=refund.reserve_transaction).count() == 1
    assert balances(account_with_credit)["receivable"] == -50000
