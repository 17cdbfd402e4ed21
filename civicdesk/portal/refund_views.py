"""Resident pages for refunds: ask for a refund of an account's credit, see one's requests and
cancel one before it is paid out. The rules are the ledger's (civicdesk.ledger.refunds)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from civicdesk.cases.models import Channel
from civicdesk.core.forms import apply_validation_error
from civicdesk.ledger import postings, refund_selectors, refunds
from civicdesk.ledger.services import credit_available
from civicdesk.portal.refund_forms import CancelForm, RefundForm
from civicdesk.registry.selectors import account_for_user, accounts_for_user, operator_get


def _operator():
    operator = operator_get()
    if operator is None:
        raise Http404
    return operator


def _decimal(amount_minor: int, currency: str):
    return postings.money(amount_minor, currency)


@login_required
@require_http_methods(["GET", "POST"])
def refund_new(request: HttpRequest, number: str) -> HttpResponse:
    account = account_for_user(request.user, number)
    operator = _operator()
    currency = operator.currency.upper()
    available = credit_available(account)
    form = RefundForm(
        request.POST or None,
        jurisdiction=operator.jurisdiction,
        currency=currency,
        initial={"holder": request.user.full_name, "amount": _decimal(available, currency)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            refund = refunds.refund_request(
                account=account,
                requester=request.user,
                amount=form.cleaned_data["amount"],
                channel=Channel.PORTAL,
                **form.bank_details(),
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                _("We received your refund request %(reference)s. The amount is set aside.")
                % {"reference": refund.case.reference},
            )
            return redirect("portal:refunds")
    return render(
        request,
        "portal/refunds/new.html",
        {
            "account": account,
            "form": form,
            "available": _decimal(available, currency),
            "currency": currency,
            "has_credit": available > 0,
        },
        status=400 if form.errors else 200,
    )


@login_required
def refund_list(request: HttpRequest) -> HttpResponse:
    operator = operator_get()
    currency = operator.currency.upper() if operator else ""
    with_credit = []
    for account in accounts_for_user(request.user):
        available = credit_available(account)
        if available > 0:
            with_credit.append((account, _decimal(available, currency)))
    return render(
        request,
        "portal/refunds/list.html",
        {
            "refunds": refund_selectors.refunds_for_user(request.user),
            "with_credit": with_credit,
            "currency": currency,
            "open_statuses": refunds.OPEN,
        },
    )


@login_required
@require_POST
def refund_cancel(request: HttpRequest, refund_id) -> HttpResponse:
    refund = refund_selectors.refund_for_user(request.user, refund_id)
    form = CancelForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    try:
        refunds.refund_cancel(refund=refund, actor=request.user, reason=reason)
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
    else:
        messages.success(request, _("The refund is cancelled; the credit is back on your account."))
    return redirect("portal:refunds")
