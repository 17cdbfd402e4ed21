"""Back-office pages for online payments: the list with filters, one payment with its events,
and "ask the gateway now" for a payment whose outcome is unknown (the revenue team)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from civicdesk.core.decorators import staff_required
from civicdesk.ledger import payment_selectors, payments, postings
from civicdesk.ledger.gateways import GATEWAY_NAMES
from civicdesk.ledger.models import Payment
from civicdesk.ledger.payment_selectors import (
    PAYMENTS_READ_PERMISSION,
    PaymentFilters,
    can_work,
)

PAGE_SIZE = 50


class PaymentFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    gateway = forms.ChoiceField(label=gettext_lazy("Gateway"), required=False)
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    account = forms.CharField(label=gettext_lazy("Account number"), max_length=40, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            ("", gettext_lazy("All")),
            ("open", gettext_lazy("Open (created or waiting)")),
            (payment_selectors.REVIEW_FILTER, gettext_lazy("Needs review")),
            *Payment.Status.choices,
        ]
        names = sorted(set(GATEWAY_NAMES) | set(payment_selectors.gateway_names_used()))
        self.fields["gateway"].choices = [("", gettext_lazy("All")), *[(n, n) for n in names]]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> PaymentFilters:
        if not self.is_valid():
            return PaymentFilters()
        data = self.cleaned_data
        return PaymentFilters(
            status=data.get("status") or "",
            gateway=data.get("gateway") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            account=(data.get("account") or "").strip(),
        )


def _amount(payment: Payment):
    return postings.money(payment.amount_minor, payment.currency)


@staff_required
@permission_required(PAYMENTS_READ_PERMISSION, raise_exception=True)
def payment_list(request: HttpRequest) -> HttpResponse:
    form = PaymentFilterForm(request.GET or None)
    page = Paginator(payment_selectors.payments_for_staff(form.filters()), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "backoffice/payments/list.html",
        {
            "form": form,
            "page": page,
            "rows": [(payment, _amount(payment)) for payment in page],
            "query": query.urlencode(),
        },
    )


@staff_required
@permission_required(PAYMENTS_READ_PERMISSION, raise_exception=True)
def payment_detail(request: HttpRequest, payment_id) -> HttpResponse:
    payment = payment_selectors.payment_by_id(payment_id)
    return render(
        request,
        "backoffice/payments/detail.html",
        {
            "payment": payment,
            "amount": _amount(payment),
            "events": payment_selectors.payment_events(payment),
            "can_reconcile": can_work(request.user)
            and not payment.is_final
            and not payment.needs_review,
        },
    )


@staff_required
@require_POST
def payment_reconcile(request: HttpRequest, payment_id) -> HttpResponse:
    """Ask the gateway now about one open payment and settle it by the answer."""
    if not can_work(request.user):
        raise PermissionDenied("revenue team only")
    payment = payment_selectors.payment_by_id(payment_id)
    if payment.is_final:
        messages.info(request, _("This payment is already settled."))
        return redirect("backoffice:payment", payment_id=payment.pk)
    checked = payments.payment_check(payment, source="staff", actor=request.user)
    if checked.is_final:
        messages.success(
            request,
            _("The gateway answered: %(status)s.") % {"status": checked.get_status_display()},
        )
    else:
        messages.info(
            request,
            _("The payment is still open (%(status)s); the gateway gave no final answer yet.")
            % {"status": checked.get_status_display()},
        )
    return redirect("backoffice:payment", payment_id=payment.pk)
