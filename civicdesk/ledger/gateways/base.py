"""The payment gateway interface: plain dataclasses in and out, no ORM access.

A gateway adapter turns a :class:`PaymentOrder` into a :class:`Checkout` (where to send the
resident), turns the gateway's server-to-server notification into a verified
:class:`GatewayResult`, asks the gateway for the current state of a payment (``fetch``, for the
reconciler) and, where the gateway keeps card tokens, charges a saved method.

The adapters never decide what a result means for the ledger: the payment services compare the
amount and currency with the payment, detect replays by ``event_id`` and post the money.

Errors:
- :class:`GatewayError` carries a stable ``code`` and ``retryable`` (network failures, 5xx and
  429 answers are retryable; a rejected request or a malformed answer is not);
- :class:`SignatureError` is a notification that cannot be authenticated (missing, forged or
  tampered signature, wrong merchant, not confirmed by the gateway): answer 400 and drop it;
- :class:`NotSupported` is something this gateway cannot do (charge a saved method, look a
  payment up without its reference, an event about something other than a payment): a
  notification that raises it should still be acknowledged so the gateway stops resending it.
Both are subclasses of GatewayError, so catch them before it.
"""

from __future__ import annotations

import abc
import ipaddress
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

import requests

from civicdesk.ledger.postings import PostingError, currency_exponent, from_minor, to_minor

logger = logging.getLogger("civicdesk.ledger.gateways")

Outcome = Literal["succeeded", "failed", "pending", "cancelled"]
OUTCOMES: frozenset[str] = frozenset({"succeeded", "failed", "pending", "cancelled"})
DEFAULT_TIMEOUT = 15.0


# --- errors ---------------------------------------------------------------------------------
class GatewayError(Exception):
    """A gateway call or notification that could not be completed.

    ``code`` is stable (for logs, tests and the caller's decisions); ``retryable`` says whether
    trying again later may succeed (network failures, the gateway being down or throttling).
    """

    default_code = "gateway_error"

    def __init__(self, code: str = "", message: str = "", *, retryable: bool = False) -> None:
        self.code = code or self.default_code
        self.message = message or self.code
        self.retryable = retryable
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class SignatureError(GatewayError):
    """A notification whose origin cannot be proven: missing, forged or tampered signature."""

    default_code = "bad_signature"


class NotSupported(GatewayError):
    """The gateway cannot do this (or this notification is not about a payment of ours)."""

    default_code = "not_supported"


# --- the data passed in and out ---------------------------------------------------------------
@dataclass(frozen=True)
class PaymentOrder:
    """What to charge. ``payment_id`` is civicdesk's payment id (sent to the gateway as its order
    reference); URLs must be absolute for the real gateways."""

    payment_id: str
    amount: Decimal
    currency: str
    description: str
    return_url: str
    cancel_url: str
    notify_url: str
    language: str = "en"
    customer_email: str = ""
    saved_method_token: str | None = None
    save_method: bool = False

    def __post_init__(self) -> None:
        if not self.payment_id:
            raise ValueError("payment_id is required")
        if isinstance(self.amount, float | bool) or not isinstance(self.amount, Decimal):
            raise ValueError("amount must be a Decimal, never a float")
        if not self.amount.is_finite() or self.amount <= 0:
            raise ValueError("amount must be a positive finite Decimal")
        if not (len(self.currency) == 3 and self.currency.isascii() and self.currency.isupper()):
            raise ValueError("currency must be an ISO 4217 code in capitals")


@dataclass(frozen=True)
class Checkout:
    """Where to send the resident. For ``method="POST"`` the page renders an auto-submitting
    form with ``fields`` (in this order); for GET it redirects to ``url``. ``gateway_ref`` is the
    gateway's id for the payment when it is known at checkout (YooKassa, sandbox), else ""."""

    url: str
    method: str = "GET"
    fields: dict[str, str] = field(default_factory=dict)
    gateway_ref: str = ""


@dataclass(frozen=True)
class GatewayResult:
    """A verified state of a payment at the gateway.

    ``amount``/``currency`` are what the gateway says was paid, for the caller to compare with
    the payment; ``event_id`` is stable for the same state of the same gateway payment, so a
    replayed notification (or a notification after the reconciler already saw that state) has
    the same ``event_id``; "" when there is no gateway payment yet. ``raw`` is JSON-safe.
    """

    payment_id: str
    outcome: Outcome
    amount: Decimal | None
    currency: str | None
    gateway_ref: str
    event_id: str
    method_token: str | None = None
    method_label: str = ""
    raw: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.amount is not None and not isinstance(self.amount, Decimal):
            raise ValueError("amount must be a Decimal")


# --- the interface ----------------------------------------------------------------------------
class Gateway(abc.ABC):
    """One payment gateway, built from its options in ``settings.PAYMENT_GATEWAYS[name]``."""

    name: ClassVar[str]
    label: ClassVar[Any]  # a lazily translated string
    default_currencies: ClassVar[frozenset[str]] = frozenset()
    supports_saved_methods: ClassVar[bool] = False
    required_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})
        currencies = self.options.get("currencies")
        self.currencies: frozenset[str] = (
            frozenset(c.strip().upper() for c in currencies if c.strip())
            if currencies
            else self.default_currencies
        )
        self.timeout = float(self.options.get("timeout") or DEFAULT_TIMEOUT)
        try:
            self.allowed_networks = [
                ipaddress.ip_network(str(n).strip(), strict=False)
                for n in self.options.get("allowed_networks") or ()
                if str(n).strip()
            ]
        except ValueError as exc:
            raise GatewayError("misconfigured", f"{self.name}: bad allowed_networks") from exc

    @classmethod
    def is_configured(cls, options: Mapping[str, Any] | None) -> bool:
        """Whether the options carry every credential the gateway needs."""
        options = options or {}
        return all(str(options.get(key) or "").strip() for key in cls.required_options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # The operations --------------------------------------------------------------------------
    @abc.abstractmethod
    def checkout(self, order: PaymentOrder) -> Checkout:
        """Start a payment; where to send the resident."""

    @abc.abstractmethod
    def parse_notification(
        self,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str],
        remote_addr: str | None,
    ) -> GatewayResult:
        """Verify a server-to-server notification and return the state it proves.

        Raises SignatureError when it cannot be authenticated, GatewayError when it is
        malformed or a confirming call to the gateway fails (``retryable`` then), NotSupported
        when it is about something other than one of our payments."""

    @abc.abstractmethod
    def fetch(self, payment_id: str, gateway_ref: str) -> GatewayResult:
        """Ask the gateway for the current state of a payment (the reconciler's call)."""

    def charge_saved(self, order: PaymentOrder) -> GatewayResult:
        """Charge ``order.saved_method_token`` without the resident present."""
        raise NotSupported("not_supported", f"{self.name} does not keep saved payment methods")

    def notification_ack(self) -> tuple[int, str, str]:
        """(status, body, content type) the gateway expects in answer to a notification."""
        return 200, "", "text/plain"

    # Helpers shared by the adapters ----------------------------------------------------------
    def supports_currency(self, currency: str) -> bool:
        return currency.upper() in self.currencies

    def check_order(self, order: PaymentOrder, *, absolute_urls: bool = True) -> None:
        """Refuse an order this gateway cannot take (currency, amount precision, URLs)."""
        if not self.supports_currency(order.currency):
            raise GatewayError(
                "currency_not_supported", f"{self.name} does not take {order.currency}"
            )
        format_amount(order.amount, order.currency)  # raises on too many decimals
        if absolute_urls:
            for name in ("return_url", "notify_url"):
                url = getattr(order, name)
                if not url.startswith(("https://", "http://")):
                    raise GatewayError("invalid_order", f"{name} must be an absolute URL")

    def check_source(self, remote_addr: str | None) -> None:
        """When ``allowed_networks`` is configured, the notification must come from one of them
        (behind a proxy, pass the client address the proxy vouches for)."""
        if not self.allowed_networks:
            return
        try:
            address = ipaddress.ip_address((remote_addr or "").strip())
        except ValueError:
            address = None
        if address is None or not any(address in net for net in self.allowed_networks):
            logger.warning("%s notification from untrusted address %s", self.name, remote_addr)
            raise SignatureError("untrusted_source", "notification from an untrusted address")

    def http(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return http_call(method, url, timeout=self.timeout, gateway=self.name, **kwargs)


# --- money ------------------------------------------------------------------------------------
def format_amount(amount: Decimal, currency: str) -> str:
    """The amount with exactly the currency's decimals ("100.00"): the three gateways document
    amounts as decimal numbers with two places. Never rounds: more decimals is an error."""
    exponent = currency_exponent(currency)
    try:
        minor = to_minor(amount, exponent)
    except PostingError as exc:
        raise GatewayError("invalid_amount", str(exc)) from exc
    return format(from_minor(minor, exponent), "f")


def parse_amount(value: object) -> Decimal:
    """An amount from a gateway: a decimal string, an int or a Decimal (JSON parsed with
    ``parse_float=Decimal``); floats are refused so no binary rounding can creep in."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise GatewayError("bad_response", f"amount {value!r} is not a decimal number")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise GatewayError("bad_response", f"amount {value!r} is not a decimal number") from exc
    if not amount.is_finite():
        raise GatewayError("bad_response", f"amount {value!r} is not finite")
    return amount


# --- HTTP and JSON ----------------------------------------------------------------------------
def http_call(
    method: str, url: str, *, timeout: float, gateway: str, **kwargs: Any
) -> requests.Response:
    """One HTTP call to a gateway. Network failures, timeouts, 429 and 5xx answers raise a
    retryable GatewayError; redirects are not followed (a redirect is not an API answer)."""
    try:
        response = requests.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.Timeout as exc:
        raise GatewayError(
            "timeout", f"{gateway}: no answer in {timeout}s", retryable=True
        ) from exc
    except requests.RequestException as exc:
        raise GatewayError("network", f"{gateway}: {type(exc).__name__}", retryable=True) from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise GatewayError("unavailable", f"{gateway}: HTTP {response.status_code}", retryable=True)
    return response


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not a number")


def loads_object(data: bytes | str, *, what: str = "answer") -> dict[str, Any]:
    """A JSON object with decimals as Decimal; anything else is a malformed answer."""
    try:
        parsed = json.loads(data, parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError("bad_response", f"{what} is not JSON") from exc
    if not isinstance(parsed, dict):
        raise GatewayError("bad_response", f"{what} is not a JSON object")
    return parsed


def json_safe(value: Any) -> Any:
    """``value`` with Decimals as strings, for a JSONField."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value whatever the case of its name ("" when absent)."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return ""


def is_content_type(content_type: str, *expected: str) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() in expected


def truncate(text: str, limit: int) -> str:
    """Whitespace collapsed and cut to ``limit`` characters (gateways cap description lengths)."""
    return " ".join((text or "").split())[:limit].rstrip()
