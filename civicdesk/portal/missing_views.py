"""Resident pages: report a payment that does not show, and follow one's reports. They call
the ledger's banking service and selectors; another resident's account or report is 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from civicdesk.cases.models import Channel
from civicdesk.core.forms import apply_validation_error
from civicdesk.ledger import banking, banking_selectors
from civicdesk.portal.missing_forms import MissingPaymentForm
from civicdesk.registry.selectors import account_for_user, operator_get


@require_http_methods(["GET", "POST"])
@login_required
def missing_new(request: HttpRequest, number: str) -> HttpResponse:
    account = account_for_user(request.user, number)
    form = MissingPaymentForm(request.POST or None, request.FILES or None)
    operator = operator_get()
    if operator is not None:
        form.fields["amount"].help_text = _("In %(currency)s, e.g. 350.00.") % {
            "currency": operator.currency
        }
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = banking.missing_payment_report(
                account=account,
                reporter=request.user,
                paid_on=data["paid_on"],
                amount=data["amount"],
                bank_reference=data["bank_reference"],
                proof=data.get("proof"),
                channel=Channel.PORTAL,
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            return redirect("portal:missing_detail", report_id=report.id)
    return render(
        request,
        "portal/missing/new.html",
        {"account": account, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@require_GET
@login_required
def missing_detail(request: HttpRequest, report_id) -> HttpResponse:
    report = get_object_or_404(banking_selectors.reports_for_user(request.user), id=report_id)
    return render(request, "portal/missing/detail.html", {"report": report})


@require_GET
@login_required
def missing_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(banking_selectors.reports_for_user(request.user), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "portal/missing/list.html", {"page": page})
