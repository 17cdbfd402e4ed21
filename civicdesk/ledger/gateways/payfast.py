"""PayFast (South Africa): hosted payment page and ITN (Instant Transaction Notification).

Documented rules implemented here (PayFast developer docs "Custom integration" steps 1-4, the
"API" page, and PayFast's own PHP SDK ``payfast/payfast-php-sdk``: ``Auth.php``,
``PaymentIntegrations/Notification.php``, ``Request.php``):

- Checkout: an HTML form POSTed to ``<base>/eng/process`` with the fields in the order of the
  documented field list (merchant details, customer details, transaction details); the
  ``signature`` is the lower-case MD5 of the non-blank fields, trimmed and URL-encoded (upper-case
  hex, spaces as "+"), joined "name=value&...", in that order, plus "&passphrase=..." when a
  passphrase is set (:func:`checkout_signature`).
- ITN: PayFast POSTs the payment's fields (form-encoded) to ``notify_url``. Security checks, in
  order: the signature (MD5 over every posted field before ``signature``, blank ones included,
  URL-encoded, in the order received, plus the passphrase: :func:`itn_signature`); optionally the
  source address (``allowed_networks``; PayFast's addresses change, so it is configuration, not
  code); the server confirmation: POST the same parameter string (without the passphrase) to
  ``<base>/eng/query/validate``, which answers ``VALID``; the amount is returned for the caller to
  compare with the order (``amount_gross``). Answer the ITN with a plain HTTP 200.
- ``payment_status``: COMPLETE, FAILED, PENDING, CANCELLED.
- API (``fetch``): ``GET <api>/process/query/{pf_payment_id}`` with headers ``merchant-id``,
  ``version: v1``, ``timestamp`` (ISO-8601) and ``signature`` = MD5 of every header and parameter,
  plus the passphrase, sorted by name, URL-encoded (:func:`api_signature`); sandbox calls add
  ``?testing=true``. The API needs the passphrase, and finds a payment only by PayFast's own id.

"URL-encoded" is PHP's ``urlencode``: everything but letters, digits and ``-_.`` is %XX with
upper-case hex, and spaces are "+". Python's ``quote_plus`` differs only in leaving "~" alone.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

from django.utils.translation import gettext_lazy as _

from civicdesk.ledger.gateways.base import (
    Checkout,
    Gateway,
    GatewayError,
    GatewayResult,
    NotSupported,
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

LIVE_BASE_URL = "https://www.payfast.co.za"
SANDBOX_BASE_URL = "https://sandbox.payfast.co.za"
API_URL = "https://api.payfast.co.za"

# "Checkout page" field list, in the documented order the checkout signature follows.
CHECKOUT_FIELD_ORDER = (
    "merchant_id",
    "merchant_key",
    "return_url",
    "cancel_url",
    "notify_url",
    "name_first",
    "name_last",
    "email_address",
    "cell_number",
    "m_payment_id",
    "amount",
    "item_name",
    "item_description",
    "custom_int1",
    "custom_int2",
    "custom_int3",
    "custom_int4",
    "custom_int5",
    "custom_str1",
    "custom_str2",
    "custom_str3",
    "custom_str4",
    "custom_str5",
    "email_confirmation",
    "confirmation_address",
    "payment_method",
    "subscription_type",
    "billing_date",
    "recurring_amount",
    "frequency",
    "cycles",
)

# ITN "payment_status" values.
STATUS_OUTCOMES = {
    "COMPLETE": "succeeded",
    "FAILED": "failed",
    "PENDING": "pending",
    "CANCELLED": "cancelled",
}


def pf_urlencode(value: str) -> str:
    """PHP ``urlencode``: upper-case %XX, spaces as "+", only letters, digits and -_. kept."""
    return quote_plus(value, safe="").replace("~", "%7E")


def param_string(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{key}={pf_urlencode(value)}" for key, value in pairs)


def _with_passphrase(string: str, passphrase: str) -> str:
    passphrase = (passphrase or "").strip()
    return f"{string}&passphrase={pf_urlencode(passphrase)}" if passphrase else string


def checkout_signature(fields: Mapping[str, str], passphrase: str = "") -> str:
    """Checkout form signature: non-blank fields, trimmed, in the documented order."""
    ordered = [(key, str(fields[key]).strip()) for key in CHECKOUT_FIELD_ORDER if key in fields]
    pairs = [(key, value) for key, value in ordered if value]
    return hashlib.md5(  # noqa: S324 - PayFast's documented signature algorithm
        _with_passphrase(param_string(pairs), passphrase).encode()
    ).hexdigest()


def itn_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The posted fields the ITN signature covers: all of them, up to ``signature``."""
    covered = []
    for key, value in pairs:
        if key == "signature":
            break
        covered.append((key, value))
    return covered


def itn_signature(pairs: Iterable[tuple[str, str]], passphrase: str = "") -> str:
    """ITN signature: every posted field before ``signature`` (blank ones too), in order."""
    return hashlib.md5(  # noqa: S324 - PayFast's documented signature algorithm
        _with_passphrase(param_string(itn_pairs(pairs)), passphrase).encode()
    ).hexdigest()


def api_signature(values: Mapping[str, str], passphrase: str) -> str:
    """API signature: headers and parameters plus the passphrase, sorted by name, encoded."""
    data = {key: str(value) for key, value in values.items() if key != "signature"}
    if passphrase:
        data["passphrase"] = passphrase
    return hashlib.md5(  # noqa: S324 - PayFast's documented signature algorithm
        param_string(sorted(data.items())).encode()
    ).hexdigest()


class PayFastGateway(Gateway):
    name = "payfast"
    label = _("Card or EFT (PayFast)")
    default_currencies = frozenset({"ZAR"})
    supports_saved_methods = False  # tokenization needs the merchant account enabled for it
    required_options = ("merchant_id", "merchant_key")

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.merchant_id = str(self.options.get("merchant_id") or "").strip()
        self.merchant_key = str(self.options.get("merchant_key") or "").strip()
        self.passphrase = str(self.options.get("passphrase") or "").strip()
        self.base_url = str(self.options.get("base_url") or SANDBOX_BASE_URL).rstrip("/")
        self.api_url = str(self.options.get("api_url") or API_URL).rstrip("/")
        testing = self.options.get("testing")
        self.testing = "sandbox" in self.base_url if testing is None else bool(testing)

    # Checkout ----------------------------------------------------------------------------------
    def checkout(self, order: PaymentOrder) -> Checkout:
        self.check_order(order)
        fields = {
            "merchant_id": self.merchant_id,
            "merchant_key": self.merchant_key,
            "return_url": order.return_url,
            "cancel_url": order.cancel_url,
            "notify_url": order.notify_url,
            "email_address": order.customer_email,
            "m_payment_id": order.payment_id,
            "amount": format_amount(order.amount, order.currency),
            "item_name": truncate(order.description, 100) or order.payment_id,
        }
        # Blank fields are left out, and values are sent exactly as signed (trimmed).
        fields = {key: str(value).strip() for key, value in fields.items() if str(value).strip()}
        fields["signature"] = checkout_signature(fields, self.passphrase)
        return Checkout(url=f"{self.base_url}/eng/process", method="POST", fields=fields)

    # ITN -------------------------------------------------------------------------------------
    def parse_notification(
        self,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str],
        remote_addr: str | None,
    ) -> GatewayResult:
        if not is_content_type(content_type, "application/x-www-form-urlencoded"):
            raise GatewayError("malformed", "an ITN is form-encoded")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise GatewayError("malformed", "the ITN body is not a form") from exc
        data = dict(pairs)
        # Security check 1: the signature.
        received = data.get("signature", "").strip().lower()
        if not received:
            raise SignatureError("missing_signature", "the ITN has no signature")
        if not hmac.compare_digest(received, itn_signature(pairs, self.passphrase)):
            logger.warning("payfast ITN with a bad signature from %s", remote_addr)
            raise SignatureError("bad_signature", "the ITN signature does not match")
        if data.get("merchant_id", "") != self.merchant_id:
            raise SignatureError("wrong_merchant", "the ITN is for another merchant")
        # Security check 2: the source address, when configured.
        self.check_source(remote_addr)
        # Security check 4: PayFast confirms it sent this (the amount, check 3, is the caller's).
        self.validate_with_server(itn_pairs(pairs))
        return self._result(data)

    def validate_with_server(self, pairs: list[tuple[str, str]]) -> None:
        """POST the ITN's parameter string back to PayFast, which must answer VALID."""
        response = self.http(
            "POST",
            f"{self.base_url}/eng/query/validate",
            data=param_string(pairs),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        answer = response.text.strip()
        if response.status_code != 200:
            raise GatewayError("rejected", f"payfast validate: HTTP {response.status_code}")
        if answer != "VALID":
            logger.warning("payfast did not confirm an ITN: %r", answer[:40])
            raise SignatureError("not_confirmed", "PayFast did not confirm the ITN")

    def _result(self, data: Mapping[str, Any]) -> GatewayResult:
        status = str(data.get("payment_status", "")).strip().upper()
        pf_payment_id = str(data.get("pf_payment_id", "")).strip()
        payment_id = str(data.get("m_payment_id", "")).strip()
        if not pf_payment_id or not payment_id:
            raise GatewayError("bad_response", "pf_payment_id and m_payment_id are required")
        outcome = STATUS_OUTCOMES.get(status)
        if outcome is None:
            logger.warning("payfast payment %s has unknown status %r", pf_payment_id, status)
            outcome = "pending"
        amount = data.get("amount_gross")
        raw = {key: value for key, value in data.items() if key != "signature"}
        return GatewayResult(
            payment_id=payment_id,
            outcome=outcome,
            amount=parse_amount(amount) if amount not in (None, "") else None,
            currency="ZAR",
            gateway_ref=pf_payment_id,
            event_id=f"{pf_payment_id}:{status}",
            raw=json_safe(raw),
        )

    # API -------------------------------------------------------------------------------------
    def fetch(self, payment_id: str, gateway_ref: str) -> GatewayResult:
        if not gateway_ref:
            raise NotSupported("no_reference", "PayFast finds a payment only by its pf_payment_id")
        if not self.passphrase:
            raise NotSupported("no_passphrase", "PayFast's API needs the passphrase")
        headers = {
            "merchant-id": self.merchant_id,
            "version": "v1",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        headers["signature"] = api_signature(headers, self.passphrase)
        response = self.http(
            "GET",
            f"{self.api_url}/process/query/{quote(gateway_ref, safe='')}",
            params={"testing": "true"} if self.testing else None,
            headers={**headers, "Accept": "application/json"},
        )
        answer = loads_object(response.content, what="PayFast's query answer")
        if response.status_code != 200 or str(answer.get("status", "")).lower() != "success":
            raise GatewayError("rejected", f"payfast query: HTTP {response.status_code}")
        details = (answer.get("data") or {}).get("response")
        if not isinstance(details, dict):
            raise GatewayError("bad_response", "PayFast's query answer has no response")
        found = str(details.get("m_payment_id") or "").strip()
        if found and found != payment_id:
            raise GatewayError("reference_mismatch", "the PayFast payment is for another order")
        status = details.get("payment_status") or details.get("status") or ""
        return self._result(
            {
                **details,
                "payment_status": status,
                "pf_payment_id": str(details.get("pf_payment_id") or gateway_ref),
                "m_payment_id": payment_id,
            }
        )
