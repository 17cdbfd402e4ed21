"""Back-office payment pages: the list with its filters, one payment with its events, and
"ask the gateway now" for the revenue team."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from civicdesk.ledger import payments
from civicdesk.ledger.models import Payment, SandboxCharge, Transaction
from civicdesk.ledger.tests.payment_helpers import decide, deliver

pytest_plugins = ["civicdesk.ledger.tests.payments_support"]

LIST = "/staff/money/payments/"


def make_payment(household, amount="100.00") -> Payment:
    return payments.payment_create(
        account=household.account,
        amount=Decimal(amount),
        gateway="sandbox",
        actor=household.resident,
        channel="portal",
    )


@pytest.fixture
def three(household):
    paid, failed, open_ = (make_payment(household, a) for a in ("100.00", "20.00", "30.00"))
    deliver(decide(paid, "success"))
    deliver(decide(failed, "failure"))
    for payment in (paid, failed, open_):
        payment.refresh_from_db()
    return paid, failed, open_


def listed(response) -> set:
    return {payment.pk for payment, _amount in response.context["rows"]}


def test_list_and_filters(client, staff_login, household, three):
    paid, failed, open_ = three
    staff_login("call_centre_agent")
    response = client.get(LIST)
    assert response.status_code == 200
    assert listed(response) == {paid.pk, failed.pk, open_.pk}
    assert listed(client.get(LIST, {"status": "succeeded"})) == {paid.pk}
    assert listed(client.get(LIST, {"status": "open"})) == {open_.pk}
    assert listed(client.get(LIST, {"gateway": "sandbox"})) == {paid.pk, failed.pk, open_.pk}
    assert listed(client.get(LIST, {"gateway": "payfast"})) == set()
    assert listed(client.get(LIST, {"account": household.account.number})) == {
        paid.pk,
        failed.pk,
        open_.pk,
    }
    assert listed(client.get(LIST, {"account": "0000000000"})) == set()
    today = timezone.localdate()
    assert len(listed(client.get(LIST, {"date_from": today, "date_to": today}))) == 3
    tomorrow = today + dt.timedelta(days=1)
    assert listed(client.get(LIST, {"date_from": tomorrow})) == set()


def test_bad_filters_are_shown_not_a_500(client, staff_login, three):
    staff_login("call_centre_agent")
    response = client.get(LIST, {"date_from": "2025-02-30", "status": "nonsense"})
    assert response.status_code == 200
    form = response.context["form"]
    assert "date_from" in form.errors and "status" in form.errors
    backwards = client.get(LIST, {"date_from": "2025-03-01", "date_to": "2025-02-01"})
    assert "date_to" in backwards.context["form"].errors


def test_needs_review_filter(client, staff_login, household, three):
    _paid, _failed, open_ = three
    from dataclasses import replace

    result = decide(open_, "success")
    payments.payment_settle(open_, replace(result, amount=Decimal("1.00")), source="notification")
    staff_login("call_centre_agent")
    assert listed(client.get(LIST, {"status": "review"})) == {open_.pk}
    page = client.get(f"{LIST}{open_.pk}/").content.decode()
    assert "needs review" in page and "amount 100 instead of 3000" in page
    assert "Ask the gateway now" not in page


def test_detail_shows_the_events(client, staff_login, three):
    paid, _failed, _open = three
    staff_login("call_centre_agent")
    response = client.get(f"{LIST}{paid.pk}/")
    assert response.status_code == 200
    kinds = [event.kind for event in response.context["events"]]
    assert kinds == ["created", "notification", "settled"]
    page = response.content.decode()
    assert "Paid" in page and str(paid.transaction_id) in page
    assert "Ask the gateway now" not in page  # settled already


def test_revenue_officer_reconciles_a_timed_out_payment_once(client, staff_login, household):
    payment = make_payment(household)
    decide(payment, "timeout")
    staff_login("revenue_officer")
    page = client.get(f"{LIST}{payment.pk}/").content.decode()
    assert "Ask the gateway now" in page
    response = client.post(f"{LIST}{payment.pk}/reconcile/", follow=True)
    assert "The gateway answered: Paid." in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    asked = payment.events.get(kind="reconciled")
    assert asked.payload["source"] == "staff" and asked.payload["actor"].endswith("@example.org")
    client.post(f"{LIST}{payment.pk}/reconcile/")
    assert Transaction.objects.filter(reference=str(payment.pk)).count() == 1


def test_reconcile_of_an_undecided_payment_says_it_is_still_open(client, staff_login, household):
    payment = make_payment(household)
    staff_login("revenue_officer")
    response = client.post(f"{LIST}{payment.pk}/reconcile/", follow=True)
    assert "still open" in response.content.decode()
    assert SandboxCharge.objects.get(pk=payment.gateway_ref).status == "pending"


def test_only_the_revenue_team_reconciles(client, staff_login, household):
    payment = make_payment(household)
    decide(payment, "timeout")
    staff_login("call_centre_agent")
    assert "Ask the gateway now" not in client.get(f"{LIST}{payment.pk}/").content.decode()
    assert client.post(f"{LIST}{payment.pk}/reconcile/").status_code == 403
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED and payment.check_count == 0


def test_residents_and_staff_without_ledger_rights_are_kept_out(
    client, staff_login, household, three
):
    paid, *_rest = three
    client.force_login(household.resident)
    assert client.get(LIST).status_code == 403
    assert client.get(f"{LIST}{paid.pk}/").status_code == 403
    client.logout()
    staff_login("case_specialist")
    assert client.get(LIST).status_code == 403
    assert client.get(f"{LIST}{paid.pk}/").status_code == 403


def test_unknown_payment_is_404(client, staff_login, operator):
    staff_login("revenue_officer")
    assert client.get(f"{LIST}5f1d6d0a-0000-4000-8000-000000000000/").status_code == 404


def test_list_pages(client, staff_login, household):
    for _ in range(55):
        Payment.objects.create(
            account=household.account, amount_minor=100, currency="ZAR", gateway="sandbox"
        )
    staff_login("call_centre_agent")
    first = client.get(LIST, {"status": "created"})
    assert len(first.context["rows"]) == 50
    assert "status=created&amp;page=2" in first.content.decode()
    with time_machine.travel(timezone.now()):
        assert len(client.get(LIST, {"status": "created", "page": 2}).context["rows"]) == 5
