"""Payment pages outside the portal, mounted at /pay/: gateways' notifications, the resident's
return from a gateway, and the built-in sandbox gateway's hosted page."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from civicdesk.ledger import payment_selectors, payments
from civicdesk.ledger.gateways import GatewayError, SignatureError
from civicdesk.ledger.gateways.sandbox import (
    SandboxGateway,
    sandbox_decide,
    sandbox_notification,
)
from civicdesk.ledger.models import Payment, SandboxCharge
from civicdesk.ledger.selectors import account_summary
from civicdesk.registry.selectors import accounts_for_user

logger = logging.getLogger("civicdesk.ledger.payments")

SANDBOX_CHOICES = ("success", "failure", "timeout", "cancel")


@csrf_exempt
@require_POST
def notify(request: HttpRequest, gateway: str) -> HttpResponse:
    """A gateway's server-to-server notification. 400 for one that cannot be authenticated or
    parsed (nothing is written), 503 when the gateway should send it again."""
    try:
        _payment, (status, body, content_type) = payments.notification_receive(
            gateway,
            request.body,
            request.META.get("CONTENT_TYPE", ""),
            request.headers,
            request.META.get("REMOTE_ADDR"),
        )
    except ValidationError:
        raise Http404 from None  # no such gateway, or not configured here
    except SignatureError:
        return HttpResponseBadRequest("bad signature", content_type="text/plain")
    except GatewayError as exc:
        if exc.retryable:
            return HttpResponse("try again", status=503, content_type="text/plain")
        logger.warning("%s notification refused: %r", gateway, exc)
        return HttpResponseBadRequest("malformed notification", content_type="text/plain")
    return HttpResponse(body, status=status, content_type=content_type or "text/plain")


@require_http_methods(["GET", "POST"])
@csrf_exempt  # some gateways return by POSTing a form; the page only reads
def return_view(request: HttpRequest, payment_id) -> HttpResponse:
    """Where the gateway sends the resident back. It shows the payment's status (asking the
    gateway once while it is still open); the account's balance only to a linked resident."""
    payment = payment_selectors.payment_by_id(payment_id)
    payments.payment_returned(
        payment, cancelled="cancelled" in request.GET, timeout="timeout" in request.GET
    )
    # The sandbox's "timeout" sends the resident back with no news at all, as a lost answer
    # would: the page says pending and leaves the question to the reconciler.
    if "timeout" not in request.GET:
        payment = payments.payment_refresh(payment)
    payment = payment_selectors.payment_by_id(payment.pk)
    summary = None
    if (
        request.user.is_authenticated
        and accounts_for_user(request.user).filter(pk=payment.account_id).exists()
    ):
        summary = account_summary(payment.account, currency=payment.currency)
    return render(
        request,
        "ledger/pay/return.html",
        {
            "payment": payment,
            "summary": summary,
            "amount": payment_amount(payment),
            "cancelled": "cancelled" in request.GET,
        },
    )


def payment_amount(payment: Payment):
    from civicdesk.ledger import postings

    return postings.money(payment.amount_minor, payment.currency)


def _sandbox() -> SandboxGateway:
    try:
        gateway = payments.gateway_for("sandbox")
    except ValidationError:
        raise Http404 from None
    if not isinstance(gateway, SandboxGateway):  # pragma: no cover - registry wiring
        raise Http404
    return gateway


def _local(url: str, extra_query: str = "") -> str:
    """The path (and query) of one of our own URLs: the sandbox lives inside civicdesk, so it
    sends the resident back on this site whatever host the stored URL names."""
    parts = urlsplit(url or "/")
    query = "&".join(q for q in (parts.query, extra_query) if q)
    return (parts.path or "/") + (f"?{query}" if query else "")


@require_http_methods(["GET", "POST"])
def sandbox_page(request: HttpRequest, gateway_ref) -> HttpResponse:
    """The sandbox "bank": the amount, the merchant and the resident's choice. Success, failure
    and cancel send the signed notification through the same path a real gateway's takes, then
    the resident back; timeout takes the money but loses the notification."""
    gateway = _sandbox()
    record = gateway.store.get(str(gateway_ref))
    if record is None:
        raise Http404
    payment = Payment.objects.filter(pk=record.payment_id).select_related("account").first()
    if request.method == "POST" and record.status == "pending":
        choice = request.POST.get("outcome", "")
        if choice not in SANDBOX_CHOICES:
            return HttpResponseBadRequest("unknown choice", content_type="text/plain")
        try:
            result = sandbox_decide(str(gateway_ref), choice, gateway=gateway)
        except GatewayError as exc:
            logger.info("sandbox decision refused: %r", exc)
            return redirect(request.path)
        if result is None:
            return redirect(_local(record.return_url, "timeout=1"))
        body, headers = sandbox_notification(result, gateway=gateway)
        try:
            payments.notification_receive(
                gateway.name, body, headers["Content-Type"], headers, "127.0.0.1"
            )
        except GatewayError:
            logger.exception("the sandbox could not deliver its own notification")
        target = record.cancel_url if choice == "cancel" else record.return_url
        return redirect(_local(target))
    return render(
        request,
        "ledger/pay/sandbox.html",
        {
            "record": record,
            "payment": payment,
            "amount": _record_amount(record),
            "status_label": dict(SandboxCharge.Status.choices).get(record.status, record.status),
        },
    )


def _record_amount(record):
    from civicdesk.ledger import postings

    return postings.money(record.amount_minor, record.currency)
