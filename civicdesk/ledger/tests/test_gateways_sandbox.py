"""The sandbox gateway: checkout, the hosted page's decisions (success, failure, cancel, timeout),
HMAC-signed notifications, fetch for the reconciler and saved methods. An in-memory store, and
one run through the ORM store on the real SandboxCharge model."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicdesk.ledger.gateways import (
    GatewayError,
    PaymentOrder,
    SignatureError,
    gateway_get,
)
from civicdesk.ledger.gateways.sandbox import (
    SIGNATURE_HEADER,
    MemorySandboxStore,
    SandboxGateway,
    sandbox_decide,
    sandbox_notification,
    sandbox_sign,
)

SECRET = "sandbox-test-secret"


def make_gateway(**options) -> SandboxGateway:
    return SandboxGateway(
        {"enabled": True, "secret": SECRET, **options}, store=MemorySandboxStore()
    )


def order(**overrides) -> PaymentOrder:
    values = {
        "payment_id": "0b9f7c1e-5d0e-4a43-9a55-1f0c1f6f8b11",
        "amount": Decimal("125.50"),
        "currency": "ZAR",
        "description": "Water and refuse, March",
        "return_url": "/pay/return/x/",
        "cancel_url": "/pay/cancel/x/",
        "notify_url": "/pay/notify/sandbox/",
    }
    values.update(overrides)
    return PaymentOrder(**values)


def deliver(gateway: SandboxGateway, result):
    """What the notification endpoint would do with the notification for ``result``."""
    body, headers = gateway.notification(result)
    return gateway.parse_notification(body, headers["Content-Type"], headers, "127.0.0.1")


def test_checkout_records_a_pending_charge_and_sends_to_the_hosted_page():
    gateway = make_gateway()
    checkout = gateway.checkout(order(save_method=True))
    assert checkout.method == "GET" and checkout.fields == {}
    assert checkout.url == f"/pay/sandbox/{checkout.gateway_ref}/"
    record = gateway.store.get(checkout.gateway_ref)
    assert record.status == "pending" and record.amount_minor == 12550
    assert record.currency == "ZAR" and record.save_method
    assert record.return_url == "/pay/return/x/" and record.notify_url == "/pay/notify/sandbox/"
    assert gateway.fetch(order().payment_id, checkout.gateway_ref).outcome == "pending"


def test_success_is_notified_and_the_notification_verifies():
    gateway = make_gateway()
    ref = gateway.checkout(order()).gateway_ref
    result = gateway.decide(ref, "success")
    assert result.outcome == "succeeded"
    assert result.amount == Decimal("125.50") and result.currency == "ZAR"
    assert result.gateway_ref == ref and result.event_id == f"{ref}:succeeded"
    assert result.method_token is None
    received = deliver(gateway, result)
    assert (received.payment_id, received.outcome, received.amount, received.event_id) == (
        result.payment_id,
        "succeeded",
        Decimal("125.50"),
        result.event_id,
    )
    assert gateway.fetch(result.payment_id, ref) == result


def test_a_replayed_notification_has_the_same_event_id():
    gateway = make_gateway()
    result = gateway.decide(gateway.checkout(order()).gateway_ref, "success")
    body, headers = gateway.notification(result)
    first = gateway.parse_notification(body, "application/json", headers, None)
    again = gateway.parse_notification(body, "application/json", headers, None)
    assert first.event_id == again.event_id == result.event_id


@pytest.mark.parametrize(("decision", "outcome"), [("failure", "failed"), ("cancel", "cancelled")])
def test_failure_and_cancel_are_notified(decision, outcome):
    gateway = make_gateway()
    ref = gateway.checkout(order(save_method=True)).gateway_ref
    result = gateway.decide(ref, decision)
    assert result.outcome == outcome and result.method_token is None
    assert deliver(gateway, result).outcome == outcome
    assert gateway.store.get(ref).decided_at is not None


def test_timeout_succeeds_at_the_bank_but_only_fetch_reveals_it():
    gateway = make_gateway()
    ref = gateway.checkout(order()).gateway_ref
    assert gateway.decide(ref, "timeout") is None
    record = gateway.store.get(ref)
    assert record.status == "succeeded" and not record.deliver_notification
    found = gateway.fetch(order().payment_id, ref)
    assert found.outcome == "succeeded" and found.amount == Decimal("125.50")
    assert found.event_id == f"{ref}:succeeded"


def test_deciding_twice_the_same_way_answers_the_same_and_another_way_is_refused():
    gateway = make_gateway()
    ref = gateway.checkout(order()).gateway_ref
    first = gateway.decide(ref, "success")
    assert gateway.decide(ref, "success") == first
    for other in ("failure", "cancel", "timeout"):
        with pytest.raises(GatewayError) as caught:
            gateway.decide(ref, other)
        assert caught.value.code == "already_decided"
    timed_out = gateway.checkout(order()).gateway_ref
    assert gateway.decide(timed_out, "timeout") is None
    assert gateway.decide(timed_out, "timeout") is None
    with pytest.raises(GatewayError):
        gateway.decide(timed_out, "success")  # the bank took it, but it was never notified


def test_a_decision_lost_to_a_concurrent_one_reports_the_winner():
    gateway = make_gateway()
    ref = gateway.checkout(order()).gateway_ref
    store = gateway.store
    real_update = store.update

    def racing_update(ref_, **fields):
        real_update(
            ref_, expect_status="pending", status="failed", deliver_notification=True
        )  # another request decided first
        return real_update(ref_, **fields)

    store.update = racing_update
    with pytest.raises(GatewayError) as caught:
        gateway.decide(ref, "success")
    assert caught.value.code == "already_decided"
    assert store.get(ref).status == "failed"


@pytest.mark.parametrize(("ref", "decision"), [("nope", "success"), (None, "explode")])
def test_unknown_charges_and_decisions_are_refused(ref, decision):
    gateway = make_gateway()
    ref = ref or gateway.checkout(order()).gateway_ref
    with pytest.raises(GatewayError) as caught:
        gateway.decide(ref, decision)
    assert caught.value.code in {"unknown_charge", "invalid_outcome"}


def test_fetch_refuses_another_payments_reference_and_unknown_ones():
    gateway = make_gateway()
    ref = gateway.checkout(order()).gateway_ref
    with pytest.raises(GatewayError) as caught:
        gateway.fetch("another-payment", ref)
    assert caught.value.code == "reference_mismatch"
    with pytest.raises(GatewayError) as caught:
        gateway.fetch(order().payment_id, "f" * 32)
    assert caught.value.code == "unknown_charge"


def test_checkout_refuses_currencies_and_precision_it_does_not_take():
    gateway = make_gateway(currencies=["ZAR"])
    with pytest.raises(GatewayError) as caught:
        gateway.checkout(order(currency="UAH"))
    assert caught.value.code == "currency_not_supported"
    with pytest.raises(GatewayError) as caught:
        gateway.checkout(order(amount=Decimal("1.001")))
    assert caught.value.code == "invalid_amount"


# --- saved methods ----------------------------------------------------------------------------
def saved_token(gateway: SandboxGateway) -> str:
    result = gateway.decide(gateway.checkout(order(save_method=True)).gateway_ref, "success")
    return result.method_token


def test_a_success_with_save_method_issues_a_token_that_charges_at_once():
    gateway = make_gateway()
    ref = gateway.checkout(order(save_method=True)).gateway_ref
    result = gateway.decide(ref, "success")
    assert re.fullmatch(r"sbx_tok_[0-9a-f]{24}", result.method_token)
    assert result.method_label.endswith(result.method_token[-4:])
    assert deliver(gateway, result).method_token == result.method_token
    charged = gateway.charge_saved(
        order(payment_id="second", amount=Decimal("80.00"), saved_method_token=result.method_token)
    )
    assert charged.outcome == "succeeded" and charged.amount == Decimal("80.00")
    assert charged.gateway_ref != ref and charged.method_token == result.method_token
    assert gateway.fetch("second", charged.gateway_ref) == charged


def test_a_timeout_with_save_method_still_issues_the_token():
    gateway = make_gateway()
    ref = gateway.checkout(order(save_method=True)).gateway_ref
    assert gateway.decide(ref, "timeout") is None
    token = gateway.fetch(order().payment_id, ref).method_token
    assert token and gateway.store.token_known(token)


def test_charge_saved_declines_the_marker_and_refuses_unknown_tokens():
    gateway = make_gateway(decline_marker="_nofunds")
    declined = gateway.charge_saved(order(saved_method_token="sbx_tok_123_nofunds"))
    assert declined.outcome == "failed" and declined.method_token is None
    with pytest.raises(GatewayError) as caught:
        gateway.charge_saved(order(saved_method_token="sbx_tok_never_issued"))
    assert caught.value.code == "unknown_method"
    with pytest.raises(GatewayError) as caught:
        gateway.charge_saved(order())
    assert caught.value.code == "no_method"
    failed = gateway.decide(gateway.checkout(order(save_method=True)).gateway_ref, "failure")
    assert failed.method_token is None  # a failed payment saves nothing


def test_the_default_decline_marker():
    gateway = make_gateway()
    token = saved_token(gateway)
    assert gateway.charge_saved(order(saved_method_token=token)).outcome == "succeeded"
    declined = gateway.charge_saved(order(saved_method_token=token + "_decline"))
    assert declined.outcome == "failed"


# --- signatures -------------------------------------------------------------------------------
def signed_notification(gateway: SandboxGateway) -> tuple[bytes, dict[str, str]]:
    result = gateway.decide(gateway.checkout(order()).gateway_ref, "success")
    return gateway.notification(result)


def test_the_signature_is_hmac_sha256_of_the_body():
    gateway = make_gateway()
    body, headers = signed_notification(gateway)
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    assert json.loads(body)["status"] == "succeeded"


def test_forged_missing_and_wrong_key_signatures_are_refused():
    gateway = make_gateway()
    body, headers = signed_notification(gateway)
    forged = {**headers, SIGNATURE_HEADER: "0" * 64}
    other_key = SandboxGateway({"enabled": True, "secret": "another"}, store=gateway.store)
    tampered = body.replace(b'"succeeded"', b'"cancelled"')
    for attempt_body, attempt_headers in [
        (body, forged),
        (body, {"Content-Type": "application/json"}),
        (tampered, headers),
    ]:
        with pytest.raises(SignatureError):
            gateway.parse_notification(attempt_body, "application/json", attempt_headers, None)
    with pytest.raises(SignatureError):
        other_key.parse_notification(body, "application/json", headers, None)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"gateway_ref": "r"}',
        b'{"gateway_ref": "r", "payment_id": "p", "status": "paid", "amount_minor": 1, '
        b'"currency": "ZAR"}',
        b'{"gateway_ref": "r", "payment_id": "p", "status": "succeeded", "amount_minor": true, '
        b'"currency": "ZAR"}',
        b'{"gateway_ref": "r", "payment_id": "p", "status": "succeeded", "amount_minor": 1.5, '
        b'"currency": "ZAR"}',
    ],
)
def test_signed_but_malformed_notifications_are_errors_not_results(payload):
    gateway = make_gateway()
    headers = {SIGNATURE_HEADER: gateway.sign(payload)}
    with pytest.raises(GatewayError) as caught:
        gateway.parse_notification(payload, "application/json", headers, None)
    assert not isinstance(caught.value, SignatureError)


def test_wrong_content_type_is_malformed():
    gateway = make_gateway()
    body, headers = signed_notification(gateway)
    with pytest.raises(GatewayError) as caught:
        gateway.parse_notification(body, "text/plain", headers, None)
    assert caught.value.code == "malformed"


payment_ids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=64
)


@given(
    minor=st.integers(min_value=1, max_value=10**12),
    payment_id=payment_ids,
    currency=st.sampled_from(["ZAR", "UAH", "RUB"]),
    outcome=st.sampled_from(["success", "failure", "cancel"]),
)
def test_sign_then_verify_round_trips(minor, payment_id, currency, outcome):
    gateway = make_gateway()
    amount = Decimal(minor).scaleb(-2)
    ref = gateway.checkout(
        order(payment_id=payment_id, amount=amount, currency=currency)
    ).gateway_ref
    result = gateway.decide(ref, outcome)
    received = deliver(gateway, result)
    assert received.payment_id == payment_id and received.amount == amount
    assert received.event_id == result.event_id and received.outcome == result.outcome


@given(data=st.data())
def test_any_single_byte_change_is_refused(data):
    gateway = make_gateway()
    body, headers = signed_notification(gateway)
    position = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    replacement = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != body[position])
    )
    changed = body[:position] + bytes([replacement]) + body[position + 1 :]
    with pytest.raises(SignatureError):
        gateway.parse_notification(changed, "application/json", headers, None)
    signature = headers[SIGNATURE_HEADER]
    index = data.draw(st.integers(min_value=0, max_value=len(signature) - 1))
    other = data.draw(st.sampled_from("0123456789abcdef").filter(lambda c: c != signature[index]))
    forged = {**headers, SIGNATURE_HEADER: signature[:index] + other + signature[index + 1 :]}
    with pytest.raises(SignatureError):
        gateway.parse_notification(body, "application/json", forged, None)


# --- the configured gateway and the ORM store -------------------------------------------------
@pytest.mark.django_db
def test_the_configured_sandbox_keeps_its_book_in_the_database(settings):
    from civicdesk.ledger.models import SandboxCharge

    settings.PAYMENT_GATEWAYS = {"sandbox": {"enabled": True, "secret": SECRET}}
    gateway = gateway_get("sandbox")
    checkout = gateway.checkout(order(save_method=True))
    row = SandboxCharge.objects.get(pk=checkout.gateway_ref)
    assert (row.status, row.amount_minor, row.currency, row.save_method) == (
        "pending",
        12550,
        "ZAR",
        True,
    )

    result = sandbox_decide(checkout.gateway_ref, "success")
    row.refresh_from_db()
    assert row.status == "succeeded" and row.decided_at is not None
    assert row.method_token == result.method_token and row.deliver_notification
    body, headers = sandbox_notification(result)
    assert headers[SIGNATURE_HEADER] == sandbox_sign(body)
    assert gateway_get("sandbox").parse_notification(body, "application/json", headers, None)
    assert gateway.fetch(order().payment_id, checkout.gateway_ref) == result

    charged = gateway.charge_saved(order(payment_id="next", saved_method_token=result.method_token))
    assert charged.outcome == "succeeded"
    assert SandboxCharge.objects.get(pk=charged.gateway_ref).status == "succeeded"

    lost = gateway.checkout(order(payment_id="lost")).gateway_ref
    assert sandbox_decide(lost, "timeout") is None
    assert not SandboxCharge.objects.get(pk=lost).deliver_notification
    assert gateway.fetch("lost", lost).outcome == "succeeded"
    with pytest.raises(GatewayError):
        sandbox_decide(lost, "failure")
    with pytest.raises(GatewayError) as caught:
        gateway.fetch("x", "not-a-uuid")
    assert caught.value.code == "unknown_charge"
    assert not gateway.store.token_known("")


def test_module_helpers_need_a_configured_sandbox(settings):
    settings.PAYMENT_GATEWAYS = {"sandbox": {"enabled": False, "secret": SECRET}}
    with pytest.raises(GatewayError) as caught:
        sandbox_sign(b"{}")
    assert caught.value.code == "not_configured"
