"""The built-in sandbox gateway: a hosted "bank" page inside civicdesk, for development, tests
and demonstrations. It behaves like the real gateways so the same code paths run:

- ``checkout`` records a pending charge and sends the resident to ``/pay/sandbox/<ref>/``;
- the page calls :func:`sandbox_decide` with the resident's choice: ``success``, ``failure``,
  ``cancel`` or ``timeout``. Every choice but ``timeout`` returns the result to deliver as a
  notification (build it with :func:`sandbox_notification`); ``timeout`` means the bank took
  the money but the notification was lost, so only ``fetch`` (the reconciler) can reveal it;
- notifications are JSON signed with HMAC-SHA256 over the raw body, hex, in the header
  ``X-Sandbox-Signature`` (secret: ``PAYMENT_GATEWAYS["sandbox"]["secret"]``);
- a success with ``save_method`` returns a ``method_token`` ``sbx_tok_<random>``; ``charge_saved``
  with a token the sandbox issued succeeds at once, and a token ending in the configured
  ``decline_marker`` (default ``_decline``) is declined, for tests.

State lives behind :class:`SandboxStore` (get/create/update/token_known): the ORM-backed
:class:`OrmSandboxStore` keeps it in ``ledger.SandboxCharge``; tests use
:class:`MemorySandboxStore`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from django.utils.translation import gettext_lazy as _

from civicdesk.ledger.gateways.base import (
    Checkout,
    Gateway,
    GatewayError,
    GatewayResult,
    PaymentOrder,
    SignatureError,
    header,
    is_content_type,
    loads_object,
    logger,
    truncate,
)
from civicdesk.ledger.postings import currency_exponent, from_minor, to_minor

SIGNATURE_HEADER = "X-Sandbox-Signature"
TOKEN_PREFIX = "sbx_tok_"
DEFAULT_DECLINE_MARKER = "_decline"
DEFAULT_PAGE_URL = "/pay/sandbox/{ref}/"
DEFAULT_CURRENCIES = frozenset({"ZAR", "UAH", "RUB", "EUR", "USD"})

Decision = Literal["success", "failure", "cancel", "timeout"]
# What each decision leaves on the charge: (status, deliver_notification).
DECISIONS: dict[str, tuple[str, bool]] = {
    "success": ("succeeded", True),
    "failure": ("failed", True),
    "cancel": ("cancelled", True),
    "timeout": ("succeeded", False),
}


@dataclass(frozen=True)
class SandboxRecord:
    """One sandbox charge, as the store keeps it (fields of ``ledger.SandboxCharge``)."""

    id: str
    payment_id: str
    amount_minor: int
    currency: str
    status: str = "pending"
    deliver_notification: bool = True
    save_method: bool = False
    method_token: str = ""
    description: str = ""
    return_url: str = ""
    cancel_url: str = ""
    notify_url: str = ""
    created_at: datetime | None = None
    decided_at: datetime | None = None


class SandboxStore(Protocol):
    def get(self, ref: str) -> SandboxRecord | None:
        """The charge, or None when there is none with this reference."""

    def create(self, record: SandboxRecord) -> SandboxRecord: ...

    def update(self, ref: str, *, expect_status: str, **fields: Any) -> SandboxRecord | None:
        """Change the charge only if its status is still ``expect_status`` (compare-and-set);
        None when it was not (somebody decided first) or does not exist."""

    def token_known(self, token: str) -> bool:
        """Whether a succeeded charge issued this method token."""


class MemorySandboxStore:
    """A store in a dict, for tests."""

    def __init__(self) -> None:
        self.records: dict[str, SandboxRecord] = {}
        self._lock = threading.Lock()

    def get(self, ref: str) -> SandboxRecord | None:
        return self.records.get(str(ref))

    def create(self, record: SandboxRecord) -> SandboxRecord:
        with self._lock:
            self.records[record.id] = record
        return record

    def update(self, ref: str, *, expect_status: str, **fields: Any) -> SandboxRecord | None:
        with self._lock:
            record = self.records.get(str(ref))
            if record is None or record.status != expect_status:
                return None
            self.records[record.id] = replace(record, **fields)
            return self.records[record.id]

    def token_known(self, token: str) -> bool:
        return any(
            r.method_token == token and r.status == "succeeded" for r in self.records.values()
        )


class OrmSandboxStore:
    """The store in ``ledger.SandboxCharge`` (imported lazily: this package has no ORM at import
    time, and the model may be created after it)."""

    FIELDS = tuple(SandboxRecord.__dataclass_fields__)

    @staticmethod
    def _model():
        from civicdesk.ledger.models import SandboxCharge

        return SandboxCharge

    def _record(self, row) -> SandboxRecord:
        values = {name: getattr(row, name) for name in self.FIELDS}
        values["id"] = str(row.pk)
        return SandboxRecord(**values)

    @staticmethod
    def _pk(ref: str) -> uuid.UUID | None:
        try:
            return uuid.UUID(str(ref))
        except ValueError:
            return None

    def get(self, ref: str) -> SandboxRecord | None:
        pk = self._pk(ref)
        row = self._model().objects.filter(pk=pk).first() if pk else None
        return self._record(row) if row else None

    def create(self, record: SandboxRecord) -> SandboxRecord:
        values = {name: getattr(record, name) for name in self.FIELDS if name != "id"}
        if values["created_at"] is None:
            values.pop("created_at")
        row = self._model().objects.create(pk=uuid.UUID(record.id), **values)
        return self._record(row)

    def update(self, ref: str, *, expect_status: str, **fields: Any) -> SandboxRecord | None:
        pk = self._pk(ref)
        if pk is None:
            return None
        changed = self._model().objects.filter(pk=pk, status=expect_status).update(**fields)
        return self.get(ref) if changed else None

    def token_known(self, token: str) -> bool:
        return (
            self._model().objects.filter(method_token=token, status="succeeded").exists()
            if token
            else False
        )


def sign_body(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SandboxGateway(Gateway):
    name = "sandbox"
    label = _("Test payment (sandbox)")
    default_currencies = DEFAULT_CURRENCIES
    supports_saved_methods = True

    def __init__(
        self, options: Mapping[str, Any] | None = None, *, store: SandboxStore | None = None
    ) -> None:
        super().__init__(options)
        self.secret = str(self.options.get("secret") or "")
        self.decline_marker = str(self.options.get("decline_marker") or DEFAULT_DECLINE_MARKER)
        self.page_url = str(self.options.get("page_url") or DEFAULT_PAGE_URL)
        self.store: SandboxStore = store if store is not None else OrmSandboxStore()

    @classmethod
    def is_configured(cls, options: Mapping[str, Any] | None) -> bool:
        options = options or {}
        return bool(options.get("enabled")) and bool(str(options.get("secret") or ""))

    # Signing -----------------------------------------------------------------------------------
    def sign(self, body: bytes) -> str:
        if not self.secret:
            raise GatewayError("misconfigured", "the sandbox gateway has no secret")
        return sign_body(body, self.secret)

    def notification(self, result: GatewayResult) -> tuple[bytes, dict[str, str]]:
        """The body and headers of the notification announcing ``result``."""
        body = json.dumps(
            {
                "type": "notification",
                "gateway_ref": result.gateway_ref,
                "payment_id": result.payment_id,
                "status": result.outcome,
                "amount_minor": to_minor(result.amount, currency_exponent(result.currency or "")),
                "currency": result.currency,
                "method_token": result.method_token or "",
                "event_id": result.event_id,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        return body, {"Content-Type": "application/json", SIGNATURE_HEADER: self.sign(body)}

    # Records and results -----------------------------------------------------------------------
    def _get(self, ref: str) -> SandboxRecord:
        record = self.store.get(ref)
        if record is None:
            raise GatewayError("unknown_charge", f"no sandbox charge {ref}")
        return record

    @staticmethod
    def result_of(record: SandboxRecord) -> GatewayResult:
        token = record.method_token if record.status == "succeeded" else ""
        return GatewayResult(
            payment_id=record.payment_id,
            outcome=record.status,  # the statuses are the four outcomes
            amount=from_minor(record.amount_minor, currency_exponent(record.currency)),
            currency=record.currency,
            gateway_ref=record.id,
            event_id=f"{record.id}:{record.status}",
            method_token=token or None,
            method_label=f"Sandbox ···{token[-4:]}" if token else "",
            raw={
                "gateway_ref": record.id,
                "status": record.status,
                "amount_minor": record.amount_minor,
                "currency": record.currency,
                "delivered": record.deliver_notification,
            },
        )

    # The interface -----------------------------------------------------------------------------
    def checkout(self, order: PaymentOrder) -> Checkout:
        self.check_order(order, absolute_urls=False)
        ref = str(uuid.uuid4())
        self.store.create(
            SandboxRecord(
                id=ref,
                payment_id=order.payment_id,
                amount_minor=to_minor(order.amount, currency_exponent(order.currency)),
                currency=order.currency,
                save_method=order.save_method,
                description=truncate(order.description, 300),
                return_url=order.return_url,
                cancel_url=order.cancel_url,
                notify_url=order.notify_url,
                created_at=datetime.now(UTC),
            )
        )
        return Checkout(url=self.page_url.format(ref=ref), method="GET", gateway_ref=ref)

    def decide(self, ref: str, outcome: Decision) -> GatewayResult | None:
        """What the resident chose on the hosted page; the result to notify, None for timeout.

        Deciding again the same way answers the same again (a double click); deciding a charge
        another way than it was decided raises GatewayError("already_decided")."""
        if outcome not in DECISIONS:
            raise GatewayError("invalid_outcome", f"unknown sandbox outcome {outcome!r}")
        status, deliver = DECISIONS[outcome]
        record = self._get(ref)
        if record.status == "pending":
            token = ""
            if status == "succeeded" and record.save_method:
                token = TOKEN_PREFIX + secrets.token_hex(12)
            decided = self.store.update(
                ref,
                expect_status="pending",
                status=status,
                deliver_notification=deliver,
                method_token=token,
                decided_at=datetime.now(UTC),
            )
            record = decided or self._get(ref)  # None: decided meanwhile by another request
        if (record.status, record.deliver_notification) != (status, deliver):
            raise GatewayError("already_decided", f"sandbox charge {ref} is {record.status}")
        return self.result_of(record) if deliver else None

    def parse_notification(
        self,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str],
        remote_addr: str | None,
    ) -> GatewayResult:
        received = header(headers, SIGNATURE_HEADER).strip().lower()
        if not received:
            raise SignatureError("missing_signature", "the notification is not signed")
        if not hmac.compare_digest(received.encode(), self.sign(body).encode()):
            logger.warning("sandbox notification with a bad signature from %s", remote_addr)
            raise SignatureError("bad_signature", "the notification signature does not match")
        if not is_content_type(content_type, "application/json"):
            raise GatewayError("malformed", "a sandbox notification is JSON")
        notice = loads_object(body, what="the notification")
        try:
            currency = str(notice["currency"])
            amount_minor = notice["amount_minor"]
            if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
                raise TypeError("amount_minor")
            record = SandboxRecord(
                id=str(notice["gateway_ref"]),
                payment_id=str(notice["payment_id"]),
                amount_minor=amount_minor,
                currency=currency,
                status=str(notice["status"]),
                method_token=str(notice.get("method_token") or ""),
            )
            return self.result_of(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayError("malformed", "the notification lacks a field") from exc

    def fetch(self, payment_id: str, gateway_ref: str) -> GatewayResult:
        record = self._get(gateway_ref)
        if record.payment_id != payment_id:
            raise GatewayError("reference_mismatch", "the sandbox charge is for another payment")
        return self.result_of(record)

    def charge_saved(self, order: PaymentOrder) -> GatewayResult:
        token = order.saved_method_token or ""
        if not token:
            raise GatewayError("no_method", "the order names no saved method")
        self.check_order(order, absolute_urls=False)
        declined = token.endswith(self.decline_marker)
        if not declined and not self.store.token_known(token):
            raise GatewayError("unknown_method", "the sandbox never issued this method")
        now = datetime.now(UTC)
        record = self.store.create(
            SandboxRecord(
                id=str(uuid.uuid4()),
                payment_id=order.payment_id,
                amount_minor=to_minor(order.amount, currency_exponent(order.currency)),
                currency=order.currency,
                status="failed" if declined else "succeeded",
                deliver_notification=False,  # answered here and now, like a direct charge
                method_token="" if declined else token,
                description=truncate(order.description, 300),
                notify_url=order.notify_url,
                created_at=now,
                decided_at=now,
            )
        )
        return self.result_of(record)


# Module-level helpers for the pages and tests, on the configured sandbox gateway -------------
def _configured(gateway: SandboxGateway | None) -> SandboxGateway:
    if gateway is not None:
        return gateway
    from civicdesk.ledger.gateways import gateway_get

    found = gateway_get("sandbox")
    if not isinstance(found, SandboxGateway):  # pragma: no cover - the registry's wiring
        raise GatewayError("misconfigured", "the sandbox gateway is not the sandbox")
    return found


def sandbox_decide(
    gateway_ref: str, outcome: Decision, *, gateway: SandboxGateway | None = None
) -> GatewayResult | None:
    """The hosted page's decision; the result to deliver as a notification (None: timeout)."""
    return _configured(gateway).decide(gateway_ref, outcome)


def sandbox_sign(body: bytes, *, gateway: SandboxGateway | None = None) -> str:
    """The ``X-Sandbox-Signature`` value for a notification body."""
    return _configured(gateway).sign(body)


def sandbox_notification(
    result: GatewayResult, *, gateway: SandboxGateway | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of the signed notification announcing ``result``."""
    return _configured(gateway).notification(result)
