"""The gateway interface: its dataclasses, money formatting, HTTP error handling, the registry and
the settings block built from environment variables. HTTP goes to a fake server on 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicdesk.ledger import gateway_settings
from civicdesk.ledger.gateways import (
    GATEWAY_NAMES,
    GatewayError,
    GatewayResult,
    NotSupported,
    PaymentOrder,
    SignatureError,
    gateway_get,
    gateway_is_configured,
    gateways_available,
)
from civicdesk.ledger.gateways.base import (
    format_amount,
    header,
    http_call,
    json_safe,
    loads_object,
    parse_amount,
)
from civicdesk.ledger.gateways.liqpay import LiqPayGateway
from civicdesk.ledger.gateways.payfast import PayFastGateway
from civicdesk.ledger.gateways.sandbox import SandboxGateway
from civicdesk.ledger.gateways.yookassa import YooKassaGateway
from civicdesk.ledger.tests.gateway_fakes import FakeGatewayServer, closed_url

ALL_CONFIGURED = {
    "payfast": {"merchant_id": "10000100", "merchant_key": "46f0cd694581a"},
    "liqpay": {"public_key": "i000", "private_key": "secret"},
    "yookassa": {"shop_id": "123", "secret_key": "test_key"},
    "sandbox": {"enabled": True, "secret": "s"},
}


def order(**overrides) -> PaymentOrder:
    values = {
        "payment_id": "pay-1",
        "amount": Decimal("10.00"),
        "currency": "ZAR",
        "description": "Water, March",
        "return_url": "https://civicdesk.example/pay/return/",
        "cancel_url": "https://civicdesk.example/pay/cancel/",
        "notify_url": "https://civicdesk.example/pay/notify/",
    }
    values.update(overrides)
    return PaymentOrder(**values)


@pytest.fixture
def fake():
    server = FakeGatewayServer().start()
    try:
        yield server
    finally:
        server.stop()


# --- dataclasses ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 10.0),
        ("amount", 10),
        ("amount", Decimal("0")),
        ("amount", Decimal("-1.00")),
        ("amount", Decimal("NaN")),
        ("amount", Decimal("Infinity")),
        ("currency", "zar"),
        ("currency", "RAND"),
        ("currency", ""),
        ("payment_id", ""),
    ],
)
def test_payment_order_refuses_bad_values(field, value):
    with pytest.raises(ValueError):
        order(**{field: value})


def test_result_refuses_unknown_outcome_and_float_amount():
    with pytest.raises(ValueError):
        GatewayResult("p", "paid", Decimal("1"), "ZAR", "r", "e")
    with pytest.raises(ValueError):
        GatewayResult("p", "succeeded", 1.5, "ZAR", "r", "e")


def test_error_classes_carry_codes_and_nest_under_gateway_error():
    error = SignatureError("bad_signature", "nope")
    assert isinstance(error, GatewayError) and error.code == "bad_signature"
    assert str(error) == "nope" and not error.retryable
    assert issubclass(NotSupported, GatewayError)
    assert NotSupported().code == "not_supported"


# --- money ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("100"), "100.00"),
        (Decimal("0.5"), "0.50"),
        (Decimal("1234567.89"), "1234567.89"),
        (Decimal("1E+3"), "1000.00"),
        (Decimal("12.300"), "12.30"),
    ],
)
def test_format_amount_has_exactly_two_decimals(amount, text):
    assert format_amount(amount, "ZAR") == text


def test_format_amount_never_rounds():
    with pytest.raises(GatewayError) as caught:
        format_amount(Decimal("10.005"), "RUB")
    assert caught.value.code == "invalid_amount"


@given(st.integers(min_value=1, max_value=10**12))
def test_format_then_parse_round_trips(minor):
    amount = Decimal(minor).scaleb(-2)
    text = format_amount(amount, "UAH")
    assert parse_amount(text) == amount
    assert text.count(".") == 1 and len(text.split(".")[1]) == 2


@pytest.mark.parametrize("value", [1.5, True, None, "abc", "NaN", "Infinity", "", [1]])
def test_parse_amount_refuses_non_decimals(value):
    with pytest.raises(GatewayError):
        parse_amount(value)


def test_parse_amount_takes_strings_ints_and_decimals():
    assert parse_amount(" 12.30 ") == Decimal("12.30")
    assert parse_amount(7) == Decimal(7)
    assert parse_amount(Decimal("7.34")) == Decimal("7.34")


@pytest.mark.parametrize("data", [b"[1, 2]", b"not json", b'{"a": NaN}', b"\xff\xfe", b""])
def test_loads_object_refuses_anything_but_an_object(data):
    with pytest.raises(GatewayError) as caught:
        loads_object(data)
    assert caught.value.code == "bad_response"


def test_loads_object_keeps_decimals_exact_and_json_safe_makes_them_strings():
    parsed = loads_object(b'{"amount": 0.1, "n": [1.10]}')
    assert parsed["amount"] == Decimal("0.1")
    assert json_safe(parsed) == {"amount": "0.1", "n": ["1.10"]}


def test_header_lookup_ignores_case():
    assert header({"X-Sandbox-Signature": "abc"}, "x-sandbox-signature") == "abc"
    assert header({}, "X-Anything") == ""


# --- HTTP -------------------------------------------------------------------------------------
def test_http_call_network_failure_is_retryable():
    with pytest.raises(GatewayError) as caught:
        http_call("GET", closed_url() + "/x", timeout=2, gateway="test")
    assert caught.value.code == "network" and caught.value.retryable


def test_http_call_timeout_is_retryable(fake):
    fake.route("GET", "/slow", 200, {})
    fake.delay = 0.5
    with pytest.raises(GatewayError) as caught:
        http_call("GET", fake.url + "/slow", timeout=0.1, gateway="test")
    assert caught.value.code == "timeout" and caught.value.retryable


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_http_call_server_trouble_is_retryable(fake, status):
    fake.route("GET", "/down", status, {"error": "down"})
    with pytest.raises(GatewayError) as caught:
        http_call("GET", fake.url + "/down", timeout=2, gateway="test")
    assert caught.value.code == "unavailable" and caught.value.retryable


def test_http_call_does_not_follow_redirects(fake):
    fake.route("GET", "/moved", lambda r: (302, b"", "text/plain"))
    response = http_call("GET", fake.url + "/moved", timeout=2, gateway="test")
    assert response.status_code == 302
    assert len(fake.received) == 1


# --- registry -----------------------------------------------------------------------------------
def test_gateway_get_returns_each_configured_gateway(settings):
    settings.PAYMENT_GATEWAYS = ALL_CONFIGURED
    classes = {
        "payfast": PayFastGateway,
        "liqpay": LiqPayGateway,
        "yookassa": YooKassaGateway,
        "sandbox": SandboxGateway,
    }
    assert set(GATEWAY_NAMES) == set(classes)
    for name, cls in classes.items():
        gateway = gateway_get(name)
        assert isinstance(gateway, cls) and gateway.name == name
        assert str(gateway.label)


def test_gateway_get_refuses_unknown_and_unconfigured(settings):
    settings.PAYMENT_GATEWAYS = {"payfast": {"merchant_id": "10000100", "merchant_key": " "}}
    with pytest.raises(GatewayError) as caught:
        gateway_get("paypal")
    assert caught.value.code == "unknown_gateway"
    for name in ("payfast", "liqpay", "yookassa", "sandbox"):
        assert not gateway_is_configured(name)
        with pytest.raises(GatewayError) as caught:
            gateway_get(name)
        assert caught.value.code == "not_configured"


def test_gateways_available_filters_by_currency_in_offer_order(settings):
    settings.PAYMENT_GATEWAYS = ALL_CONFIGURED
    names = lambda gateways: [g.name for g in gateways]  # noqa: E731
    assert names(gateways_available()) == ["payfast", "liqpay", "yookassa", "sandbox"]
    assert names(gateways_available("ZAR")) == ["payfast", "sandbox"]
    assert names(gateways_available("UAH")) == ["liqpay", "sandbox"]
    assert names(gateways_available("rub")) == ["yookassa", "sandbox"]
    assert names(gateways_available("GBP")) == []


def test_gateways_available_leaves_out_a_disabled_sandbox(settings):
    settings.PAYMENT_GATEWAYS = {**ALL_CONFIGURED, "sandbox": {"enabled": False, "secret": "s"}}
    assert [g.name for g in gateways_available("ZAR")] == ["payfast"]
    settings.PAYMENT_GATEWAYS = {}
    assert gateways_available() == []


def test_bad_allowed_networks_is_a_configuration_error():
    with pytest.raises(GatewayError) as caught:
        YooKassaGateway({"shop_id": "1", "secret_key": "k", "allowed_networks": ["not-a-net"]})
    assert caught.value.code == "misconfigured"


def test_source_check_only_when_configured():
    open_gateway = YooKassaGateway({"shop_id": "1", "secret_key": "k"})
    open_gateway.check_source(None)  # nothing configured: no check
    gateway = YooKassaGateway(
        {"shop_id": "1", "secret_key": "k", "allowed_networks": ["185.71.76.0/27", "::1/128"]}
    )
    gateway.check_source("185.71.76.5")
    gateway.check_source("::1")
    for address in ("185.71.77.1", "127.0.0.1", "", None, "garbage"):
        with pytest.raises(SignatureError) as caught:
            gateway.check_source(address)
        assert caught.value.code == "untrusted_source"


# --- settings block -------------------------------------------------------------------------
def configured(options: dict) -> dict[str, bool]:
    classes = {
        "payfast": PayFastGateway,
        "liqpay": LiqPayGateway,
        "yookassa": YooKassaGateway,
        "sandbox": SandboxGateway,
    }
    return {name: classes[name].is_configured(opts) for name, opts in options.items()}


def test_settings_without_credentials_configure_only_the_sandbox_outside_production():
    for env_name in ("development", "test"):
        built = gateway_settings.build_payment_gateways({}, env_name)
        assert configured(built) == {
            "payfast": False,
            "liqpay": False,
            "yookassa": False,
            "sandbox": True,
        }
        assert built["sandbox"]["secret"] == gateway_settings.DEV_SANDBOX_SECRET
        assert built["liqpay"]["sandbox"] is True
    assert built["payfast"]["base_url"] == "https://sandbox.payfast.co.za"
    assert built["yookassa"]["base_url"] == "https://api.yookassa.ru"


def test_settings_in_production_need_the_sandbox_enabled_and_a_secret():
    production = gateway_settings.build_payment_gateways({}, "production")
    assert not configured(production)["sandbox"]
    assert production["liqpay"]["sandbox"] is False
    enabled = gateway_settings.build_payment_gateways(
        {"PAYMENT_SANDBOX_ENABLED": "1"}, "production"
    )
    assert not configured(enabled)["sandbox"]  # no secret: the development one is not used
    with_secret = gateway_settings.build_payment_gateways(
        {"PAYMENT_SANDBOX_ENABLED": "yes", "SANDBOX_GATEWAY_SECRET": "long-random"}, "production"
    )
    assert configured(with_secret)["sandbox"]


def test_settings_read_every_credential_from_the_environment():
    environ = {
        "CIVICDESK_ENV": "production",
        "PAYFAST_MERCHANT_ID": "10000100",
        "PAYFAST_MERCHANT_KEY": "46f0cd694581a",
        "PAYFAST_PASSPHRASE": "jt7NOE43FZPn",
        "PAYFAST_BASE_URL": "https://www.payfast.co.za",
        "PAYFAST_ALLOWED_NETWORKS": "197.97.145.144/28, 41.74.179.192/27",
        "LIQPAY_PUBLIC_KEY": "i000",
        "LIQPAY_PRIVATE_KEY": "liq-secret",
        "LIQPAY_BASE_URL": "http://127.0.0.1:1",
        "YOOKASSA_SHOP_ID": "54401",
        "YOOKASSA_SECRET_KEY": "test_Fh8hUAVVBGUGbjmlzba6TB0iyUbos_lueTHE-axOwM0",
        "YOOKASSA_BASE_URL": "http://127.0.0.1:2",
        "PAYMENT_GATEWAY_TIMEOUT": "7.5",
    }
    built = gateway_settings.build_payment_gateways(environ)
    assert configured(built) == {
        "payfast": True,
        "liqpay": True,
        "yookassa": True,
        "sandbox": False,
    }
    payfast = PayFastGateway(built["payfast"])
    assert payfast.passphrase == "jt7NOE43FZPn" and not payfast.testing
    assert [str(n) for n in payfast.allowed_networks] == ["197.97.145.144/28", "41.74.179.192/27"]
    assert payfast.timeout == 7.5
    assert LiqPayGateway(built["liqpay"]).base_url == "http://127.0.0.1:1"
    assert YooKassaGateway(built["yookassa"]).shop_id == "54401"


def test_settings_module_exposes_the_block_django_reads():
    assert set(gateway_settings.PAYMENT_GATEWAYS) == set(GATEWAY_NAMES)
    from civicdesk.config import settings as project_settings

    assert project_settings.PAYMENT_GATEWAYS is gateway_settings.PAYMENT_GATEWAYS
