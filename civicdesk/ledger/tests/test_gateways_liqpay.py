"""LiqPay: data/signature, the checkout form, callbacks signed here as LiqPay signs them, and the
status and token-payment API against a fake LiqPay on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicdesk.ledger.gateways import GatewayError, PaymentOrder, SignatureError
from civicdesk.ledger.gateways.liqpay import LiqPayGateway, decode, sign
from civicdesk.ledger.tests.gateway_fakes import FakeGatewayServer, closed_url

PUBLIC_KEY = "i00000000"
PRIVATE_KEY = "a4825234f4bae72a0be04eafe9e8e2bada209255"
PAYMENT_ID = "7d1c0f4e-9a2b-4c3d-8e5f-6a7b8c9d0e1f"
FORM = "application/x-www-form-urlencoded"


def liqpay_signature(data: str, private_key: str = PRIVATE_KEY) -> str:
    """The documented rule, written out: base64(sha1(private_key + data + private_key))."""
    return base64.b64encode(
        hashlib.sha1((private_key + data + private_key).encode()).digest()
    ).decode()


def make_gateway(url: str = "https://www.liqpay.ua", **options) -> LiqPayGateway:
    return LiqPayGateway(
        {"public_key": PUBLIC_KEY, "private_key": PRIVATE_KEY, "base_url": url, "timeout": 2}
        | options
    )


def order(**overrides) -> PaymentOrder:
    values = {
        "payment_id": PAYMENT_ID,
        "amount": Decimal("350.5"),
        "currency": "UAH",
        "description": "Теплопостачання, березень",
        "return_url": "https://civicdesk.example/pay/return/7/",
        "cancel_url": "https://civicdesk.example/pay/cancel/7/",
        "notify_url": "https://civicdesk.example/pay/notify/liqpay/",
        "language": "uk",
    }
    values.update(overrides)
    return PaymentOrder(**values)


def callback_payload(**overrides) -> dict:
    payload = {
        "action": "pay",
        "payment_id": 1655143826,
        "status": "success",
        "version": 3,
        "type": "buy",
        "paytype": "card",
        "public_key": PUBLIC_KEY,
        "order_id": PAYMENT_ID,
        "liqpay_order_id": "JX5LB0ZR1655143825823071",
        "description": "Теплопостачання, березень",
        "sender_card_mask2": "473118*24",
        "sender_card_type": "visa",
        "amount": 350.5,
        "currency": "UAH",
        "create_date": 1655143825827,
    }
    payload.update(overrides)
    return payload


def data_of(payload: dict) -> str:
    return base64.b64encode(json.dumps(payload, ensure_ascii=False).encode()).decode()


def callback_body(payload: dict | None = None, *, data: str | None = None, signature=None) -> bytes:
    data = data if data is not None else data_of(payload or callback_payload())
    signature = signature if signature is not None else liqpay_signature(data)
    return urlencode({"data": data, "signature": signature}).encode()


def parse(gateway: LiqPayGateway, body: bytes):
    return gateway.parse_notification(body, FORM, {}, "91.226.25.1")


@pytest.fixture
def liqpay():
    server = FakeGatewayServer().start()
    try:
        yield server
    finally:
        server.stop()


# --- signatures -------------------------------------------------------------------------------
def test_the_documented_examples_sign_as_documented():
    # "Callback" page: base64_post_string signed with your_private_key.
    assert sign("base64_post_string", "your_private_key") == "tp+ZLmKm1/E83dIzUpx5ljcttP4="
    # "Checkout" page: the example data, as its shell example prints it (wrapped at 76).
    data = (
        "eyAidmVyc2lvbiIgOiAzLCAicHVibGljX2tleSIgOiAieW91cl9wdWJsaWNfa2V5IiwgImFjdGlv\n"
        "biIgOiAicGF5IiwgImFtb3VudCIgOiAxLCAiY3VycmVuY3kiIDogIlVTRCIsICJkZXNjcmlwdGlv\n"
        "biIgOiAiZGVzY3JpcHRpb24gdGV4dCIsICJvcmRlcl9pZCIgOiAib3JkZXJfaWRfMSIgfQ=="
    )
    assert sign(data, "your_private_key") == "QvJD5u9Fg55PCx/Hdz6lzWtYwcI="
    assert decode(data)["order_id"] == "order_id_1"


def test_checkout_is_a_signed_data_form():
    checkout = make_gateway().checkout(order(save_method=True))
    assert checkout.url == "https://www.liqpay.ua/api/3/checkout"
    assert checkout.method == "POST" and list(checkout.fields) == ["data", "signature"]
    data = checkout.fields["data"]
    assert checkout.fields["signature"] == liqpay_signature(data)
    params = json.loads(base64.b64decode(data))
    assert params == {
        "version": 3,
        "public_key": PUBLIC_KEY,
        "action": "pay",
        "amount": "350.50",
        "currency": "UAH",
        "description": "Теплопостачання, березень",
        "order_id": PAYMENT_ID,
        "result_url": "https://civicdesk.example/pay/return/7/",
        "server_url": "https://civicdesk.example/pay/notify/liqpay/",
        "language": "uk",
        "recurringbytoken": "1",
    }


@pytest.mark.parametrize(
    ("language", "sent"), [("uk", "uk"), ("ru", "uk"), ("en", "en"), ("af", "en")]
)
def test_checkout_language(language, sent):
    checkout = make_gateway().checkout(order(language=language))
    assert decode(checkout.fields["data"])["language"] == sent


def test_checkout_in_sandbox_mode_asks_for_a_test_payment():
    params = decode(make_gateway(sandbox=True).checkout(order()).fields["data"])
    assert params["sandbox"] == "1" and "recurringbytoken" not in params


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"currency": "ZAR"}, "currency_not_supported"),
        ({"amount": Decimal("1.999")}, "invalid_amount"),
        ({"return_url": "pay/return"}, "invalid_order"),
    ],
)
def test_checkout_refuses_what_liqpay_cannot_take(overrides, code):
    with pytest.raises(GatewayError) as caught:
        make_gateway().checkout(order(**overrides))
    assert caught.value.code == code


# --- callbacks --------------------------------------------------------------------------------
def test_a_signed_callback_parses():
    result = parse(make_gateway(), callback_body())
    assert result.payment_id == PAYMENT_ID and result.outcome == "succeeded"
    assert result.amount == Decimal("350.5") and result.currency == "UAH"
    assert result.gateway_ref == "1655143826"
    assert result.event_id == "1655143826:success"
    assert result.method_token is None and result.method_label == "Visa 473118*24"
    assert result.raw["amount"] == "350.5"  # JSON-safe, exact


def test_a_replayed_callback_has_the_same_event_id():
    body = callback_body()
    assert parse(make_gateway(), body).event_id == parse(make_gateway(), body).event_id


def test_a_card_token_is_the_saved_method():
    result = parse(make_gateway(), callback_body(callback_payload(card_token="B5BB0D00B88B")))
    assert result.method_token == "B5BB0D00B88B"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("success", "succeeded"),
        ("failure", "failed"),
        ("error", "failed"),
        ("reversed", "cancelled"),
        ("processing", "pending"),
        ("wait_accept", "pending"),
        ("3ds_verify", "pending"),
        ("otp_verify", "pending"),
    ],
)
def test_statuses_map_to_outcomes(status, outcome):
    result = parse(make_gateway(), callback_body(callback_payload(status=status)))
    assert result.outcome == outcome and result.event_id == f"1655143826:{status}"


def test_a_test_payment_counts_only_in_sandbox_mode():
    body = callback_body(callback_payload(status="sandbox"))
    assert parse(make_gateway(sandbox=True), body).outcome == "succeeded"
    assert parse(make_gateway(), body).outcome == "failed"


def test_a_failed_callback_without_liqpay_id_still_has_an_event_id():
    payload = callback_payload(status="error", err_code="limit", payment_id=None)
    result = parse(make_gateway(), callback_body(payload))
    assert result.outcome == "failed" and result.event_id == f"order-{PAYMENT_ID}:error"


@pytest.mark.parametrize(
    "body",
    [
        callback_body(signature=liqpay_signature(data_of(callback_payload()), "other-key")),
        callback_body(
            data=data_of(callback_payload(amount=1)),
            signature=liqpay_signature(data_of(callback_payload())),
        ),
        urlencode({"data": data_of(callback_payload())}).encode(),
        urlencode({"signature": "abc"}).encode(),
        b"",
    ],
)
def test_forged_tampered_or_unsigned_callbacks_are_refused(body):
    with pytest.raises(SignatureError):
        parse(make_gateway(), body)


def test_a_callback_for_another_shop_is_refused():
    with pytest.raises(SignatureError) as caught:
        parse(make_gateway(), callback_body(callback_payload(public_key="i99999999")))
    assert caught.value.code == "wrong_merchant"


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (callback_body(), "application/json", "malformed"),
        (callback_body(data="not base64!"), FORM, "malformed"),
        (callback_body(data=base64.b64encode(b"{oops").decode()), FORM, "bad_response"),
        (callback_body(data=base64.b64encode(b"[1]").decode()), FORM, "bad_response"),
        (callback_body(callback_payload(status="")), FORM, "bad_response"),
        (callback_body(callback_payload(amount="abc")), FORM, "bad_response"),
        (b"\xff=\xfe", FORM, "malformed"),
    ],
)
def test_signed_but_malformed_callbacks_are_errors(body, content_type, code):
    with pytest.raises(GatewayError) as caught:
        make_gateway().parse_notification(body, content_type, {}, None)
    assert caught.value.code == code and not isinstance(caught.value, SignatureError)


def test_the_source_address_is_checked_when_configured():
    gateway = make_gateway(allowed_networks=["91.226.25.0/24"])
    assert parse(gateway, callback_body()).outcome == "succeeded"
    with pytest.raises(SignatureError):
        gateway.parse_notification(callback_body(), FORM, {}, "8.8.8.8")


payment_ids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=64
).filter(str.strip)


@given(minor=st.integers(min_value=1, max_value=10**12), payment_id=payment_ids)
def test_sign_then_verify_round_trips(minor, payment_id):
    amount = Decimal(minor).scaleb(-2)
    payload = callback_payload(order_id=payment_id.strip(), amount=format(amount, "f"))
    result = parse(make_gateway(), callback_body(payload))
    assert result.amount == amount and result.payment_id == payment_id.strip()


@given(data=st.data())
def test_any_single_character_change_of_data_or_signature_is_refused(data):
    signed = data_of(callback_payload())
    signature = liqpay_signature(signed)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
    index = data.draw(st.integers(min_value=0, max_value=len(signed) - 1))
    char = data.draw(st.sampled_from(alphabet).filter(lambda c: c != signed[index]))
    with pytest.raises(SignatureError):
        parse(
            make_gateway(),
            callback_body(data=signed[:index] + char + signed[index + 1 :], signature=signature),
        )
    index = data.draw(st.integers(min_value=0, max_value=len(signature) - 1))
    char = data.draw(st.sampled_from(alphabet).filter(lambda c: c != signature[index]))
    with pytest.raises(SignatureError):
        parse(
            make_gateway(),
            callback_body(data=signed, signature=signature[:index] + char + signature[index + 1 :]),
        )


def test_the_ack_is_a_plain_200():
    assert make_gateway().notification_ack() == (200, "", "text/plain")


# --- the API: status (fetch) and paytoken (charge_saved) --------------------------------------
def sent_params(received) -> dict:
    form = received.form()
    data, signature = form["data"][0], form["signature"][0]
    assert signature == liqpay_signature(data)
    return json.loads(base64.b64decode(data))


def test_fetch_asks_for_the_orders_status(liqpay):
    liqpay.route("POST", "/api/request", 200, callback_payload(status="success", amount="350.50"))
    result = make_gateway(liqpay.url).fetch(PAYMENT_ID, "")
    assert result.outcome == "succeeded" and result.amount == Decimal("350.50")
    assert result.event_id == "1655143826:success"
    [request] = liqpay.received
    assert request.header("Content-Type") == FORM
    assert sent_params(request) == {
        "version": 3,
        "public_key": PUBLIC_KEY,
        "action": "status",
        "order_id": PAYMENT_ID,
    }


def test_fetch_of_an_order_liqpay_never_saw_is_pending_without_an_event(liqpay):
    liqpay.route(
        "POST",
        "/api/request",
        200,
        {"result": "error", "status": "error", "err_code": "payment_not_found"},
    )
    result = make_gateway(liqpay.url).fetch(PAYMENT_ID, "")
    assert result.outcome == "pending" and result.event_id == "" and result.amount is None


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (200, b"{not json", "bad_response"),
        (200, b'"text"', "bad_response"),
        (
            200,
            {"result": "error", "status": "error", "err_code": "public_key_not_found"},
            "rejected",
        ),
        (403, {"result": "error"}, "rejected"),
        (200, callback_payload(order_id="another-order"), "reference_mismatch"),
    ],
)
def test_fetch_refuses_bad_answers(liqpay, status, body, code):
    liqpay.route("POST", "/api/request", status, body)
    with pytest.raises(GatewayError) as caught:
        make_gateway(liqpay.url).fetch(PAYMENT_ID, "")
    assert caught.value.code == code


def test_fetch_network_failure_and_outage_are_retryable(liqpay):
    with pytest.raises(GatewayError) as caught:
        make_gateway(closed_url()).fetch(PAYMENT_ID, "")
    assert caught.value.code == "network" and caught.value.retryable
    liqpay.route("POST", "/api/request", 502, b"<html>bad gateway</html>", "text/html")
    with pytest.raises(GatewayError) as caught:
        make_gateway(liqpay.url).fetch(PAYMENT_ID, "")
    assert caught.value.retryable


def test_charge_saved_pays_by_token(liqpay):
    liqpay.route("POST", "/api/request", 200, callback_payload(action="paytoken", amount=80))
    gateway = make_gateway(liqpay.url)
    assert gateway.supports_saved_methods
    result = gateway.charge_saved(order(amount=Decimal("80"), saved_method_token="B5BB0D00B88B"))
    assert result.outcome == "succeeded" and result.amount == Decimal("80")
    params = sent_params(liqpay.received[0])
    assert params["action"] == "paytoken" and params["card_token"] == "B5BB0D00B88B"
    assert params["amount"] == "80.00" and params["order_id"] == PAYMENT_ID
    assert params["server_url"] == "https://civicdesk.example/pay/notify/liqpay/"


def test_charge_saved_refusals(liqpay):
    liqpay.route("POST", "/api/request", 200, {"result": "error", "err_code": "card_token_invalid"})
    with pytest.raises(GatewayError) as caught:
        make_gateway(liqpay.url).charge_saved(order(saved_method_token="gone"))
    assert caught.value.code == "rejected"
    with pytest.raises(GatewayError) as caught:
        make_gateway(liqpay.url).charge_saved(order())
    assert caught.value.code == "no_method"
    liqpay.route("POST", "/api/request", 200, callback_payload(status="failure"))
    declined = make_gateway(liqpay.url).charge_saved(order(saved_method_token="tok"))
    assert declined.outcome == "failed"
