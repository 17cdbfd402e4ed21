"""The /pay/ endpoints: gateway notifications (sandbox, PayFast, LiqPay signed here), the
resident's return and the sandbox gateway's hosted page."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from decimal import Decimal
from urllib.parse import quote_plus

import pytest
import time_machine
from django.utils import timezone

from civicdesk.ledger import payments
from civicdesk.ledger.gateways.sandbox import SIGNATURE_HEADER, sandbox_notification
from civicdesk.ledger.models import Payment, PaymentEvent, SandboxCharge, Transaction
from civicdesk.ledger.tests.gateway_fakes import FakeGatewayServer
from civicdesk.ledger.tests.payment_helpers import balance_minor, decide, ledger_counts
from civicdesk.registry.models import AccountLink
from civicdesk.registry.tests import factories

pytest_plugins = ["civicdesk.ledger.tests.payments_support"]


def create(household, amount="100.00", gateway="sandbox", **kwargs) -> Payment:
    return payments.payment_create(
        account=household.account,
        amount=Decimal(amount),
        gateway=gateway,
        actor=household.resident,
        channel=Payment.Channel.PORTAL,
        base_url="http://testserver/",
        **kwargs,
    )


def post_notification(client, gateway, body: bytes, content_type, **headers):
    return client.post(f"/pay/notify/{gateway}/", body, content_type=content_type, **headers)


def signed_sandbox(payment, outcome="success"):
    body, headers = sandbox_notification(decide(payment, outcome))
    return body, headers[SIGNATURE_HEADER]


# --- the sandbox's notification endpoint ----------------------------------------------------


def test_signed_notification_settles_and_is_acknowledged(client, household):
    payment = create(household)
    body, signature = signed_sandbox(payment)
    response = post_notification(
        client, "sandbox", body, "application/json", HTTP_X_SANDBOX_SIGNATURE=signature
    )
    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert balance_minor(household.account) == 5_000


def test_replayed_notification_is_acknowledged_and_posts_nothing(client, household):
    payment = create(household)
    body, signature = signed_sandbox(payment)
    headers = {"HTTP_X_SANDBOX_SIGNATURE": signature}
    post_notification(client, "sandbox", body, "application/json", **headers)
    before = ledger_counts()
    response = post_notification(client, "sandbox", body, "application/json", **headers)
    assert response.status_code == 200
    assert ledger_counts() == before
    assert payment.events.filter(kind=PaymentEvent.Kind.REPLAYED).count() == 1


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, sig: (body, "0" * 64),  # forged signature
        lambda body, sig: (body, ""),  # no signature
        lambda body, sig: (body.replace(b"10000", b"99999"), sig),  # amount changed after signing
        lambda body, sig: (body.replace(b"succeeded", b"failed"), sig),  # status changed
    ],
    ids=["forged", "missing", "amount-tampered", "status-tampered"],
)
def test_forged_or_tampered_notification_is_400_and_writes_nothing(client, household, tamper):
    payment = create(household)
    body, signature = tamper(*signed_sandbox(payment))
    before = (ledger_counts(), PaymentEvent.objects.count())
    headers = {"HTTP_X_SANDBOX_SIGNATURE": signature} if signature else {}
    response = post_notification(client, "sandbox", body, "application/json", **headers)
    assert response.status_code == 400
    assert (ledger_counts(), PaymentEvent.objects.count()) == before
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


def test_malformed_but_signed_notification_is_400(client, household):
    from civicdesk.ledger.gateways.sandbox import sandbox_sign

    body = b'{"type": "notification"}'
    response = post_notification(
        client, "sandbox", body, "application/json", HTTP_X_SANDBOX_SIGNATURE=sandbox_sign(body)
    )
    assert response.status_code == 400


def test_notification_for_an_unknown_payment_is_acknowledged_and_posts_nothing(client, household):
    payment = create(household)
    result = decide(payment, "success")
    from dataclasses import replace

    body, headers = sandbox_notification(
        replace(result, payment_id="5f1d6d0a-0000-4000-8000-000000000000")
    )
    before = ledger_counts()
    response = post_notification(
        client,
        "sandbox",
        body,
        "application/json",
        HTTP_X_SANDBOX_SIGNATURE=headers[SIGNATURE_HEADER],
    )
    assert response.status_code == 200
    assert ledger_counts() == before


def test_unknown_or_unconfigured_gateway_is_404_and_get_is_405(client, household):
    assert (
        client.post("/pay/notify/paypal/", b"{}", content_type="application/json").status_code
        == 404
    )
    assert client.post("/pay/notify/payfast/", b"x=1", content_type="text/plain").status_code == 404
    assert client.get("/pay/notify/sandbox/").status_code == 405


# --- the sandbox's hosted page and the return page ------------------------------------------


def test_sandbox_page_shows_amount_merchant_and_choices(client, household):
    payment = create(household, "123.45", save_method=True)
    response = client.get(payment.checkout_url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "123.45" in page and "Test Metro" in page
    for label in ("Success", "Failure", "Timeout", "Save this card"):
        assert label in page


def test_sandbox_page_is_404_for_an_unknown_charge_or_when_the_sandbox_is_off(
    client, household, settings
):
    payment = create(household)
    assert client.get("/pay/sandbox/5f1d6d0a-0000-4000-8000-000000000000/").status_code == 404
    settings.PAYMENT_GATEWAYS = {
        **settings.PAYMENT_GATEWAYS,
        "sandbox": {"enabled": False, "secret": ""},
    }
    assert client.get(payment.checkout_url).status_code == 404


def test_sandbox_success_notifies_then_returns_to_a_paid_page(client, household):
    client.force_login(household.resident)
    payment = create(household)
    response = client.post(payment.checkout_url, {"outcome": "success"})
    assert response.status_code == 302
    assert response["Location"] == f"/pay/return/{payment.pk}/"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    kinds = set(payment.events.values_list("kind", flat=True))
    assert "notification" in kinds  # delivered through the notification path
    page = client.get(response["Location"]).content.decode()
    assert "Paid" in page and 'data-balance="50.00"' in page
    # A second click on the (stale) page posts nothing more.
    before = ledger_counts()
    again = client.post(payment.checkout_url, {"outcome": "success"})
    assert again.status_code == 200 and "already answered" in again.content.decode()
    assert ledger_counts() == before


def test_sandbox_failure_returns_to_a_failed_page_and_posts_nothing(client, household):
    payment = create(household)
    before = ledger_counts()
    response = client.post(payment.checkout_url, {"outcome": "failure"}, follow=True)
    assert "did not go through" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert ledger_counts() == before


def test_sandbox_cancel_returns_to_the_cancel_page(client, household):
    payment = create(household)
    response = client.post(payment.checkout_url, {"outcome": "cancel"})
    assert response["Location"] == f"/pay/return/{payment.pk}/?cancelled=1"
    page = client.get(response["Location"]).content.decode()
    assert "Cancelled" in page
    assert ledger_counts()[0] == 2


def test_sandbox_timeout_shows_pending_and_the_reconciler_settles_once(client, household):
    client.force_login(household.resident)
    payment = create(household)
    response = client.post(payment.checkout_url, {"outcome": "timeout"})
    assert response["Location"] == f"/pay/return/{payment.pk}/?timeout=1"
    page = client.get(response["Location"]).content.decode()
    assert "Waiting for the gateway" in page
    payment.refresh_from_db()
    assert payment.transaction is None and payment.check_count == 0
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=20), tick=False):
        assert payments.payments_reconcile() == 1
        assert payments.payments_reconcile() == 0
    assert Transaction.objects.filter(reference=str(payment.pk)).count() == 1
    assert balance_minor(household.account) == 5_000


def test_return_page_asks_the_gateway_once_when_the_notification_is_late(client, household):
    payment = create(household)
    decide(payment, "timeout")
    response = client.get(f"/pay/return/{payment.pk}/")
    assert "Paid" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and payment.check_count == 1
    client.get(f"/pay/return/{payment.pk}/")
    payment.refresh_from_db()
    assert payment.check_count == 1


def test_sandbox_page_refuses_an_unknown_choice(client, household):
    payment = create(household)
    assert client.post(payment.checkout_url, {"outcome": "steal"}).status_code == 400
    assert SandboxCharge.objects.get(pk=payment.gateway_ref).status == "pending"


def test_return_page_shows_the_balance_only_to_a_linked_resident(client, household, make_user):
    payment = create(household)
    client.post(payment.checkout_url, {"outcome": "success"})
    anonymous = client.get(f"/pay/return/{payment.pk}/").content.decode()
    assert "Paid" in anonymous and "data-balance" not in anonymous
    client.force_login(make_user())
    stranger = client.get(f"/pay/return/{payment.pk}/").content.decode()
    assert "data-balance" not in stranger
    assert client.get("/pay/return/5f1d6d0a-0000-4000-8000-000000000000/").status_code == 404


# --- real gateways, signed here ---------------------------------------------------------------

PAYFAST = {"merchant_id": "10000100", "merchant_key": "46f0cd694581a", "passphrase": "jt7NOE43FZPn"}


def _php_urlencode(value: str) -> str:
    return quote_plus(value, safe="").replace("~", "%7E")


def payfast_itn(payment, *, status="COMPLETE", amount="100.00", passphrase=PAYFAST["passphrase"]):
    fields = [
        ("m_payment_id", str(payment.pk)),
        ("pf_payment_id", "1089250"),
        ("payment_status", status),
        ("item_name", f"Account {payment.account.number}"),
        ("item_description", ""),
        ("amount_gross", amount),
        ("amount_fee", "-2.30"),
        ("amount_net", str(Decimal(amount) - Decimal("2.30"))),
        ("name_first", "Thandi"),
        ("email_address", "thandi@example.org"),
        ("merchant_id", PAYFAST["merchant_id"]),
    ]
    string = "&".join(f"{k}={_php_urlencode(v)}" for k, v in fields)
    to_sign = string + (f"&passphrase={_php_urlencode(passphrase)}" if passphrase else "")
    signature = hashlib.md5(to_sign.encode()).hexdigest()
    return f"{string}&signature={signature}".encode()


@pytest.fixture
def payfast(settings):
    server = FakeGatewayServer().start()
    server.route("POST", "/eng/query/validate", 200, "VALID", "text/plain")
    settings.PAYMENT_GATEWAYS = {
        **settings.PAYMENT_GATEWAYS,
        "payfast": {**PAYFAST, "base_url": server.url, "api_url": server.url, "timeout": 2},
    }
    try:
        yield server
    finally:
        server.stop()


def test_payfast_itn_end_to_end(client, household, payfast):
    payment = create(household, gateway="payfast")
    assert payment.checkout_method == "POST"
    assert payment.checkout_fields["m_payment_id"] == str(payment.pk)
    assert payment.checkout_fields["notify_url"] == "http://testserver/pay/notify/payfast/"
    form = "application/x-www-form-urlencoded"
    response = post_notification(client, "payfast", payfast_itn(payment), form)
    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and payment.gateway_ref == "1089250"
    assert balance_minor(household.account) == 5_000
    # PayFast confirmed it: the ITN was posted back to /eng/query/validate.
    assert [r.path for r in payfast.received] == ["/eng/query/validate"]
    # PayFast resends the same ITN: acknowledged, nothing posted.
    before = ledger_counts()
    assert post_notification(client, "payfast", payfast_itn(payment), form).status_code == 200
    assert ledger_counts() == before


def test_payfast_forged_itn_and_wrong_amount_post_nothing(client, household, payfast):
    payment = create(household, gateway="payfast")
    form = "application/x-www-form-urlencoded"
    before = ledger_counts()
    forged = post_notification(client, "payfast", payfast_itn(payment, passphrase="guess"), form)
    assert forged.status_code == 400
    assert payfast.received == []  # refused before asking PayFast
    wrong = post_notification(client, "payfast", payfast_itn(payment, amount="1.00"), form)
    assert wrong.status_code == 200  # a genuine ITN: acknowledged, but not posted
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING and "amount 100 instead of 10000" in (
        payment.failure_reason
    )
    assert ledger_counts() == before


def test_payfast_not_confirming_is_400(client, household, payfast):
    payfast.route("POST", "/eng/query/validate", 200, "INVALID", "text/plain")
    payment = create(household, gateway="payfast")
    before = ledger_counts()
    response = post_notification(
        client, "payfast", payfast_itn(payment), "application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert ledger_counts() == before


LIQPAY = {"public_key": "sandbox_i000000001", "private_key": "sandbox_secret_key", "sandbox": True}


def liqpay_callback(payment, *, status="success", amount="100.00", key=LIQPAY["private_key"]):
    data = base64.b64encode(
        json.dumps(
            {
                "version": 3,
                "public_key": LIQPAY["public_key"],
                "action": "pay",
                "payment_id": 1999000123,
                "status": status,
                "amount": amount,
                "currency": "UAH",
                "order_id": str(payment.pk),
                "card_token": "",
            }
        ).encode()
    ).decode()
    signature = base64.b64encode(hashlib.sha1((key + data + key).encode()).digest()).decode()
    return f"data={quote_plus(data)}&signature={quote_plus(signature)}".encode()


@pytest.fixture
def ukraine(operator, settings, make_user):
    operator.jurisdiction, operator.currency = "UA", "UAH"
    operator.save()
    from django.core.cache import cache

    cache.clear()
    settings.PAYMENT_GATEWAYS = {**settings.PAYMENT_GATEWAYS, "liqpay": dict(LIQPAY)}
    resident = make_user()
    account = factories.account()
    AccountLink.objects.create(user=resident, account=account, role="owner", method="code")
    return resident, account


def test_liqpay_callback_end_to_end(client, ukraine):
    resident, account = ukraine
    payment = payments.payment_create(
        account=account,
        amount=Decimal("100.00"),
        gateway="liqpay",
        actor=resident,
        channel="portal",
        base_url="http://testserver/",
        language="uk",
    )
    assert payment.currency == "UAH" and payment.checkout_method == "POST"
    assert set(payment.checkout_fields) == {"data", "signature"}
    form = "application/x-www-form-urlencoded"
    forged = post_notification(client, "liqpay", liqpay_callback(payment, key="guess"), form)
    assert forged.status_code == 400
    assert Transaction.objects.count() == 0
    response = post_notification(client, "liqpay", liqpay_callback(payment), form)
    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert balance_minor(account) == -10_000  # nothing was owed: all of it is credit
    again = post_notification(client, "liqpay", liqpay_callback(payment), form)
    assert again.status_code == 200
    assert Transaction.objects.filter(reference=str(payment.pk)).count() == 1
