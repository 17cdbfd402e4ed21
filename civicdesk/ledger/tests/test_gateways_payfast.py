"""PayFast: the signed checkout form, ITNs signed here as PayFast signs them, the server
confirmation post-back and the query API against a fake PayFast on 127.0.0.1.

The expected strings below are written out by hand from the documented rules (fields in the
documented order, PHP urlencode: upper-case hex, spaces as "+"; the passphrase last), so they
check the implementation rather than repeat it.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from urllib.parse import parse_qsl, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.ledger.gateways import GatewayError, NotSupported, PaymentOrder, SignatureError
from civicdesk.ledger.gateways.payfast import (
    PayFastGateway,
    api_signature,
    checkout_signature,
    pf_urlencode,
)
from civicdesk.ledger.tests.gateway_fakes import FakeGatewayServer, closed_url

MERCHANT_ID = "10000100"
MERCHANT_KEY = "46f0cd694581a"
PASSPHRASE = "jt7NOE43FZPn"
PAYMENT_ID = "5e0c1a52-3b8e-4d2c-9f1e-2b7a9c4d6e01"
FORM = "application/x-www-form-urlencoded"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def make_gateway(url: str = "https://sandbox.payfast.co.za", **options) -> PayFastGateway:
    return PayFastGateway(
        {
            "merchant_id": MERCHANT_ID,
            "merchant_key": MERCHANT_KEY,
            "passphrase": PASSPHRASE,
            "base_url": url,
            "api_url": url,
            "timeout": 2,
            **options,
        }
    )


def order(**overrides) -> PaymentOrder:
    values = {
        "payment_id": PAYMENT_ID,
        "amount": Decimal("100"),
        "currency": "ZAR",
        "description": "Water & sewer: March",
        "return_url": "https://civicdesk.example/pay/return/1/",
        "cancel_url": "https://civicdesk.example/pay/cancel/1/",
        "notify_url": "https://civicdesk.example/pay/notify/payfast/",
        "customer_email": "thandi@example.org",
    }
    values.update(overrides)
    return PaymentOrder(**values)


def itn_fields(**overrides) -> list[tuple[str, str]]:
    """An ITN's fields in the order PayFast posts them (before the signature)."""
    fields = {
        "m_payment_id": PAYMENT_ID,
        "pf_payment_id": "1089250",
        "payment_status": "COMPLETE",
        "item_name": "Water & sewer: March",
        "item_description": "",
        "amount_gross": "100.00",
        "amount_fee": "-2.30",
        "amount_net": "97.70",
        "custom_str1": "",
        "name_first": "Thandi",
        "name_last": "",
        "email_address": "thandi@example.org",
        "merchant_id": MERCHANT_ID,
    }
    fields.update(overrides)
    return list(fields.items())


def php_urlencode(value: str) -> str:
    return quote_plus(value, safe="").replace("~", "%7E")


def signed_itn(fields: list[tuple[str, str]], passphrase: str = PASSPHRASE) -> bytes:
    """The body PayFast posts: the fields, then the signature over them (blank ones too)."""
    string = "&".join(f"{k}={php_urlencode(v)}" for k, v in fields)
    signature = md5(string + (f"&passphrase={php_urlencode(passphrase)}" if passphrase else ""))
    return (string + "&signature=" + signature).encode()


@pytest.fixture
def payfast():
    server = FakeGatewayServer().start()
    server.route("POST", "/eng/query/validate", 200, "VALID", "text/plain")
    try:
        yield server
    finally:
        server.stop()


def parse(gateway: PayFastGateway, body: bytes, remote_addr: str | None = "197.97.145.150"):
    return gateway.parse_notification(body, FORM, {}, remote_addr)


# --- encoding and signatures ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("Water bill", "Water+bill"),
        ("https://x.example/a?b=c", "https%3A%2F%2Fx.example%2Fa%3Fb%3Dc"),
        ("-_.~*'", "-_.%7E%2A%27"),
        ("Ciñé", "Ci%C3%B1%C3%A9"),
        ("a+b&c", "a%2Bb%26c"),
    ],
)
def test_urlencoding_is_phps(value, encoded):
    assert pf_urlencode(value) == encoded


def test_checkout_is_a_signed_form_in_the_documented_order():
    checkout = make_gateway().checkout(order())
    assert checkout.url == "https://sandbox.payfast.co.za/eng/process"
    assert checkout.method == "POST" and checkout.gateway_ref == ""
    assert list(checkout.fields) == [
        "merchant_id",
        "merchant_key",
        "return_url",
        "cancel_url",
        "notify_url",
        "email_address",
        "m_payment_id",
        "amount",
        "item_name",
        "signature",
    ]
    assert checkout.fields["amount"] == "100.00"
    expected = (
        "merchant_id=10000100&merchant_key=46f0cd694581a"
        "&return_url=https%3A%2F%2Fcivicdesk.example%2Fpay%2Freturn%2F1%2F"
        "&cancel_url=https%3A%2F%2Fcivicdesk.example%2Fpay%2Fcancel%2F1%2F"
        "&notify_url=https%3A%2F%2Fcivicdesk.example%2Fpay%2Fnotify%2Fpayfast%2F"
        "&email_address=thandi%40example.org"
        f"&m_payment_id={PAYMENT_ID}&amount=100.00"
        "&item_name=Water+%26+sewer%3A+March"
        "&passphrase=jt7NOE43FZPn"
    )
    assert checkout.fields["signature"] == md5(expected)


def test_checkout_leaves_out_blank_fields_and_caps_the_item_name():
    checkout = make_gateway(passphrase="").checkout(
        order(customer_email="", description="x" * 150, amount=Decimal("0.5"))
    )
    assert "email_address" not in checkout.fields
    assert checkout.fields["item_name"] == "x" * 100
    assert checkout.fields["amount"] == "0.50"
    unsigned = {k: v for k, v in checkout.fields.items() if k != "signature"}
    string = "&".join(f"{k}={php_urlencode(v)}" for k, v in unsigned.items())
    assert checkout.fields["signature"] == md5(string)  # no passphrase: none appended


def test_checkout_signature_ignores_field_order_given_and_blank_values():
    fields = {"amount": "5.00", "merchant_id": "1", "item_name": " Tap ", "name_last": ""}
    assert checkout_signature(fields) == md5("merchant_id=1&amount=5.00&item_name=Tap")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"currency": "UAH"}, "currency_not_supported"),
        ({"amount": Decimal("10.001")}, "invalid_amount"),
        ({"notify_url": "/pay/notify/payfast/"}, "invalid_order"),
    ],
)
def test_checkout_refuses_what_payfast_cannot_take(overrides, code):
    with pytest.raises(GatewayError) as caught:
        make_gateway().checkout(order(**overrides))
    assert caught.value.code == code


# --- ITN ------------------------------------------------------------------------------------------
def test_a_signed_itn_confirmed_by_payfast_parses(payfast):
    gateway = make_gateway(payfast.url)
    result = parse(gateway, signed_itn(itn_fields()))
    assert result.payment_id == PAYMENT_ID and result.outcome == "succeeded"
    assert result.amount == Decimal("100.00") and result.currency == "ZAR"
    assert result.gateway_ref == "1089250" and result.event_id == "1089250:COMPLETE"
    assert "signature" not in result.raw and result.raw["amount_fee"] == "-2.30"
    # The post-back carries the same parameter string, without signature or passphrase.
    [validate] = payfast.received
    assert validate.path == "/eng/query/validate"
    assert validate.header("Content-Type") == FORM
    assert validate.body == signed_itn(itn_fields()).split(b"&signature=")[0]
    assert b"passphrase" not in validate.body


def test_a_replayed_itn_has_the_same_event_id(payfast):
    gateway = make_gateway(payfast.url)
    body = signed_itn(itn_fields())
    assert parse(gateway, body).event_id == parse(gateway, body).event_id == "1089250:COMPLETE"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("COMPLETE", "succeeded"),
        ("FAILED", "failed"),
        ("PENDING", "pending"),
        ("CANCELLED", "cancelled"),
        ("SOMETHING_NEW", "pending"),
    ],
)
def test_statuses_map_to_outcomes(payfast, status, outcome):
    result = parse(make_gateway(payfast.url), signed_itn(itn_fields(payment_status=status)))
    assert result.outcome == outcome and result.event_id == f"1089250:{status}"


def test_the_amount_is_returned_for_the_caller_to_compare(payfast):
    body = signed_itn(itn_fields(amount_gross="99.99"))
    assert parse(make_gateway(payfast.url), body).amount == Decimal("99.99")


def test_an_itn_signed_without_passphrase_verifies_when_none_is_set(payfast):
    gateway = make_gateway(payfast.url, passphrase="")
    assert parse(gateway, signed_itn(itn_fields(), passphrase="")).outcome == "succeeded"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (signed_itn(itn_fields(), passphrase="wrong"), "bad_signature"),
        (signed_itn(itn_fields()).replace(b"amount_gross=100.00", b"amount_gross=999.00"), None),
        (signed_itn(itn_fields()).split(b"&signature=")[0], "missing_signature"),
        (signed_itn(itn_fields()) + b"0", "bad_signature"),
        (signed_itn(itn_fields(merchant_id="10000999")), "wrong_merchant"),
    ],
)
def test_forged_or_tampered_itns_are_refused_without_asking_payfast(payfast, body, code):
    with pytest.raises(SignatureError) as caught:
        parse(make_gateway(payfast.url), body)
    assert code is None or caught.value.code == code
    assert payfast.received == []


def test_an_itn_payfast_does_not_confirm_is_refused(payfast):
    payfast.route("POST", "/eng/query/validate", 200, "INVALID", "text/plain")
    with pytest.raises(SignatureError) as caught:
        parse(make_gateway(payfast.url), signed_itn(itn_fields()))
    assert caught.value.code == "not_confirmed"


def test_the_post_back_failing_is_a_retryable_error():
    with pytest.raises(GatewayError) as caught:
        parse(make_gateway(closed_url()), signed_itn(itn_fields()))
    assert caught.value.retryable and not isinstance(caught.value, SignatureError)


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (400, False)])
def test_the_post_back_answered_with_an_error(payfast, status, retryable):
    payfast.route("POST", "/eng/query/validate", status, "oops", "text/plain")
    with pytest.raises(GatewayError) as caught:
        parse(make_gateway(payfast.url), signed_itn(itn_fields()))
    assert caught.value.retryable is retryable
    assert not isinstance(caught.value, SignatureError)


def test_the_post_back_timing_out_is_retryable(payfast):
    payfast.delay = 0.5
    with pytest.raises(GatewayError) as caught:
        parse(make_gateway(payfast.url, timeout=0.1), signed_itn(itn_fields()))
    assert caught.value.code == "timeout" and caught.value.retryable


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (signed_itn(itn_fields()), "application/json"),
        (b"\xff\xfe=\x00", FORM),
        (b"a=1&&&b", FORM),
    ],
)
def test_malformed_itns_are_errors(payfast, body, content_type):
    with pytest.raises(GatewayError) as caught:
        make_gateway(payfast.url).parse_notification(body, content_type, {}, None)
    assert caught.value.code == "malformed"


def test_an_itn_lacking_payfasts_ids_is_refused_after_confirmation(payfast):
    fields = [(k, v) for k, v in itn_fields() if k != "pf_payment_id"]
    with pytest.raises(GatewayError) as caught:
        parse(make_gateway(payfast.url), signed_itn(fields))
    assert caught.value.code == "bad_response"


def test_the_source_address_is_checked_when_configured(payfast):
    gateway = make_gateway(payfast.url, allowed_networks=["197.97.145.144/28"])
    body = signed_itn(itn_fields())
    assert parse(gateway, body, "197.97.145.150").outcome == "succeeded"
    for address in ("10.0.0.1", None):
        with pytest.raises(SignatureError) as caught:
            parse(gateway, body, address)
        assert caught.value.code == "untrusted_source"


def test_the_ack_is_a_plain_200():
    assert make_gateway().notification_ack() == (200, "", "text/plain")


# --- properties ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def always_valid():
    server = FakeGatewayServer().start()
    server.route("POST", "/eng/query/validate", 200, "VALID", "text/plain")
    yield server
    server.stop()


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    minor=st.integers(min_value=1, max_value=10**10),
    pf_id=st.integers(min_value=1, max_value=10**12),
    payment_id=texts.filter(lambda s: s.strip()),
    item_name=texts,
)
def test_sign_then_verify_round_trips(always_valid, minor, pf_id, payment_id, item_name):
    amount = str(Decimal(minor).scaleb(-2))
    fields = itn_fields(
        m_payment_id=payment_id.strip(),
        pf_payment_id=str(pf_id),
        amount_gross=amount,
        item_name=item_name,
    )
    result = parse(make_gateway(always_valid.url), signed_itn(fields))
    assert result.amount == Decimal(amount) and result.payment_id == payment_id.strip()
    assert result.event_id == f"{pf_id}:COMPLETE"


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data())
def test_any_single_byte_change_is_refused_or_changes_nothing(always_valid, data):
    """A changed byte either breaks the signature (or the form), or re-encodes the same data
    (e.g. "%2F" to "%2f"); it never gets a different payment accepted."""
    body = signed_itn(itn_fields(item_name="Rates ~ 100% / levies"))
    position = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    replacement = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != body[position])
    )
    changed = body[:position] + bytes([replacement]) + body[position + 1 :]
    try:
        parse(make_gateway(always_valid.url), changed)
    except GatewayError:
        return
    original = parse_qsl(body.decode(), keep_blank_values=True)
    assert parse_qsl(changed.decode(), keep_blank_values=True) == original


# --- the query API (fetch) ---------------------------------------------------------------------
def query_answer(**response) -> dict:
    details = {
        "type": "PAYMENT",
        "status": "COMPLETE",
        "amount_gross": "100.00",
        "m_payment_id": PAYMENT_ID,
        "pf_payment_id": "1089250",
    }
    details.update(response)
    return {"code": 200, "status": "success", "data": {"response": details}}


def test_fetch_queries_the_api_with_signed_headers(payfast):
    payfast.route("GET", "/process/query/1089250", 200, query_answer())
    result = make_gateway(payfast.url, testing=True).fetch(PAYMENT_ID, "1089250")
    assert result.outcome == "succeeded" and result.amount == Decimal("100.00")
    assert result.event_id == "1089250:COMPLETE" and result.gateway_ref == "1089250"
    [query] = payfast.received
    assert query.query == {"testing": ["true"]}
    signed = {
        "merchant-id": query.header("merchant-id"),
        "version": query.header("version"),
        "timestamp": query.header("timestamp"),
    }
    assert signed["merchant-id"] == MERCHANT_ID and signed["version"] == "v1"
    expected = md5(
        f"merchant-id={MERCHANT_ID}&passphrase={PASSPHRASE}"
        f"&timestamp={php_urlencode(signed['timestamp'])}&version=v1"
    )
    assert query.header("signature") == expected == api_signature(signed, PASSPHRASE)


def test_testing_mode_follows_the_sandbox_site_unless_set():
    assert make_gateway("https://sandbox.payfast.co.za").testing
    assert not make_gateway("https://www.payfast.co.za").testing
    assert make_gateway("https://www.payfast.co.za", testing=True).testing


def test_fetch_on_the_live_site_is_not_in_testing_mode(payfast):
    payfast.route("GET", "/process/query/1089250", 200, query_answer(status="FAILED"))
    gateway = make_gateway(payfast.url, testing=False)
    assert gateway.fetch(PAYMENT_ID, "1089250").outcome == "failed"
    assert payfast.received[0].query == {}


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (200, b"{not json", "bad_response"),
        (200, b"[]", "bad_response"),
        (400, {"code": 400, "status": "failed", "data": {"message": "bad id"}}, "rejected"),
        (200, {"code": 200, "status": "success", "data": {}}, "bad_response"),
        (200, query_answer(m_payment_id="someone-else"), "reference_mismatch"),
    ],
)
def test_fetch_refuses_bad_answers(payfast, status, body, code):
    payfast.route("GET", "/process/query/1089250", status, body)
    with pytest.raises(GatewayError) as caught:
        make_gateway(payfast.url).fetch(PAYMENT_ID, "1089250")
    assert caught.value.code == code


def test_fetch_network_failure_is_retryable():
    with pytest.raises(GatewayError) as caught:
        make_gateway(closed_url()).fetch(PAYMENT_ID, "1089250")
    assert caught.value.code == "network" and caught.value.retryable


def test_fetch_needs_payfasts_id_and_the_passphrase():
    with pytest.raises(NotSupported) as caught:
        make_gateway().fetch(PAYMENT_ID, "")
    assert caught.value.code == "no_reference"
    with pytest.raises(NotSupported) as caught:
        make_gateway(passphrase="").fetch(PAYMENT_ID, "1089250")
    assert caught.value.code == "no_passphrase"


def test_saved_methods_are_not_supported():
    gateway = make_gateway()
    assert not gateway.supports_saved_methods
    with pytest.raises(NotSupported):
        gateway.charge_saved(order(saved_method_token="tok"))
