"""YooKassa: payment creation with Basic auth and Idempotence-Key, unsigned webhooks verified by
asking the API, fetch and saved methods, against a fake YooKassa API on 127.0.0.1 that keeps the
payments it creates."""

from __future__ import annotations

import base64
import json
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.ledger.gateways import GatewayError, NotSupported, PaymentOrder, SignatureError
from civicdesk.ledger.gateways.yookassa import YooKassaGateway, idempotence_key
from civicdesk.ledger.tests.gateway_fakes import FakeGatewayServer, Received, closed_url

SHOP_ID = "54401"
SECRET_KEY = "test_Fh8hUAVVBGUGbjmlzba6TB0iyUbos_lueTHE-axOwM0"
PAYMENT_ID = "2c8f3e7a-1b4d-4f6e-8a9c-0d1e2f3a4b5c"
JSON = "application/json"


class FakeYooKassa:
    """Just enough of API v3: POST /v3/payments (idempotent by key), GET /v3/payments/{id}."""

    def __init__(self, server: FakeGatewayServer) -> None:
        self.server = server
        self.payments: dict[str, dict] = {}
        self.by_key: dict[str, dict] = {}
        server.route("POST", "/v3/payments", self.create)
        server.route("GET", "/v3/payments/", self.get, prefix=True)

    @property
    def url(self) -> str:
        return self.server.url

    def authorised(self, request: Received) -> bool:
        expected = base64.b64encode(f"{SHOP_ID}:{SECRET_KEY}".encode()).decode()
        return request.header("Authorization") == f"Basic {expected}"

    def create(self, request: Received):
        if not self.authorised(request):
            return 401, {"type": "error", "code": "invalid_credentials"}, JSON
        key = request.header("Idempotence-Key")
        if not key:
            return 400, {"type": "error", "code": "invalid_request", "description": "key"}, JSON
        if key in self.by_key:
            return 200, self.by_key[key], JSON
        body = request.json()
        payment = {
            "id": str(uuid.uuid4()),
            "status": "pending",
            "paid": False,
            "amount": body["amount"],
            "description": body.get("description"),
            "metadata": body.get("metadata", {}),
            "created_at": "2026-03-01T10:00:00.000Z",
            "test": True,
        }
        if "confirmation" in body:
            payment["confirmation"] = {
                "type": "redirect",
                "confirmation_url": f"https://yoomoney.ru/checkout/payments/v2/contract?orderId={payment['id']}",
            }
        if "payment_method_id" in body:
            payment.update(status="succeeded", paid=True)
            payment["payment_method"] = {
                "type": "bank_card",
                "id": body["payment_method_id"],
                "saved": True,
                "title": "Bank card *4444",
            }
        self.payments[payment["id"]] = payment
        self.by_key[key] = payment
        return 200, payment, JSON

    def get(self, request: Received):
        if not self.authorised(request):
            return 401, {"type": "error", "code": "invalid_credentials"}, JSON
        payment = self.payments.get(request.path.rsplit("/", 1)[-1])
        if payment is None:
            return 404, {"type": "error", "code": "not_found", "description": "no payment"}, JSON
        return 200, payment, JSON

    def settle(self, ref: str, status: str, **fields) -> None:
        self.payments[ref].update(status=status, **fields)


@pytest.fixture
def yookassa():
    server = FakeGatewayServer().start()
    try:
        yield FakeYooKassa(server)
    finally:
        server.stop()


def make_gateway(url: str = "https://api.yookassa.ru", **options) -> YooKassaGateway:
    return YooKassaGateway(
        {"shop_id": SHOP_ID, "secret_key": SECRET_KEY, "base_url": url, "timeout": 2} | options
    )


def order(**overrides) -> PaymentOrder:
    values = {
        "payment_id": PAYMENT_ID,
        "amount": Decimal("1540.7"),
        "currency": "RUB",
        "description": "ЖКУ за март, лицевой счёт 1234567",
        "return_url": "https://civicdesk.example/pay/return/2c/",
        "cancel_url": "https://civicdesk.example/pay/cancel/2c/",
        "notify_url": "https://civicdesk.example/pay/notify/yookassa/",
        "language": "ru",
    }
    values.update(overrides)
    return PaymentOrder(**values)


def notification(ref: str, event: str = "payment.succeeded", **obj) -> bytes:
    body = {
        "type": "notification",
        "event": event,
        "object": {"id": ref, "status": event.split(".", 1)[1], **obj},
    }
    return json.dumps(body).encode()


def parse(gateway: YooKassaGateway, body: bytes, remote_addr: str | None = "185.71.76.10"):
    return gateway.parse_notification(body, JSON, {}, remote_addr)


# --- checkout -----------------------------------------------------------------------------------
def test_checkout_creates_a_payment_and_redirects_to_its_confirmation(yookassa):
    checkout = make_gateway(yookassa.url).checkout(order(save_method=True))
    [request] = yookassa.server.received
    assert request.method == "POST" and request.path == "/v3/payments"
    assert request.header("Idempotence-Key") == idempotence_key(PAYMENT_ID, "create")
    assert request.json() == {
        "amount": {"value": "1540.70", "currency": "RUB"},
        "capture": True,
        "description": "ЖКУ за март, лицевой счёт 1234567",
        "metadata": {"payment_id": PAYMENT_ID},
        "confirmation": {
            "type": "redirect",
            "return_url": "https://civicdesk.example/pay/return/2c/",
            "locale": "ru_RU",
        },
        "save_payment_method": True,
    }
    payment = yookassa.payments[checkout.gateway_ref]
    assert checkout.method == "GET" and checkout.fields == {}
    assert checkout.url == payment["confirmation"]["confirmation_url"]


def test_a_retried_checkout_reuses_the_same_payment(yookassa):
    gateway = make_gateway(yookassa.url)
    first = gateway.checkout(order())
    again = gateway.checkout(order())
    assert first == again and len(yookassa.payments) == 1
    other = gateway.checkout(order(payment_id="another"))
    assert other.gateway_ref != first.gateway_ref


def test_checkout_caps_the_description_and_speaks_english_to_others(yookassa):
    make_gateway(yookassa.url).checkout(order(description="Ж" * 200, language="uk"))
    body = yookassa.server.received[0].json()
    assert body["description"] == "Ж" * 128
    assert body["confirmation"]["locale"] == "en_US" and "save_payment_method" not in body


@pytest.mark.parametrize(
    ("status", "answer", "code", "retryable"),
    [
        (
            400,
            {"type": "error", "code": "invalid_request", "description": "bad amount"},
            "invalid_request",
            False,
        ),
        (401, {"type": "error", "code": "invalid_credentials"}, "auth_failed", False),
        (500, {"type": "error", "code": "internal_server_error"}, "unavailable", True),
        (200, b"<html>not json</html>", "bad_response", False),
        (200, {"id": "p1", "status": "pending"}, "bad_response", False),
        (202, {"type": "processing", "retry_after": 1800}, "bad_response", False),
    ],
)
def test_checkout_errors(yookassa, status, answer, code, retryable):
    yookassa.server.route("POST", "/v3/payments", status, answer)
    with pytest.raises(GatewayError) as caught:
        make_gateway(yookassa.url).checkout(order())
    assert caught.value.code == code and caught.value.retryable is retryable


def test_checkout_network_failure_is_retryable():
    with pytest.raises(GatewayError) as caught:
        make_gateway(closed_url()).checkout(order())
    assert caught.value.code == "network" and caught.value.retryable


def test_checkout_refuses_what_yookassa_cannot_take(yookassa):
    for overrides in ({"currency": "ZAR"}, {"amount": Decimal("0.001")}, {"return_url": "/x"}):
        with pytest.raises(GatewayError):
            make_gateway(yookassa.url).checkout(order(**overrides))
    assert yookassa.server.received == []


# --- webhooks -----------------------------------------------------------------------------------
def created(yookassa, **overrides) -> str:
    return make_gateway(yookassa.url).checkout(order(**overrides)).gateway_ref


def test_a_notification_is_verified_by_asking_the_api(yookassa):
    ref = created(yookassa)
    yookassa.settle(ref, "succeeded", paid=True)
    result = parse(make_gateway(yookassa.url), notification(ref))
    assert result.payment_id == PAYMENT_ID and result.outcome == "succeeded"
    assert result.amount == Decimal("1540.70") and result.currency == "RUB"
    assert result.gateway_ref == ref and result.event_id == f"{ref}:payment.succeeded"
    assert result.raw["metadata"] == {"payment_id": PAYMENT_ID}
    fetched = yookassa.server.received[-1]
    assert fetched.method == "GET" and fetched.path == f"/v3/payments/{ref}"


def test_a_replayed_notification_has_the_same_event_id(yookassa):
    ref = created(yookassa)
    yookassa.settle(ref, "succeeded")
    body = notification(ref)
    gateway = make_gateway(yookassa.url)
    assert parse(gateway, body).event_id == parse(gateway, body).event_id


def test_a_forged_success_gets_the_apis_answer_not_its_own(yookassa):
    ref = created(yookassa)  # still pending at YooKassa
    body = notification(ref, amount={"value": "1000000.00", "currency": "RUB"}, paid=True)
    result = parse(make_gateway(yookassa.url), body)
    assert result.outcome == "pending" and result.amount == Decimal("1540.70")
    # Its event id names the state the API reported, so the real success later is not a replay.
    assert result.event_id == f"{ref}:payment.pending"


def test_a_notification_about_an_unknown_payment_is_an_error(yookassa):
    with pytest.raises(GatewayError) as caught:
        parse(make_gateway(yookassa.url), notification(str(uuid.uuid4())))
    assert caught.value.code == "not_found" and not caught.value.retryable


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [
        ("expired_on_confirmation", "cancelled"),
        ("canceled_by_merchant", "cancelled"),
        ("insufficient_funds", "failed"),
        ("3d_secure_failed", "failed"),
        ("card_expired", "failed"),
    ],
)
def test_cancellations_are_cancelled_or_failed_by_reason(yookassa, reason, outcome):
    ref = created(yookassa)
    yookassa.settle(ref, "canceled", cancellation_details={"party": "yoo_money", "reason": reason})
    result = parse(make_gateway(yookassa.url), notification(ref, "payment.canceled"))
    assert result.outcome == outcome and result.event_id == f"{ref}:payment.canceled"


def test_waiting_for_capture_and_new_statuses_are_pending(yookassa):
    ref = created(yookassa)
    for status in ("waiting_for_capture", "something_new"):
        yookassa.settle(ref, status)
        assert make_gateway(yookassa.url).fetch(PAYMENT_ID, ref).outcome == "pending"


def test_a_saved_method_comes_back_as_a_token(yookassa):
    ref = created(yookassa, save_method=True)
    method = {
        "type": "bank_card",
        "id": "2d1c4f66-000f-5000-8000-1b5d4a2f9c10",
        "saved": True,
        "card": {"last4": "4444", "card_type": "MasterCard", "expiry_year": "2030"},
    }
    yookassa.settle(ref, "succeeded", payment_method=method)
    result = parse(make_gateway(yookassa.url), notification(ref))
    assert result.method_token == method["id"]
    assert result.method_label == "MasterCard *4444"
    yookassa.settle(ref, "succeeded", payment_method={**method, "saved": False})
    assert parse(make_gateway(yookassa.url), notification(ref)).method_token is None


@pytest.mark.parametrize(
    ("body", "content_type", "error", "code"),
    [
        (notification("x", "refund.succeeded"), JSON, NotSupported, "not_a_payment"),
        (
            b'{"type": "notification", "event": "payment.succeeded", "object": {}}',
            JSON,
            GatewayError,
            "malformed",
        ),
        (
            b'{"type": "other", "event": "payment.succeeded", "object": {"id": "x"}}',
            JSON,
            GatewayError,
            "malformed",
        ),
        (
            b'{"type": "notification", "event": "payment.succeeded", "object": "x"}',
            JSON,
            GatewayError,
            "malformed",
        ),
        (b"not json", JSON, GatewayError, "bad_response"),
        (notification("x"), "application/x-www-form-urlencoded", GatewayError, "malformed"),
    ],
)
def test_notifications_that_are_not_about_our_payments(yookassa, body, content_type, error, code):
    with pytest.raises(error) as caught:
        make_gateway(yookassa.url).parse_notification(body, content_type, {}, None)
    assert caught.value.code == code
    assert yookassa.server.received == []  # nothing worth asking the API about


def test_a_payment_civicdesk_did_not_make_is_not_ours(yookassa):
    ref = created(yookassa)
    yookassa.settle(ref, "succeeded", metadata={})
    with pytest.raises(NotSupported) as caught:
        parse(make_gateway(yookassa.url), notification(ref))
    assert caught.value.code == "not_ours"


def test_the_api_being_unreachable_during_verification_is_retryable():
    with pytest.raises(GatewayError) as caught:
        parse(make_gateway(closed_url()), notification(str(uuid.uuid4())))
    assert caught.value.retryable


def test_the_api_answering_garbage_during_verification(yookassa):
    yookassa.server.route("GET", "/v3/payments/", 200, b"{truncated", JSON, prefix=True)
    with pytest.raises(GatewayError) as caught:
        parse(make_gateway(yookassa.url), notification(str(uuid.uuid4())))
    assert caught.value.code == "bad_response"


def test_the_api_answering_about_another_payment(yookassa):
    ref = created(yookassa)
    yookassa.server.route(
        "GET", "/v3/payments/", lambda r: (200, yookassa.payments[ref], JSON), prefix=True
    )
    with pytest.raises(GatewayError) as caught:
        parse(make_gateway(yookassa.url), notification(str(uuid.uuid4())))
    assert caught.value.code == "reference_mismatch"


def test_the_source_address_is_checked_when_configured(yookassa):
    ref = created(yookassa)
    gateway = make_gateway(yookassa.url, allowed_networks=["185.71.76.0/27", "77.75.153.0/25"])
    assert parse(gateway, notification(ref), "77.75.153.7").outcome == "pending"
    with pytest.raises(SignatureError):
        parse(gateway, notification(ref), "203.0.113.9")


def test_the_ack_is_a_plain_200():
    assert make_gateway().notification_ack() == (200, "", "text/plain")


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, max_examples=40
)
@given(
    minor=st.integers(min_value=1, max_value=10**10),
    claimed=st.sampled_from(
        ["payment.succeeded", "payment.canceled", "payment.waiting_for_capture"]
    ),
    claimed_amount=st.decimals(min_value=0, max_value=10**9, places=2),
    api_status=st.sampled_from(["pending", "succeeded"]),
)
def test_whatever_a_notification_claims_the_result_is_the_apis(
    yookassa, minor, claimed, claimed_amount, api_status
):
    amount = Decimal(minor).scaleb(-2)
    ref = created(yookassa, payment_id=str(uuid.uuid4()), amount=amount)
    yookassa.settle(ref, api_status)
    body = notification(ref, claimed, amount={"value": str(claimed_amount), "currency": "RUB"})
    result = parse(make_gateway(yookassa.url), body)
    assert result.amount == amount and result.outcome == api_status
    assert result.event_id == f"{ref}:payment.{api_status}"


# --- fetch and saved methods --------------------------------------------------------------------
def test_fetch_returns_the_apis_state(yookassa):
    ref = created(yookassa)
    gateway = make_gateway(yookassa.url)
    assert gateway.fetch(PAYMENT_ID, ref).outcome == "pending"
    yookassa.settle(ref, "succeeded")
    assert gateway.fetch(PAYMENT_ID, ref).event_id == f"{ref}:payment.succeeded"
    with pytest.raises(GatewayError) as caught:
        gateway.fetch("someone-else", ref)
    assert caught.value.code == "reference_mismatch"
    with pytest.raises(NotSupported):
        gateway.fetch(PAYMENT_ID, "")


def test_fetch_with_wrong_credentials(yookassa):
    ref = created(yookassa)
    with pytest.raises(GatewayError) as caught:
        make_gateway(yookassa.url, secret_key="wrong").fetch(PAYMENT_ID, ref)
    assert caught.value.code == "auth_failed"


def test_charge_saved_pays_with_the_method_id(yookassa):
    gateway = make_gateway(yookassa.url)
    assert gateway.supports_saved_methods
    result = gateway.charge_saved(order(saved_method_token="2d1c4f66-saved"))
    assert result.outcome == "succeeded" and result.method_token == "2d1c4f66-saved"
    assert result.method_label == "Bank card *4444"
    [request] = yookassa.server.received
    body = request.json()
    assert body["payment_method_id"] == "2d1c4f66-saved" and "confirmation" not in body
    assert request.header("Idempotence-Key") == idempotence_key(PAYMENT_ID, "charge_saved")
    assert gateway.charge_saved(order(saved_method_token="2d1c4f66-saved")) == result
    assert len(yookassa.payments) == 1  # the retry did not charge twice


def test_charge_saved_declined_and_refused(yookassa):
    gateway = make_gateway(yookassa.url)
    with pytest.raises(GatewayError) as caught:
        gateway.charge_saved(order())
    assert caught.value.code == "no_method"
    declined = {
        "id": "p-declined",
        "status": "canceled",
        "amount": {"value": "1540.70", "currency": "RUB"},
        "metadata": {"payment_id": PAYMENT_ID},
        "cancellation_details": {"party": "payment_network", "reason": "permission_revoked"},
    }
    yookassa.server.route("POST", "/v3/payments", 200, declined)
    assert gateway.charge_saved(order(saved_method_token="revoked")).outcome == "failed"
