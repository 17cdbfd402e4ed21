"""Online payment services: create, notify, settle once, reconcile; bad input writes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.ledger import payments
from civicdesk.ledger.gateways import GatewayError, GatewayResult
from civicdesk.ledger.gateways.sandbox import SandboxGateway
from civicdesk.ledger.models import (
    Allocation,
    Payment,
    PaymentEvent,
    SandboxCharge,
    SavedMethod,
    Transaction,
)
from civicdesk.ledger.tasks import payments_reconcile_task
from civicdesk.ledger.tests.payment_helpers import (
    balance_minor,
    clearing_balance,
    decide,
    deliver,
    ledger_counts,
)
from civicdesk.notifications.models import Delivery
from civicdesk.registry.tests import factories

pytest_plugins = ["civicdesk.ledger.tests.payments_support"]

BASE = "https://pay.example.org/"


def create(household, amount="100.00", **kwargs) -> Payment:
    options = {
        "account": household.account,
        "amount": Decimal(amount) if isinstance(amount, str) else amount,
        "gateway": "sandbox",
        "actor": household.resident,
        "channel": Payment.Channel.PORTAL,
        "base_url": BASE,
    }
    options.update(kwargs)
    return payments.payment_create(**options)


def later(minutes=20):
    return time_machine.travel(timezone.now() + dt.timedelta(minutes=minutes), tick=False)


# --- create ---------------------------------------------------------------------------------


def test_create_stores_the_checkout_and_posts_nothing(household):
    before = ledger_counts()
    payment = create(household, "120.50", invoice=" INV-2 ")
    assert payment.status == Payment.Status.CREATED
    assert (payment.amount_minor, payment.currency, payment.gateway) == (12_050, "ZAR", "sandbox")
    assert payment.invoice == "INV-2"
    assert payment.checkout_method == "GET"
    assert payment.checkout_url == f"/pay/sandbox/{payment.gateway_ref}/"
    charge = SandboxCharge.objects.get(pk=payment.gateway_ref)
    assert charge.payment_id == str(payment.pk) and charge.amount_minor == 12_050
    assert charge.return_url == f"https://pay.example.org/pay/return/{payment.pk}/"
    assert charge.notify_url == "https://pay.example.org/pay/notify/sandbox/"
    assert list(payment.events.values_list("kind", flat=True)) == ["created"]
    assert ledger_counts() == before


def test_success_settles_once_lowers_the_balance_and_pays_the_oldest_bill(
    household, django_capture_on_commit_callbacks
):
    payment = create(household)
    assert balance_minor(household.account) == 15_000
    with django_capture_on_commit_callbacks(execute=True):
        settled, ack = deliver(decide(payment, "success"))
    assert ack[0] == 200
    assert settled.status == Payment.Status.SUCCEEDED and settled.settled_at
    txn = settled.transaction
    assert txn.kind == Transaction.Kind.PAYMENT and txn.reference == str(payment.pk)
    assert balance_minor(household.account) == 5_000
    assert clearing_balance() == 10_000
    allocations = Allocation.objects.filter(credit__transaction=txn)
    assert [(a.charge.transaction.reference, a.amount_minor) for a in allocations] == [
        ("INV-1", 10_000)
    ]
    assert Transaction.objects.filter(reference=str(payment.pk)).count() == 1
    message = Delivery.objects.get(template_key="payments/succeeded")
    assert message.user == household.resident and "100.00" in message.body
    kinds = list(settled.events.values_list("kind", flat=True))
    assert kinds == ["created", "notification", "settled"]


def test_named_invoice_is_paid_first(household):
    payment = create(household, "50.00", invoice="INV-2")
    settled, _ack = deliver(decide(payment, "success"))
    allocations = Allocation.objects.filter(credit__transaction=settled.transaction)
    assert [(a.charge.transaction.reference, a.amount_minor) for a in allocations] == [
        ("INV-2", 5_000)
    ]


def test_overpayment_stays_as_credit(household):
    payment = create(household, "200.00")
    deliver(decide(payment, "success"))
    assert balance_minor(household.account) == -5_000


def test_failure_posts_nothing_and_tells_the_resident(
    household, django_capture_on_commit_callbacks
):
    payment = create(household)
    before = ledger_counts()
    with django_capture_on_commit_callbacks(execute=True):
        settled, _ack = deliver(decide(payment, "failure"))
    assert settled.status == Payment.Status.FAILED and settled.transaction is None
    assert ledger_counts() == before and balance_minor(household.account) == 15_000
    assert Delivery.objects.filter(template_key="payments/failed").count() == 1


def test_cancel_posts_nothing(household):
    payment = create(household)
    before = ledger_counts()
    settled, _ack = deliver(decide(payment, "cancel"))
    assert settled.status == Payment.Status.CANCELLED
    assert ledger_counts() == before


def test_replayed_notification_posts_nothing(household):
    payment = create(household)
    result = decide(payment, "success")
    deliver(result)
    before = ledger_counts()
    again, ack = deliver(result)
    assert ack[0] == 200 and again.status == Payment.Status.SUCCEEDED
    assert ledger_counts() == before
    assert payment.events.filter(kind=PaymentEvent.Kind.REPLAYED).count() == 1
    assert payment.events.filter(kind=PaymentEvent.Kind.NOTIFICATION).count() == 1


def test_a_second_settle_of_a_final_payment_does_nothing(household):
    payment = create(household)
    result = decide(payment, "success")
    deliver(result)
    before = ledger_counts()
    for source in ("notification", "reconciler", "return"):
        payments.payment_settle(payment, replace(result, event_id=""), source=source)
    payments.payment_settle(payment, replace(result, outcome="failed"), source="notification")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert ledger_counts() == before


def test_a_late_success_after_failure_is_flagged_not_posted(household):
    payment = create(household)
    failure = decide(payment, "failure")
    deliver(failure)
    before = ledger_counts()
    late = replace(failure, outcome="succeeded", event_id="late")
    settled = payments.payment_settle(payment, late, source="notification")
    assert settled.status == Payment.Status.FAILED
    assert ledger_counts() == before
    assert payments.needs_review(settled)


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        (Decimal("99.99"), "ZAR", "amount 9999 instead of 10000"),
        (Decimal("100.00"), "USD", "currency USD instead of ZAR"),
        (Decimal("100.001"), "ZAR", "not in whole minor units"),
        (None, "ZAR", "no amount"),
    ],
)
def test_amount_or_currency_mismatch_posts_nothing_and_marks_for_review(
    household, amount, currency, reason
):
    payment = create(household)
    result = decide(payment, "success")
    before = ledger_counts()
    forged = replace(result, amount=amount, currency=currency, event_id="mismatch-1")
    settled = payments.payment_settle(payment, forged, source="notification")
    assert settled.status == Payment.Status.PENDING and settled.transaction is None
    assert reason in settled.failure_reason
    assert ledger_counts() == before
    assert payments.needs_review(settled)
    # Even the true answer is not posted automatically now: an officer decides.
    payments.payment_settle(payment, result, source="reconciler")
    assert ledger_counts() == before
    # And the reconciler leaves it alone.
    with later():
        assert payments.payments_reconcile() == 0


def test_pending_outcome_moves_created_to_pending_only(household):
    payment = create(household)
    result = replace(decide(payment, "success"), outcome="pending", event_id="p-1")
    settled = payments.payment_settle(payment, result, source="notification")
    assert settled.status == Payment.Status.PENDING
    assert settled.transaction is None


# --- timeouts and the reconciler ------------------------------------------------------------


def test_timeout_stays_pending_until_the_reconciler_settles_it_once(household):
    payment = create(household)
    assert decide(payment, "timeout") is None  # the bank took the money, the news got lost
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
    assert payments.payments_reconcile() == 0  # too young to ask
    with later():
        assert payments.payments_reconcile() == 1
        assert payments.payments_reconcile() == 0
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.check_count == 1
    assert balance_minor(household.account) == 5_000
    assert Transaction.objects.filter(reference=str(payment.pk)).count() == 1
    # The notification finally arrives: the same state, already seen; nothing posted.
    before = ledger_counts()
    charge = SandboxCharge.objects.get(pk=payment.gateway_ref)
    gateway = SandboxGateway({"enabled": True, "secret": "unused"})
    again, _ack = deliver(gateway.result_of(gateway.store.get(str(charge.pk))))
    assert again.status == Payment.Status.SUCCEEDED
    assert ledger_counts() == before


def test_reconciler_and_notification_in_either_order_post_once(household):
    payment = create(household)
    result = decide(payment, "success")
    with later():
        payments.payments_reconcile()
    deliver(result)
    deliver(result)
    assert Transaction.objects.filter(reference=str(payment.pk)).count() == 1


def test_gateway_error_leaves_the_payment_open_and_counts_the_question(household):
    payment = create(household)
    decide(payment, "timeout")
    with (
        later(),
        mock.patch.object(
            SandboxGateway, "fetch", side_effect=GatewayError("timeout", retryable=True)
        ),
    ):
        assert payments.payments_reconcile() == 0
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED and payment.check_count == 1
    assert payment.events.filter(kind="reconciled", outcome="error").count() == 1
    with later(40):
        assert payments.payments_reconcile() == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and payment.check_count == 2


def test_an_undecided_payment_stays_open_even_when_old(household):
    payment = create(household)
    with later(60 * 48):
        assert payments.payments_reconcile() == 0
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING  # the gateway says so; still open
    assert payment.check_count == 1 and payment.transaction is None


def test_the_gateway_saying_cancelled_cancels_an_old_payment(household):
    payment = create(household)
    SandboxCharge.objects.filter(pk=payment.gateway_ref).update(status="cancelled")
    with later(60 * 48):
        assert payments.payments_reconcile() == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CANCELLED


def test_a_payment_the_gateway_never_saw_expires_only_after_the_configured_age(household, settings):
    settings.PAYMENTS_EXPIRE_AFTER_HOURS = 2
    payment = create(household)
    unknown = GatewayResult(
        payment_id=str(payment.pk),
        outcome="pending",
        amount=None,
        currency=None,
        gateway_ref="",
        event_id="",  # the gateway holds no payment for this order
    )
    before = ledger_counts()
    with mock.patch.object(SandboxGateway, "fetch", return_value=unknown):
        with later(60):
            assert payments.payments_reconcile() == 0
        payment.refresh_from_db()
        assert payment.status == Payment.Status.PENDING
        with later(3 * 60):
            assert payments.payments_reconcile() == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CANCELLED
    assert "expired" in payment.failure_reason
    assert ledger_counts() == before


def test_recently_asked_payments_wait_and_limit_is_kept(household):
    first, second = create(household), create(household, "10.00")
    decide(first, "timeout")
    decide(second, "timeout")
    with later():
        assert payments.payments_reconcile(limit=1) == 1
        assert payments.payments_reconcile(limit=1) == 1
        assert payments.payments_reconcile(limit=1) == 0


def test_task_and_command_reconcile(household, capsys):
    first, second = create(household), create(household, "10.00")
    decide(first, "timeout")
    decide(second, "timeout")
    with later():
        assert payments_reconcile_task.delay(15, 1).get() == 1
        call_command("reconcile_payments", "--older-than", "15")
    assert "settled: 1" in capsys.readouterr().out
    assert Payment.objects.filter(status=Payment.Status.SUCCEEDED).count() == 2


def test_payment_refresh_asks_at_most_every_few_seconds(household):
    payment = create(household)  # undecided: the gateway says pending
    real, calls = SandboxGateway.fetch, []

    def counting(self, *args):
        calls.append(args)
        return real(self, *args)

    with mock.patch.object(SandboxGateway, "fetch", counting):
        payments.payment_refresh(payment)
        payments.payment_refresh(payment)
        assert len(calls) == 1
        with time_machine.travel(timezone.now() + dt.timedelta(seconds=30), tick=False):
            payments.payment_refresh(payment)
        assert len(calls) == 2
    decide(payment, "timeout")
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1), tick=False):
        assert payments.payment_refresh(payment).status == Payment.Status.SUCCEEDED


# --- one click ------------------------------------------------------------------------------


def test_one_click_with_a_saved_method(household, django_capture_on_commit_callbacks):
    first = create(household, "10.00", save_method=True)
    deliver(decide(first, "success"))
    method = SavedMethod.objects.get(user=household.resident)
    assert method.gateway == "sandbox" and method.token.startswith("sbx_tok_")
    with django_capture_on_commit_callbacks(execute=True):
        payment = create(household, "20.00", saved_method=method)
    assert payment.status == Payment.Status.SUCCEEDED and payment.transaction
    assert payment.checkout_url == "" and payment.saved_method == method
    assert balance_minor(household.account) == 15_000 - 3_000
    # Still only one saved method (the same token is not stored twice).
    assert SavedMethod.objects.filter(user=household.resident).count() == 1


def test_one_click_declined_posts_nothing(household):
    method = SavedMethod.objects.create(
        user=household.resident, gateway="sandbox", token="sbx_tok_x_decline", label="Declined"
    )
    before = ledger_counts()
    payment = create(household, "20.00", saved_method=str(method.pk))
    assert payment.status == Payment.Status.FAILED
    assert ledger_counts() == before


def test_another_residents_or_a_removed_saved_method_is_refused(household, make_user):
    other = make_user()
    theirs = SavedMethod.objects.create(user=other, gateway="sandbox", token="sbx_tok_theirs")
    mine = SavedMethod.objects.create(
        user=household.resident, gateway="sandbox", token="sbx_tok_mine"
    )
    payments.saved_method_revoke(method=mine, actor=household.resident)
    for method in (theirs, mine, "not-a-uuid"):
        count = Payment.objects.count()
        with pytest.raises(ValidationError) as caught:
            create(household, saved_method=method)
        assert "saved_method" in caught.value.message_dict
        assert Payment.objects.count() == count
    with pytest.raises(ValidationError):
        payments.saved_method_revoke(method=theirs, actor=household.resident)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": Decimal("0")}, "amount", "The amount must be more than zero."),
        ({"amount": Decimal("-5.00")}, "amount", "The amount must be more than zero."),
        ({"amount": Decimal("10.001")}, "amount", "The amount has more than 2 decimal places."),
        ({"amount": Decimal("NaN")}, "amount", "Give the amount as a number, e.g. 150.00."),
        ({"amount": 10.5}, "amount", "Give the amount as a number, e.g. 150.00."),
        (
            {"amount": Decimal("10000000000.01")},
            "amount",
            "The amount is too large: at most 10000000000.00 can be paid at once.",
        ),
        ({"amount": Decimal("1e30")}, "amount", "The amount is too large"),
        ({"gateway": "paypal"}, "gateway", "There is no payment gateway called “paypal”."),
        (
            {"gateway": "payfast"},
            "gateway",
            "Payments through payfast are not available at the moment.",
        ),
        ({"invoice": "X" * 101}, "invoice", "The invoice number is too long"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_written(
    household, overrides, field, message
):
    before = (ledger_counts(), Payment.objects.count(), SandboxCharge.objects.count())
    with pytest.raises(ValidationError) as caught:
        create(household, **overrides)
    assert message in " ".join(caught.value.message_dict[field])
    assert (ledger_counts(), Payment.objects.count(), SandboxCharge.objects.count()) == before


def test_a_gateway_not_taking_the_currency_is_refused(household, settings):
    settings.PAYMENT_GATEWAYS = {
        **settings.PAYMENT_GATEWAYS,
        "sandbox": {**settings.PAYMENT_GATEWAYS["sandbox"], "currencies": ["UAH"]},
    }
    with pytest.raises(ValidationError) as caught:
        create(household)
    assert "does not take payments in ZAR" in caught.value.message_dict["gateway"][0]
    assert Payment.objects.count() == 0


def test_a_closed_account_is_refused(operator, make_user):
    account = factories.account(status="closed")
    with pytest.raises(ValidationError) as caught:
        payments.payment_create(
            account=account,
            amount=Decimal("10"),
            gateway="sandbox",
            actor=make_user(),
            channel="portal",
        )
    assert caught.value.message_dict["account"] == [
        f"Account {account.number} is closed and takes no more payments."
    ]
    assert Payment.objects.count() == 0


def test_errors_are_translated(household):
    with translation.override("uk"):
        with pytest.raises(ValidationError) as caught:
            create(household, amount="10.001")
        assert caught.value.message_dict["amount"] == ["Сума має більше ніж 2 знаків після коми."]


def test_gateway_down_at_checkout_fails_the_payment_and_says_so(household):
    with (
        mock.patch.object(
            SandboxGateway, "checkout", side_effect=GatewayError("network", retryable=True)
        ),
        pytest.raises(ValidationError) as caught,
    ):
        create(household)
    assert "did not answer" in caught.value.message_dict["gateway"][0]
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.FAILED
    assert ledger_counts()[0] == 2  # the two charges only


# --- properties -----------------------------------------------------------------------------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cents=st.integers(min_value=1, max_value=10**9),
    steps=st.lists(
        st.sampled_from(["notify", "replay", "reconcile", "settle_again", "forged"]),
        min_size=1,
        max_size=6,
    ),
)
def test_any_order_of_news_posts_a_success_exactly_once(household, cents, steps):
    """Whatever arrives in whatever order (notifications, replays, reconciler runs, mismatched
    amounts after the fact), a succeeded payment is posted exactly once and for its amount."""
    amount = Decimal(cents).scaleb(-2)
    payment = create(household, str(amount))
    result = decide(payment, "success")
    start = balance_minor(household.account)
    for step in ["notify", *steps]:
        if step in ("notify", "replay"):
            deliver(result)
        elif step == "reconcile":
            with later():
                payments.payments_reconcile()
        elif step == "settle_again":
            payments.payment_settle(payment, result, source="reconciler")
        else:
            payments.payment_settle(
                payment, replace(result, amount=amount + 1, event_id=""), source="notification"
            )
    assert Transaction.objects.filter(reference=str(payment.pk)).count() == 1
    assert balance_minor(household.account) == start - cents
