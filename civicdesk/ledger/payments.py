"""Online payments: create a payment at a gateway, receive its notifications, settle it once, and
reconcile the payments whose outcome is unknown.

The life of a payment::

    created ──checkout──▶ (resident at the gateway) ──notification / return / reconciler──▶
        pending ─▶ succeeded | failed | cancelled      (final: never settled again)

Money moves only in :func:`payment_settle`, under a lock on the payment row: a succeeded
payment is posted once (debit the gateway's clearing account, credit the resident's receivable
and allocate), and its ``transaction`` link (one-to-one) is the database's last word on
"once". A notification is recorded as a :class:`PaymentEvent` whose ``(gateway, event_id)`` is
unique, so a replayed notification writes nothing but a "replayed" note and posts nothing.

An outcome whose amount or currency differs from the payment is never posted: the payment stays
pending, is marked for review (``failure_reason`` and an event with outcome ``review``) and the
reconciler leaves it alone; an officer sorts it out.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from civicdesk.ledger import postings
from civicdesk.ledger.gateways import gateway_get, gateways_available
from civicdesk.ledger.gateways.base import (
    Gateway,
    GatewayError,
    GatewayResult,
    NotSupported,
    PaymentOrder,
    SignatureError,
)
from civicdesk.ledger.models import LedgerAccount, Payment, PaymentEvent, SavedMethod
from civicdesk.ledger.services import money_to_minor, payment_post, system_account
from civicdesk.registry.models import PersonalAccount

logger = logging.getLogger("civicdesk.ledger.payments")

Status = Payment.Status
Kind = PaymentEvent.Kind

# What a gateway's outcome makes of a payment, and which moves are allowed: data, not code.
OUTCOME_STATUS: dict[str, str] = {
    "pending": Status.PENDING,
    "succeeded": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "cancelled": Status.CANCELLED,
}
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.CREATED: frozenset({Status.PENDING, Status.SUCCEEDED, Status.FAILED, Status.CANCELLED}),
    Status.PENDING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED}),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}
OPEN_STATUSES = (Status.CREATED, Status.PENDING)
# The most one payment may be, in minor units (far beyond any bill; keeps sums in 64 bits).
MAX_AMOUNT_MINOR = 10**12
# An event with this outcome marks a payment an officer must look at: nothing is posted for it
# and the reconciler leaves it alone.
REVIEW = "review"
# Where settlement came from (PaymentEvent payloads, logs).
SOURCES = frozenset({"notification", "return", "reconciler", "one_click", "staff"})

DEFAULT_EXPIRE_AFTER = dt.timedelta(hours=24)
# Pages showing an open payment ask its gateway at most this often (reloads).
ASK_AGAIN_AFTER = dt.timedelta(seconds=20)

ERRORS = {
    "amount_positive": _("The amount must be more than zero."),
    "amount_number": _("Give the amount as a number, e.g. 150.00."),
    "amount_large": _("The amount is too large: at most %(max)s can be paid at once."),
    "gateway_unknown": _("There is no payment gateway called “%(gateway)s”."),
    "gateway_off": _("Payments through %(gateway)s are not available at the moment."),
    "gateway_currency": _("%(gateway)s does not take payments in %(currency)s."),
    "gateway_down": _("The payment gateway did not answer. Nothing was charged; try again later."),
    "account_closed": _("Account %(number)s is closed and takes no more payments."),
    "saved_method": _("Choose one of your saved payment methods for this gateway."),
    "saved_unsupported": _("%(gateway)s cannot keep a payment method for next time."),
    "invoice_long": _("The invoice number is too long (at most %(max)d characters)."),
    "no_operator": _("Set up the operator before taking payments."),
}


# --- gateways -----------------------------------------------------------------------------


def operator_currency() -> str:
    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    if operator is None:
        raise ValidationError(ERRORS["no_operator"])
    return operator.currency.upper()


def available_gateways(currency: str | None = None) -> list[Gateway]:
    """The configured gateways (those taking ``currency`` when given), in the order to offer."""
    return gateways_available(currency)


def gateway_for(name: str) -> Gateway:
    """A configured gateway by name; ValidationError naming ``gateway`` otherwise."""
    name = (name or "").strip()
    try:
        return gateway_get(name)
    except GatewayError as exc:
        key = "gateway_off" if exc.code == "not_configured" else "gateway_unknown"
        raise ValidationError(
            {"gateway": ValidationError(ERRORS[key], params={"gateway": name[:40]})}
        ) from None


def _base_url(base_url: str) -> str:
    base = (
        base_url or getattr(settings, "PUBLIC_BASE_URL", "") or "http://127.0.0.1:8000/"
    ).strip()
    return base.rstrip("/")


def payment_urls(payment: Payment, base_url: str = "") -> dict[str, str]:
    """Absolute return, cancel and notification URLs for ``payment``."""
    base = _base_url(base_url)
    back = base + reverse("pay:return", kwargs={"payment_id": payment.id})
    return {
        "return_url": back,
        "cancel_url": back + "?cancelled=1",
        "notify_url": base + reverse("pay:notify", kwargs={"gateway": payment.gateway}),
    }


def _order(payment: Payment, *, base_url: str, language: str, token: str | None) -> PaymentOrder:
    exponent = postings.currency_exponent(payment.currency)
    with translation.override(language):
        description = gettext("Account %(number)s") % {"number": payment.account.number}
    email = getattr(payment.created_by, "email", "") or ""
    return PaymentOrder(
        payment_id=str(payment.id),
        amount=postings.from_minor(payment.amount_minor, exponent),
        currency=payment.currency,
        description=description,
        language=language,
        customer_email=email,
        saved_method_token=token,
        save_method=payment.save_method,
        **payment_urls(payment, base_url),
    )


def _event(payment: Payment, kind: str, *, outcome: str = "", event_id: str = "", **payload):
    return PaymentEvent.objects.create(
        payment=payment,
        kind=kind,
        gateway=payment.gateway,
        event_id=event_id or "",
        outcome=outcome,
        payload=payload,
    )


# --- create -------------------------------------------------------------------------------


def _amount_minor(amount, currency: str) -> int:
    if isinstance(amount, str):
        try:
            amount = Decimal(amount.strip())
        except InvalidOperation:
            raise ValidationError({"amount": ERRORS["amount_number"]}) from None
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise ValidationError({"amount": ERRORS["amount_number"]})
    amount = Decimal(amount)
    if not amount.is_finite():
        raise ValidationError({"amount": ERRORS["amount_number"]})
    if amount <= 0:
        raise ValidationError({"amount": ERRORS["amount_positive"]})
    minor = money_to_minor(amount, currency=currency, field="amount")
    if minor > MAX_AMOUNT_MINOR:
        exponent = postings.currency_exponent(currency)
        raise ValidationError(
            {
                "amount": ValidationError(
                    ERRORS["amount_large"],
                    params={"max": postings.from_minor(MAX_AMOUNT_MINOR, exponent)},
                )
            }
        )
    return minor


def payment_create(
    *,
    account: PersonalAccount,
    amount: Decimal,
    gateway: str,
    actor,
    channel: str,
    invoice: str = "",
    save_method: bool = False,
    saved_method: SavedMethod | str | None = None,
    language: str = "en",
    base_url: str = "",
) -> Payment:
    """Start paying ``amount`` (operator currency) into ``account`` through ``gateway``.

    Everything is checked before anything is written (a refusal is a ValidationError naming the
    field). The payment and its "created" event are committed, then the gateway's checkout is
    asked for (a network call, outside any lock) and stored on the payment. With
    ``saved_method`` the gateway charges it at once and the payment is settled by its answer.
    ``base_url`` ("https://host/") makes the return and notification URLs absolute.
    """
    currency = operator_currency()
    amount_minor = _amount_minor(amount, currency)
    gw = gateway_for(gateway)
    if not gw.supports_currency(currency):
        raise ValidationError(
            {
                "gateway": ValidationError(
                    ERRORS["gateway_currency"], params={"gateway": gw.label, "currency": currency}
                )
            }
        )
    if account.status == PersonalAccount.Status.CLOSED:
        raise ValidationError(
            {
                "account": ValidationError(
                    ERRORS["account_closed"], params={"number": account.number}
                )
            }
        )
    invoice = (invoice or "").strip()
    max_invoice = Payment._meta.get_field("invoice").max_length
    if len(invoice) > max_invoice:
        raise ValidationError(
            {"invoice": ValidationError(ERRORS["invoice_long"], params={"max": max_invoice})}
        )
    method = _saved_method(saved_method, actor=actor, gateway=gw) if saved_method else None
    if save_method and not method and not gw.supports_saved_methods:
        raise ValidationError(
            {
                "save_method": ValidationError(
                    ERRORS["saved_unsupported"], params={"gateway": gw.label}
                )
            }
        )
    if channel not in Payment.Channel.values:
        raise ValueError(f"unknown payment channel {channel!r}")

    with transaction.atomic():
        payment = Payment.objects.create(
            account=account,
            amount_minor=amount_minor,
            currency=currency,
            gateway=gw.name,
            channel=channel,
            invoice=invoice,
            created_by=actor if getattr(actor, "pk", None) else None,
            saved_method=method,
            save_method=bool(save_method) and method is None,
        )
        _event(payment, Kind.CREATED, channel=channel, amount_minor=amount_minor)

    order = _order(payment, base_url=base_url, language=language, token=method and method.token)
    if method is not None:
        return _charge_saved(payment, gw, order)
    try:
        checkout = gw.checkout(order)
    except GatewayError as exc:
        _give_up(payment, exc)
        raise ValidationError({"gateway": ERRORS["gateway_down"]}) from exc
    Payment.objects.filter(pk=payment.pk).update(
        checkout_url=checkout.url,
        checkout_method=(checkout.method or "GET").upper(),
        checkout_fields=dict(checkout.fields or {}),
        gateway_ref=checkout.gateway_ref or "",
        updated_at=timezone.now(),
    )
    payment.refresh_from_db()
    return payment


def _saved_method(value, *, actor, gateway: Gateway) -> SavedMethod:
    """The actor's own, live saved method for ``gateway``; anything else names the field."""
    if not gateway.supports_saved_methods:
        raise ValidationError(
            {
                "saved_method": ValidationError(
                    ERRORS["saved_unsupported"], params={"gateway": gateway.label}
                )
            }
        )
    pk = value.pk if isinstance(value, SavedMethod) else value
    try:
        pk = uuid.UUID(str(pk))
    except ValueError:
        pk = None
    method = (
        SavedMethod.objects.filter(
            pk=pk, user=actor, gateway=gateway.name, revoked_at__isnull=True
        ).first()
        if pk and getattr(actor, "pk", None)
        else None
    )
    if method is None:
        raise ValidationError({"saved_method": ERRORS["saved_method"]})
    return method


def _give_up(payment: Payment, exc: GatewayError) -> None:
    """The gateway refused or could not take the checkout: nothing was charged."""
    logger.warning("checkout of payment %s at %s failed: %r", payment.pk, payment.gateway, exc)
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.is_final:
            return
        locked.status = Status.FAILED
        locked.failure_reason = f"checkout: {exc.code}"[:300]
        locked.save(update_fields=["status", "failure_reason", "updated_at"])
        _event(locked, Kind.FAILED, outcome="failed", code=exc.code, stage="checkout")


def _charge_saved(payment: Payment, gw: Gateway, order: PaymentOrder) -> Payment:
    """One click: the gateway charges the saved method now; its answer settles the payment. A
    gateway that does not answer leaves the payment pending for the reconciler."""
    try:
        result = gw.charge_saved(order)
    except NotSupported as exc:
        _give_up(payment, exc)
        raise ValidationError(
            {
                "saved_method": ValidationError(
                    ERRORS["saved_unsupported"], params={"gateway": gw.label}
                )
            }
        ) from exc
    except GatewayError as exc:
        if not exc.retryable:
            _give_up(payment, exc)
            raise ValidationError({"gateway": ERRORS["gateway_down"]}) from exc
        logger.warning("one-click payment %s: no answer from %s: %r", payment.pk, gw.name, exc)
        with transaction.atomic():
            Payment.objects.filter(pk=payment.pk, status=Status.CREATED).update(
                status=Status.PENDING, updated_at=timezone.now()
            )
            _event(payment, Kind.FAILED, outcome="pending", code=exc.code, stage="one_click")
        payment.refresh_from_db()
        return payment
    return payment_settle(payment, result, source="one_click")


# --- notifications and settlement ---------------------------------------------------------


def _payment_for(gateway_name: str, result: GatewayResult) -> Payment | None:
    try:
        pk = uuid.UUID(str(result.payment_id))
    except (TypeError, ValueError):
        return None
    return Payment.objects.filter(pk=pk, gateway=gateway_name).first()


def notification_receive(
    gateway_name: str,
    body: bytes,
    content_type: str,
    headers: Mapping[str, str],
    remote_addr: str | None,
) -> tuple[Payment | None, tuple[int, str, str]]:
    """A gateway's server-to-server notification: verify it (the adapter's signature check),
    record it once (a replay of the same event posts nothing), then settle the payment.

    Returns (payment or None, the adapter's acknowledgement (status, body, content type)).
    Raises ValidationError for an unknown gateway, SignatureError for a notification that
    cannot be authenticated (answer 400, nothing written) and GatewayError when the gateway
    must send it again (the adapter could not confirm it).
    """
    gw = gateway_for(gateway_name)
    try:
        result = gw.parse_notification(body, content_type, headers, remote_addr)
    except SignatureError:
        logger.warning("%s notification refused: bad signature (from %s)", gw.name, remote_addr)
        raise
    except NotSupported as exc:
        logger.info("%s notification ignored: %r", gw.name, exc)
        return None, gw.notification_ack()
    payment = _payment_for(gw.name, result)
    if payment is None:
        logger.warning("%s notification for unknown payment %r ignored", gw.name, result.payment_id)
        return None, gw.notification_ack()
    with transaction.atomic():
        # Lock the payment before recording the event: every path takes the row lock first
        # (the reconciler too), so concurrent deliveries queue instead of deadlocking.
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if not _record_once(payment, result, Kind.NOTIFICATION):
            return payment, gw.notification_ack()
        payment = payment_settle(payment, result, source="notification")
    return payment, gw.notification_ack()


def _record_once(payment: Payment, result: GatewayResult, kind: str) -> bool:
    """Record the gateway event; False (and a "replayed" note) when it was seen before."""
    payload = {"gateway_ref": result.gateway_ref, "raw": result.raw}
    if result.event_id:
        try:
            with transaction.atomic():
                _event(payment, kind, outcome=result.outcome, event_id=result.event_id, **payload)
        except IntegrityError:
            logger.info(
                "%s event %s for payment %s seen before: ignored",
                payment.gateway,
                result.event_id,
                payment.pk,
            )
            _event(
                payment,
                Kind.REPLAYED,
                outcome=result.outcome,
                replayed_event=result.event_id,
                source=kind,
            )
            return False
        return True
    _event(payment, kind, outcome=result.outcome, **payload)
    return True


def _mismatch(payment: Payment, result: GatewayResult) -> str:
    """Why the gateway's amount or currency is not the payment's ("" when they agree)."""
    currency = (result.currency or "").upper()
    if currency != payment.currency:
        return f"currency {currency or '?'} instead of {payment.currency}"
    if result.amount is None:
        return "no amount"
    try:
        minor = postings.to_minor(result.amount, postings.currency_exponent(payment.currency))
    except postings.PostingError:
        return f"amount {result.amount} is not in whole minor units"
    if minor != payment.amount_minor:
        return f"amount {minor} instead of {payment.amount_minor} (minor units)"
    return ""


def _mark_for_review(payment: Payment, reason: str, *, source: str, result: GatewayResult):
    logger.error(
        "payment %s (%s) needs review, nothing posted: %s [%s]",
        payment.pk,
        payment.gateway,
        reason,
        source,
    )
    payment.failure_reason = reason[:300]
    fields = ["failure_reason", "updated_at"]
    if payment.status == Status.CREATED:
        payment.status = Status.PENDING
        fields.append("status")
    payment.save(update_fields=fields)
    _event(
        payment,
        Kind.FAILED,
        outcome=REVIEW,
        reason=reason,
        source=source,
        gateway_outcome=result.outcome,
        amount=None if result.amount is None else format(result.amount, "f"),
        currency=result.currency,
    )


def needs_review(payment: Payment) -> bool:
    return payment.events.filter(outcome=REVIEW).exists()


@transaction.atomic
def payment_settle(payment: Payment, result: GatewayResult, *, source: str) -> Payment:
    """Apply the gateway's verified ``result`` to ``payment``, under a lock on its row.

    A final payment is never touched again. A success whose amount or currency differs is not
    posted: the payment is marked for review. A success is posted exactly once, with the
    payment's id as the reference and its invoice allocated first; a method token is kept
    when the resident asked for it. The resident hears of a final outcome once it commits.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown settlement source {source!r}")
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("account", "created_by")
        .get(pk=payment.pk)
    )
    target = OUTCOME_STATUS[result.outcome]
    if payment.is_final:
        if target == Status.SUCCEEDED and payment.status != Status.SUCCEEDED:
            # The gateway says it took money for a payment we closed (a late success after a
            # failure or cancellation): never post automatically, tell an officer.
            _event(
                payment,
                Kind.FAILED,
                outcome=REVIEW,
                reason="late success",
                source=source,
                gateway_outcome=result.outcome,
            )
            logger.error(
                "payment %s is %s but %s says it succeeded: needs review",
                payment.pk,
                payment.status,
                payment.gateway,
            )
        return payment
    if needs_review(payment):
        return payment
    if result.gateway_ref and not payment.gateway_ref:
        payment.gateway_ref = result.gateway_ref[:200]
        payment.save(update_fields=["gateway_ref", "updated_at"])
    if target == Status.SUCCEEDED:
        reason = _mismatch(payment, result)
        if reason:
            _mark_for_review(payment, reason, source=source, result=result)
            return payment
        return _succeed(payment, result, source=source)
    if target == payment.status or target not in TRANSITIONS[payment.status]:
        return payment
    payment.status = target
    fields = ["status", "updated_at"]
    if target in Payment.FINAL:
        payment.settled_at = timezone.now()
        payment.failure_reason = str(result.raw.get("reason", ""))[:300] if result.raw else ""
        fields += ["settled_at", "failure_reason"]
    payment.save(update_fields=fields)
    if target in Payment.FINAL:
        _event(payment, Kind.FAILED, outcome=result.outcome, source=source)
        if target == Status.FAILED:
            _notify(payment, "payments/failed")
    return payment


def _succeed(payment: Payment, result: GatewayResult, *, source: str) -> Payment:
    clearing = system_account(
        LedgerAccount.Kind.GATEWAY_CLEARING, payment.currency, key=payment.gateway
    )
    try:
        with transaction.atomic():
            txn = payment_post(
                account=payment.account,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                value_date=timezone.localdate(),
                source=clearing,
                reference=str(payment.id),
                description=f"Online payment ({payment.gateway})",
                actor=payment.created_by,
                invoice=payment.invoice or None,
            )
    except ValidationError as exc:
        # E.g. the account's receivable was closed since: the money is at the gateway, so the
        # payment must not look failed; an officer places it.
        _mark_for_review(payment, "; ".join(exc.messages), source=source, result=result)
        return payment
    payment.status = Status.SUCCEEDED
    payment.transaction = txn
    payment.settled_at = timezone.now()
    payment.failure_reason = ""
    payment.save(
        update_fields=["status", "transaction", "settled_at", "failure_reason", "updated_at"]
    )
    _event(payment, Kind.SETTLED, outcome="succeeded", source=source, transaction=str(txn.pk))
    if result.method_token and payment.save_method and payment.created_by_id:
        _method_keep(payment, result)
    _notify(payment, "payments/succeeded")
    return payment


def _method_keep(payment: Payment, result: GatewayResult) -> None:
    method, created = SavedMethod.objects.get_or_create(
        gateway=payment.gateway,
        token=result.method_token[:200],
        defaults={"user": payment.created_by, "label": (result.method_label or "")[:100]},
    )
    if not created and method.user_id != payment.created_by_id:
        logger.error("gateway %s returned another user's method token", payment.gateway)
        return
    if method.revoked_at is not None:
        method.revoked_at = None
        method.save(update_fields=["revoked_at", "updated_at"])


def _notify(payment: Payment, key: str) -> None:
    """Tell the resident who paid, once the settlement commits (not staff paying for them)."""
    user = payment.created_by
    if user is None or user.is_staff:
        return
    from civicdesk.notifications.services import notify

    exponent = postings.currency_exponent(payment.currency)
    context = {
        "payment": payment,
        "number": payment.account.number,
        "amount": postings.from_minor(payment.amount_minor, exponent),
        "currency": payment.currency,
    }
    transaction.on_commit(lambda: notify(user, key, context), robust=True)


def saved_method_revoke(*, method: SavedMethod, actor) -> SavedMethod:
    """The resident removes a saved method; it can no longer be charged."""
    if method.user_id != getattr(actor, "pk", None):
        raise ValidationError({"saved_method": ERRORS["saved_method"]})
    if method.revoked_at is None:
        method.revoked_at = timezone.now()
        method.save(update_fields=["revoked_at", "updated_at"])
    return method


# --- asking the gateway -------------------------------------------------------------------


def expire_after() -> dt.timedelta:
    hours = getattr(settings, "PAYMENTS_EXPIRE_AFTER_HOURS", None)
    return dt.timedelta(hours=float(hours)) if hours else DEFAULT_EXPIRE_AFTER


def payment_check(payment: Payment, *, source: str = "reconciler", actor=None) -> Payment:
    """Ask the gateway once about an open payment and settle it by the answer.

    The call is made outside any lock; settlement then locks the row, so a notification
    arriving at the same moment cannot post twice. A gateway error leaves the payment as it
    is (counted in ``check_count``).

    Expiry: a payment is cancelled when the gateway says cancelled or failed, at any age. One
    older than ``PAYMENTS_EXPIRE_AFTER_HOURS`` (24 by default) is also cancelled when the
    gateway says it holds no payment for it at all (``pending`` with no gateway event: the
    resident never paid). A payment the gateway still calls pending stays open, however old:
    only the gateway can say the money did not come.
    """
    payment = Payment.objects.get(pk=payment.pk)
    if payment.is_final or needs_review(payment):
        return payment
    try:
        gw = gateway_for(payment.gateway)
    except ValidationError:
        logger.error("payment %s: gateway %s is not configured", payment.pk, payment.gateway)
        _checked(payment, outcome="error", code="not_configured", source=source, actor=actor)
        return payment
    try:
        result = gw.fetch(str(payment.id), payment.gateway_ref)
    except GatewayError as exc:
        logger.warning("asking %s about payment %s failed: %r", gw.name, payment.pk, exc)
        _checked(payment, outcome="error", code=exc.code, source=source, actor=actor)
        return Payment.objects.get(pk=payment.pk)
    expired = (
        result.outcome == "pending"
        and not result.event_id
        and timezone.now() - payment.created_at > expire_after()
    )
    if expired:
        logger.info("payment %s expired: %s holds no payment for it", payment.pk, gw.name)
        raw = {**(result.raw or {}), "reason": "expired: the gateway holds no payment for it"}
        result = replace(result, outcome="cancelled", raw=raw)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        _checked(payment, outcome=result.outcome, source=source, result=result, actor=actor)
        payment = payment_settle(
            payment, result, source=source if source in SOURCES else "reconciler"
        )
    return payment


@transaction.atomic
def payment_returned(payment: Payment, **details) -> Payment:
    """The resident came back from the gateway: note it, and a payment still "created" is now
    waiting for the gateway's answer. Nothing is settled here (a return proves nothing)."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    _event(payment, Kind.RETURNED, **details)
    if payment.status == Status.CREATED:
        payment.status = Status.PENDING
        payment.save(update_fields=["status", "updated_at"])
    return payment


def payment_refresh(payment: Payment, *, min_interval: dt.timedelta = ASK_AGAIN_AFTER) -> Payment:
    """For pages the resident reloads: ask the gateway about an open payment, unless it was
    asked within ``min_interval``."""
    payment = Payment.objects.get(pk=payment.pk)
    if payment.is_final:
        return payment
    if payment.checked_at and timezone.now() - payment.checked_at < min_interval:
        return payment
    return payment_check(payment, source="return")


def _checked(
    payment: Payment, *, outcome: str, source: str, code: str = "", result=None, actor=None
) -> None:
    """Count the question and record the answer. The answer's ``event_id`` is recorded unless
    a notification already brought the same state (a later notification of it is a replay)."""
    Payment.objects.filter(pk=payment.pk).update(
        check_count=F("check_count") + 1, checked_at=timezone.now()
    )
    payload = {"source": source}
    if code:
        payload["code"] = code
    if getattr(actor, "pk", None):
        payload["actor"] = actor.email
    if result is None:
        _event(payment, Kind.RECONCILED, outcome=outcome, **payload)
        return
    payload.update(gateway_ref=result.gateway_ref, raw=result.raw)
    if result.event_id:
        try:
            with transaction.atomic():
                _event(
                    payment, Kind.RECONCILED, outcome=outcome, event_id=result.event_id, **payload
                )
            return
        except IntegrityError:
            payload["seen_event"] = result.event_id
    _event(payment, Kind.RECONCILED, outcome=outcome, **payload)


def payments_to_reconcile(*, older_than: dt.timedelta, limit: int):
    cutoff = timezone.now() - older_than
    review = PaymentEvent.objects.filter(payment=OuterRef("pk"), outcome=REVIEW)
    return (
        Payment.objects.filter(status__in=OPEN_STATUSES, created_at__lte=cutoff)
        .filter(Q(checked_at__isnull=True) | Q(checked_at__lte=cutoff))
        .exclude(Exists(review))
        .order_by("checked_at", "created_at")[:limit]
    )


def payments_reconcile(
    *, older_than: dt.timedelta = dt.timedelta(minutes=15), limit: int = 500
) -> int:
    """Ask the gateways about open payments older than ``older_than`` (not asked within that
    time either) and settle them by the answers. Returns how many became final."""
    settled = 0
    for payment in list(payments_to_reconcile(older_than=older_than, limit=limit)):
        try:
            checked = payment_check(payment)
        except Exception:  # one bad payment must not stop the rest
            logger.exception("reconciling payment %s failed", payment.pk)
            continue
        settled += checked.is_final
    return settled
