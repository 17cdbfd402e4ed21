"""Back-office pages for refunds (mounted at /staff/money/): the approvals queue (requests with
the amount, the credit available now, the approvals so far and who asked), each request with its
bank details and decisions, approve or reject with a note, the approved ones waiting for their
payout and "record payout". The rules are the ledger's (civicdesk.ledger.refunds)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from civicdesk.core.decorators import staff_required
from civicdesk.core.forms import apply_validation_error
from civicdesk.ledger import refund_selectors, refunds
from civicdesk.ledger.models import RefundRequest

VIEW = "ledger.view_refundrequest"
APPROVE = refunds.APPROVE_PERMISSION
PAY = refunds.PAY_PERMISSION
PAGE = 50


class DecisionForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note"),
        help_text=gettext_lazy("Required to reject: the resident receives it."),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class PayoutForm(forms.Form):
    payout_reference = forms.CharField(
        label=gettext_lazy("Bank transfer reference"),
        help_text=gettext_lazy("The reference of the transfer to the resident's bank account."),
        max_length=100,
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for cancelling"),
        help_text=gettext_lazy("The resident receives it; the credit returns to the account."),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _rows(queryset) -> list:
    rows = list(queryset)
    for refund in rows:
        refund.credit_now = refund_selectors.credit_minor(refund)
    return rows


@require_GET
@staff_required
@permission_required(VIEW, raise_exception=True)
def refund_queue(request: HttpRequest) -> HttpResponse:
    page = Paginator(refund_selectors.approval_queue(), PAGE).get_page(request.GET.get("page"))
    page.object_list = _rows(page.object_list)
    return render(
        request,
        "backoffice/refunds/queue.html",
        {
            "page": page,
            "payouts": _rows(refund_selectors.payout_queue()[:PAGE]),
            "can_approve": request.user.has_perm(APPROVE),
            "can_pay": request.user.has_perm(PAY),
        },
    )


def _actions(user, refund: RefundRequest) -> dict[str, bool]:
    """Which forms the page offers this user (the service decides in the end)."""
    voted = any(a.approver_id == user.pk for a in refund.approvals.all())
    decide = (
        refund.status == RefundRequest.Status.REQUESTED
        and user.has_perm(APPROVE)
        and refund.requester_id != user.pk
        and not voted
    )
    return {
        "decide": decide,
        "voted": voted,
        "own": refund.requester_id == user.pk,
        "pay": refund.status == RefundRequest.Status.APPROVED and user.has_perm(PAY),
        "cancel": refund.status in refunds.OPEN and user.has_perm(APPROVE),
    }


@require_http_methods(["GET", "POST"])
@staff_required
@permission_required(VIEW, raise_exception=True)
def refund_detail(request: HttpRequest, refund_id) -> HttpResponse:
    refund = refund_selectors.refund_get(refund_id)
    decision_form, payout_form, cancel_form = DecisionForm(), PayoutForm(), CancelForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        forms_by_action = {
            "approve": DecisionForm,
            "reject": DecisionForm,
            "payout": PayoutForm,
            "cancel": CancelForm,
        }
        if action not in forms_by_action:
            return HttpResponse(status=400)
        form = forms_by_action[action](request.POST)
        if action in ("approve", "reject"):
            decision_form = form
        elif action == "payout":
            payout_form = form
        else:
            cancel_form = form
        if form.is_valid():
            try:
                message = _perform(request, refund, action, form.cleaned_data)
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, message)
                return redirect("backoffice:refunds")
        status = 400
        refund = refund_selectors.refund_get(refund_id)
    return render(
        request,
        "backoffice/refunds/detail.html",
        {
            "refund": refund,
            "credit_now": refund_selectors.credit_minor(refund),
            "actions": _actions(request.user, refund),
            "decision_form": decision_form,
            "payout_form": payout_form,
            "cancel_form": cancel_form,
        },
        status=status,
    )


def _perform(request: HttpRequest, refund: RefundRequest, action: str, data: dict) -> str:
    user = request.user
    if action in ("approve", "reject"):
        refund = refunds.refund_decide(
            refund=refund, approver=user, decision=action, note=data.get("note", "")
        )
        if refund.status == RefundRequest.Status.APPROVED:
            return _("Approved: the refund waits for its payout.")
        if refund.status == RefundRequest.Status.REJECTED:
            return _("Rejected: the credit is back on the account.")
        return _("Your approval is recorded; another approver is needed.")
    if action == "payout":
        refunds.refund_pay(refund=refund, actor=user, payout_reference=data["payout_reference"])
        return _("The payout is recorded and the resident told.")
    refunds.refund_cancel(refund=refund, actor=user, reason=data["reason"])
    return _("Cancelled: the credit is back on the account.")
