"""Resident pages for paying online: pay an account, go to the gateway, follow the payment, and
the list of one's payments. The rules live in civicdesk.ledger.payments."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from civicdesk.core.forms import apply_validation_error
from civicdesk.ledger import payment_selectors, payments, postings
from civicdesk.ledger.models import Payment
from civicdesk.ledger.selectors import account_summary
from civicdesk.portal.payments_forms import PayForm
from civicdesk.registry.selectors import account_for_user, operator_get

PAGE_SIZE = 20


def _currency() -> str:
    operator = operator_get()
    return operator.currency if operator else ""


def _amount(payment: Payment):
    return postings.money(payment.amount_minor, payment.currency)


@login_required
def pay(request: HttpRequest, number: str) -> HttpResponse:
    account = account_for_user(request.user, number)
    currency = _currency()
    summary = account_summary(account, currency=currency)
    gateways = payments.available_gateways(currency)
    methods = payment_selectors.saved_methods_for(request.user).filter(
        gateway__in=[g.name for g in gateways if g.supports_saved_methods]
    )
    initial = {"amount": format(summary.owed, "f")} if summary.balance_minor > 0 else {}
    form = PayForm(request.POST or None, gateways=gateways, methods=methods, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            payment = payments.payment_create(
                account=account,
                amount=data["amount"],
                gateway=data["gateway"],
                actor=request.user,
                channel=Payment.Channel.PORTAL,
                invoice=data.get("invoice", ""),
                save_method=data.get("save_method", False),
                saved_method=data.get("saved_method"),
                language=getattr(request, "LANGUAGE_CODE", "en"),
                base_url=request.build_absolute_uri("/"),
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            if payment.checkout_url and not payment.is_final:
                return redirect("portal:payment_go", payment_id=payment.pk)
            return redirect("portal:payment", payment_id=payment.pk)
    return render(
        request,
        "portal/payments/pay.html",
        {
            "account": account,
            "summary": summary,
            "form": form,
            "gateways": gateways,
            "methods": methods,
            "closed": account.status == account.Status.CLOSED,
        },
    )


@login_required
def payment_go(request: HttpRequest, payment_id) -> HttpResponse:
    """Off to the gateway: a redirect, or a form posted to it by the browser."""
    payment = payment_selectors.payment_for_user(request.user, payment_id)
    if payment.is_final or not payment.checkout_url:
        return redirect("portal:payment", payment_id=payment.pk)
    if payment.checkout_method == "POST":
        return render(
            request,
            "portal/payments/go.html",
            {"payment": payment, "fields": sorted((payment.checkout_fields or {}).items())},
        )
    return redirect(payment.checkout_url)


@login_required
def payment_detail(request: HttpRequest, payment_id) -> HttpResponse:
    payment = payment_selectors.payment_for_user(request.user, payment_id)
    payments.payment_refresh(payment)
    payment = payment_selectors.payment_for_user(request.user, payment_id)
    return render(
        request,
        "portal/payments/detail.html",
        {
            "payment": payment,
            "amount": _amount(payment),
            "summary": account_summary(payment.account, currency=payment.currency),
        },
    )


@login_required
def payment_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(payment_selectors.payments_for_user(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [(payment, _amount(payment)) for payment in page]
    return render(request, "portal/payments/list.html", {"page": page, "rows": rows})


@login_required
@require_POST
def saved_method_remove(request: HttpRequest, method_id) -> HttpResponse:
    method = payment_selectors.saved_methods_for(request.user).filter(pk=method_id).first()
    if method is None:
        raise Http404
    payments.saved_method_revoke(method=method, actor=request.user)
    messages.success(request, _("The saved card is removed."))
    back = request.POST.get("account", "")
    if back and account_for_user(request.user, back):
        return redirect("portal:pay", number=back)
    return redirect("portal:payments")
