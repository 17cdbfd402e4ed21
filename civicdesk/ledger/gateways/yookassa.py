"""YooKassa (Russia): API v3 payments with redirect confirmation, webhooks and saved methods.

Documented rules implemented here (YooKassa API v3 reference and guides: "Authentication",
"Idempotence", "Payment process", "Webhooks", "Saving a payment method", "Payment statuses",
"Cancellation details"):

- Every call uses HTTP Basic auth ``shopId:secretKey``; every POST carries an ``Idempotence-Key``
  header: a repeated request with the same key within 24 hours returns the first answer instead
  of creating a second payment. Keys here are derived from our payment id, so retrying a
  checkout that timed out cannot charge twice.
- Checkout: ``POST /v3/payments`` with ``amount`` {``value`` "100.00", ``currency``},
  ``capture`` true (one stage), ``confirmation`` {``type`` "redirect", ``return_url``},
  ``description`` (at most 128 characters), ``metadata`` {``payment_id``} and
  ``save_payment_method`` when the resident asked to keep the card; the answer's
  ``confirmation.confirmation_url`` is where to send the resident and its ``id`` is the
  gateway reference.
- Webhooks (``{"type": "notification", "event": "payment.succeeded", "object": {...}}``) are not
  signed: the documented way to trust one is to fetch the object by id from the API
  (``GET /v3/payments/{id}``) and act on that answer only; the notification's own object and
  event are never used beyond the id. Answer with HTTP 200. Events that are not about payments
  (``refund.succeeded``, payouts, deals) raise NotSupported.
- Payment ``status``: ``pending``, ``waiting_for_capture``, ``succeeded``, ``canceled``; a
  canceled payment's ``cancellation_details.reason`` tells a resident who gave up
  (``expired_on_confirmation``) or a merchant cancellation from a decline (``insufficient_funds``,
  ``card_expired``, ``3d_secure_failed``, ...).
- Saved methods: a payment made with ``save_payment_method`` returns ``payment_method`` with
  ``saved`` true and its ``id``; charging it later is ``POST /v3/payments`` with
  ``payment_method_id`` and no confirmation.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from django.utils.translation import gettext_lazy as _

from civicdesk.ledger.gateways.base import (
    Checkout,
    Gateway,
    GatewayError,
    GatewayResult,
    NotSupported,
    PaymentOrder,
    format_amount,
    is_content_type,
    json_safe,
    loads_object,
    logger,
    parse_amount,
    truncate,
)

BASE_URL = "https://api.yookassa.ru"
IDEMPOTENCE_NAMESPACE = uuid.UUID("0b6f4d8e-6a1c-5d1e-9a57-3c1e5a7b9d10")

STATUS_OUTCOMES = {
    "pending": "pending",
    "waiting_for_capture": "pending",
    "succeeded": "succeeded",
}
# Reasons for "canceled" that mean nobody was declined: the resident left, or we cancelled.
CANCELLED_REASONS = frozenset(
    {"expired_on_confirmation", "expired_on_capture", "canceled_by_merchant"}
)
LOCALES = {"ru": "ru_RU"}


def idempotence_key(payment_id: str, operation: str) -> str:
    """A key that is the same for every retry of one operation on one payment."""
    return str(uuid.uuid5(IDEMPOTENCE_NAMESPACE, f"civicdesk:{payment_id}:{operation}"))


class YooKassaGateway(Gateway):
    name = "yookassa"
    label = _("Card (YooKassa)")
    default_currencies = frozenset({"RUB"})
    supports_saved_methods = True
    required_options = ("shop_id", "secret_key")

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.shop_id = str(self.options.get("shop_id") or "").strip()
        self.secret_key = str(self.options.get("secret_key") or "").strip()
        self.base_url = str(self.options.get("base_url") or BASE_URL).rstrip("/")

    # The API -----------------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, json_body: dict | None = None, key: str = ""):
        headers = {"Accept": "application/json"}
        if key:
            headers["Idempotence-Key"] = key
        response = self.http(
            method,
            f"{self.base_url}/v3/{path}",
            auth=(self.shop_id, self.secret_key),
            json=json_body,
            headers=headers,
        )
        answer = loads_object(response.content, what="YooKassa's answer")
        if response.status_code >= 400:
            code = str(answer.get("code") or "rejected")
            description = str(answer.get("description") or f"HTTP {response.status_code}")
            raise GatewayError(
                "auth_failed" if response.status_code in (401, 403) else code,
                f"yookassa: {description}",
            )
        if response.status_code != 200:
            raise GatewayError("bad_response", f"yookassa: HTTP {response.status_code}")
        return answer

    def get_payment(self, gateway_ref: str) -> dict[str, Any]:
        return self._call("GET", f"payments/{quote(gateway_ref, safe='')}")

    def _create(self, order: PaymentOrder, extra: Mapping[str, Any], operation: str) -> dict:
        self.check_order(order)
        body = {
            "amount": {
                "value": format_amount(order.amount, order.currency),
                "currency": order.currency,
            },
            "capture": True,
            "description": truncate(order.description, 128) or order.payment_id,
            "metadata": {"payment_id": order.payment_id},
            **extra,
        }
        return self._call(
            "POST", "payments", json_body=body, key=idempotence_key(order.payment_id, operation)
        )

    # Checkout ----------------------------------------------------------------------------------
    def checkout(self, order: PaymentOrder) -> Checkout:
        extra: dict[str, Any] = {
            "confirmation": {
                "type": "redirect",
                "return_url": order.return_url,
                "locale": LOCALES.get(order.language, "en_US"),
            }
        }
        if order.save_method:
            extra["save_payment_method"] = True
        payment = self._create(order, extra, "create")
        url = (payment.get("confirmation") or {}).get("confirmation_url")
        if not payment.get("id") or not url:
            raise GatewayError("bad_response", "YooKassa's payment has no confirmation_url")
        return Checkout(url=str(url), method="GET", gateway_ref=str(payment["id"]))

    # Webhooks ----------------------------------------------------------------------------------
    def parse_notification(
        self,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str],
        remote_addr: str | None,
    ) -> GatewayResult:
        if not is_content_type(content_type, "application/json"):
            raise GatewayError("malformed", "a YooKassa notification is JSON")
        notice = loads_object(body, what="the notification")
        event = str(notice.get("event") or "")
        obj = notice.get("object")
        if notice.get("type") != "notification" or not isinstance(obj, dict):
            raise GatewayError("malformed", "not a YooKassa notification")
        if not event.startswith("payment."):
            raise NotSupported("not_a_payment", f"event {event!r} is not about a payment")
        object_id = str(obj.get("id") or "").strip()
        if not object_id:
            raise GatewayError("malformed", "the notification names no payment")
        self.check_source(remote_addr)
        # Unsigned: trust only what the API says about this id.
        payment = self.get_payment(object_id)
        if str(payment.get("id")) != object_id:
            raise GatewayError("reference_mismatch", "YooKassa answered about another payment")
        if payment.get("status") != event.removeprefix("payment."):
            logger.info(
                "yookassa %s: notification says %s, the API says %s",
                object_id,
                event,
                payment.get("status"),
            )
        return self._result(payment)

    def _result(self, payment: Mapping[str, Any]) -> GatewayResult:
        ref = str(payment.get("id") or "")
        status = str(payment.get("status") or "")
        our_id = str((payment.get("metadata") or {}).get("payment_id") or "")
        if not ref or not status:
            raise GatewayError("bad_response", "YooKassa's payment lacks id or status")
        if not our_id:
            raise NotSupported("not_ours", f"YooKassa payment {ref} was not made by civicdesk")
        if status == "canceled":
            reason = str((payment.get("cancellation_details") or {}).get("reason") or "")
            outcome = "cancelled" if reason in CANCELLED_REASONS else "failed"
        elif status in STATUS_OUTCOMES:
            outcome = STATUS_OUTCOMES[status]
        else:
            logger.warning("yookassa payment %s has unknown status %r", ref, status)
            outcome = "pending"
        amount = payment.get("amount") or {}
        method = payment.get("payment_method") or {}
        card = method.get("card") or {}
        label = str(method.get("title") or "").strip()
        if not label and card.get("last4"):
            label = f"{card.get('card_type') or ''} *{card['last4']}".strip()
        return GatewayResult(
            payment_id=our_id,
            outcome=outcome,
            amount=parse_amount(amount["value"]) if amount.get("value") is not None else None,
            currency=str(amount.get("currency") or "") or None,
            gateway_ref=ref,
            event_id=f"{ref}:payment.{status}",
            method_token=str(method["id"]) if method.get("saved") and method.get("id") else None,
            method_label=label,
            raw=json_safe(dict(payment)),
        )

    # The reconciler and one-click payments ---------------------------------------------------
    def fetch(self, payment_id: str, gateway_ref: str) -> GatewayResult:
        if not gateway_ref:
            raise NotSupported("no_reference", "no YooKassa payment was created for this one")
        result = self._result(self.get_payment(gateway_ref))
        if result.payment_id != payment_id:
            raise GatewayError("reference_mismatch", "the YooKassa payment is for another order")
        return result

    def charge_saved(self, order: PaymentOrder) -> GatewayResult:
        if not order.saved_method_token:
            raise GatewayError("no_method", "the order names no saved method")
        payment = self._create(
            order, {"payment_method_id": order.saved_method_token}, "charge_saved"
        )
        return self._result(payment)
