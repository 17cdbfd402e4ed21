"""LiqPay (Ukraine, PrivatBank): Checkout, server callback, payment status API and card tokens.

Documented rules implemented here (LiqPay API 3 docs: "Rules for the formation of a request",
"Checkout", "Callback", "Payment status", "Token payment"):

- Every request is two parameters: ``data`` = base64(JSON of the API parameters) and
  ``signature`` = base64(sha1(private_key + data + private_key)) (:func:`sign`).
- Checkout: an HTML form POSTed to ``https://www.liqpay.ua/api/3/checkout`` with ``data`` and
  ``signature``; the JSON carries ``version`` 3, ``public_key``, ``action`` "pay", ``amount``,
  ``currency``, ``description``, ``order_id`` (our payment id), ``result_url`` (where the
  resident returns), ``server_url`` (the callback), ``language`` (uk or en), and
  ``recurringbytoken`` "1" to receive a ``card_token`` for later token payments.
- Callback: LiqPay POSTs ``data`` and ``signature`` (form-encoded) to ``server_url``; recompute
  the signature from the received ``data`` with the private key and compare; only then decode
  ``data``. Any 200 answer acknowledges it.
- Status API (``fetch``): POST ``data``/``signature`` with ``action`` "status" and ``order_id`` to
  ``https://www.liqpay.ua/api/request``; the answer is the payment as JSON.
- Token payment (``charge_saved``): the same endpoint with ``action`` "paytoken" and
  ``card_token``.
- ``status`` values: final ``success``, ``failure``, ``error``, ``reversed`` (refunded),
  ``sandbox`` (a test payment: counted as paid only when this gateway runs in sandbox mode, so a
  test payment can never credit a real account); everything else (``processing``,
  ``wait_accept``, ``3ds_verify``, ``otp_verify``, ...) is still in progress.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from django.utils.translation import gettext_lazy as _

from civicdesk.ledger.gateways.base import (
    Checkout,
    Gateway,
    GatewayError,
    GatewayResult,
    PaymentOrder,
    SignatureError,
    format_amount,
    is_content_type,
    json_safe,
    loads_object,
    logger,
    parse_amount,
    truncate,
)

BASE_URL = "https://www.liqpay.ua"
API_VERSION = 3

FINAL_OUTCOMES = {
    "success": "succeeded",
    "failure": "failed",
    "error": "failed",
    "reversed": "cancelled",
}
# Languages LiqPay's checkout speaks; Russian-speaking residents in Ukraine get Ukrainian.
LANGUAGES = {"uk": "uk", "ru": "uk", "en": "en"}


def sign(data: str, private_key: str) -> str:
    """base64(sha1(private_key + data + private_key)), the documented LiqPay signature."""
    digest = hashlib.sha1((private_key + data + private_key).encode()).digest()  # noqa: S324
    return base64.b64encode(digest).decode("ascii")


def encode(params: Mapping[str, Any]) -> str:
    """``data``: base64 of the parameters' JSON."""
    return base64.b64encode(json.dumps(dict(params)).encode()).decode("ascii")


def decode(data: str) -> dict[str, Any]:
    try:
        # Strict base64, but line breaks (base64 tools wrap at 76 characters) are allowed.
        raw = base64.b64decode("".join(data.split()).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise GatewayError("malformed", "LiqPay data is not base64") from exc
    return loads_object(raw, what="LiqPay data")


class LiqPayGateway(Gateway):
    name = "liqpay"
    label = _("Card (LiqPay)")
    default_currencies = frozenset({"UAH", "USD", "EUR"})
    supports_saved_methods = True
    required_options = ("public_key", "private_key")

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.public_key = str(self.options.get("public_key") or "").strip()
        self.private_key = str(self.options.get("private_key") or "").strip()
        self.base_url = str(self.options.get("base_url") or BASE_URL).rstrip("/")
        self.sandbox = bool(self.options.get("sandbox"))

    def signed(self, params: Mapping[str, Any]) -> dict[str, str]:
        data = encode({"version": API_VERSION, "public_key": self.public_key, **params})
        return {"data": data, "signature": sign(data, self.private_key)}

    # Checkout ----------------------------------------------------------------------------------
    def checkout(self, order: PaymentOrder) -> Checkout:
        self.check_order(order)
        params: dict[str, Any] = {
            "action": "pay",
            "amount": format_amount(order.amount, order.currency),
            "currency": order.currency,
            "description": truncate(order.description, 500) or order.payment_id,
            "order_id": order.payment_id,
            "result_url": order.return_url,
            "server_url": order.notify_url,
            "language": LANGUAGES.get(order.language, "en"),
        }
        if order.save_method:
            params["recurringbytoken"] = "1"
        if self.sandbox:
            params["sandbox"] = "1"
        return Checkout(
            url=f"{self.base_url}/api/3/checkout", method="POST", fields=self.signed(params)
        )

    # Callback ----------------------------------------------------------------------------------
    def parse_notification(
        self,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str],
        remote_addr: str | None,
    ) -> GatewayResult:
        if not is_content_type(content_type, "application/x-www-form-urlencoded"):
            raise GatewayError("malformed", "a LiqPay callback is form-encoded")
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise GatewayError("malformed", "the callback body is not a form") from exc
        data = (form.get("data") or [""])[0]
        received = (form.get("signature") or [""])[0]
        if not data or not received:
            raise SignatureError("missing_signature", "the callback needs data and signature")
        if not hmac.compare_digest(received.encode(), sign(data, self.private_key).encode()):
            logger.warning("liqpay callback with a bad signature from %s", remote_addr)
            raise SignatureError("bad_signature", "the callback signature does not match")
        self.check_source(remote_addr)
        payload = decode(data)
        if payload.get("public_key") not in (None, "", self.public_key):
            raise SignatureError("wrong_merchant", "the callback is for another shop")
        return self._result(payload)

    def _result(self, payload: Mapping[str, Any]) -> GatewayResult:
        status = str(payload.get("status") or "").strip().lower()
        payment_id = str(payload.get("order_id") or "").strip()
        liqpay_id = str(payload.get("payment_id") or "").strip()
        if not status or not payment_id:
            raise GatewayError("bad_response", "LiqPay's answer lacks status or order_id")
        if status == "sandbox":
            outcome = "succeeded" if self.sandbox else "failed"
            if not self.sandbox:
                logger.warning("liqpay test payment for %s refused: not in sandbox", payment_id)
        else:
            outcome = FINAL_OUTCOMES.get(status, "pending")
        amount = payload.get("amount")
        currency = payload.get("currency")
        mask = str(payload.get("sender_card_mask2") or "").strip()
        card_type = str(payload.get("sender_card_type") or "").strip()
        return GatewayResult(
            payment_id=payment_id,
            outcome=outcome,
            amount=parse_amount(amount) if amount not in (None, "") else None,
            currency=str(currency).upper() if currency else None,
            gateway_ref=liqpay_id,
            event_id=f"{liqpay_id or 'order-' + payment_id}:{status}",
            method_token=str(payload.get("card_token") or "").strip() or None,
            method_label=" ".join(part for part in (card_type.title(), mask) if part),
            raw=json_safe(dict(payload)),
        )

    # API ---------------------------------------------------------------------------------------
    def _request(self, params: Mapping[str, Any]) -> dict[str, Any]:
        response = self.http("POST", f"{self.base_url}/api/request", data=self.signed(params))
        answer = loads_object(response.content, what="LiqPay's answer")
        if response.status_code != 200:
            raise GatewayError("rejected", f"liqpay: HTTP {response.status_code}")
        return answer

    def fetch(self, payment_id: str, gateway_ref: str) -> GatewayResult:
        answer = self._request({"action": "status", "order_id": payment_id})
        if not answer.get("payment_id"):
            if answer.get("err_code") == "payment_not_found":
                # LiqPay has no payment for this order: the resident has not paid (yet).
                return GatewayResult(
                    payment_id=payment_id,
                    outcome="pending",
                    amount=None,
                    currency=None,
                    gateway_ref=gateway_ref,
                    event_id="",
                    raw=json_safe(answer),
                )
            raise GatewayError(
                "rejected", f"liqpay status: {answer.get('err_code') or answer.get('status')}"
            )
        result = self._result(answer)
        if result.payment_id != payment_id:
            raise GatewayError("reference_mismatch", "LiqPay answered about another order")
        return result

    def charge_saved(self, order: PaymentOrder) -> GatewayResult:
        if not order.saved_method_token:
            raise GatewayError("no_method", "the order names no saved method")
        self.check_order(order)
        answer = self._request(
            {
                "action": "paytoken",
                "amount": format_amount(order.amount, order.currency),
                "currency": order.currency,
                "description": truncate(order.description, 500) or order.payment_id,
                "order_id": order.payment_id,
                "card_token": order.saved_method_token,
                "server_url": order.notify_url,
            }
        )
        if not answer.get("payment_id"):
            raise GatewayError(
                "rejected", f"liqpay paytoken: {answer.get('err_code') or answer.get('status')}"
            )
        return self._result(answer)
