"""Resident pages: an account's balance and its transactions (the statement)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from civicdesk.ledger import selectors as ledger
from civicdesk.registry.models import ServiceType
from civicdesk.registry.selectors import account_for_user, operator_get

PAGE_SIZE = 25


class StatementFilterForm(forms.Form):
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    service = forms.ChoiceField(
        label=_("Service"),
        required=False,
        choices=[("", _("All services")), *ServiceType.choices],
    )

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


@login_required
def money(request: HttpRequest, number: str) -> HttpResponse:
    account = account_for_user(request.user, number)
    operator = operator_get()
    summary = ledger.account_summary(account, currency=operator.currency if operator else "")
    form = StatementFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    transactions = ledger.account_transactions(
        account,
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        service=filters.get("service") or None,
    )
    page = Paginator(transactions, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "portal/money/statement.html",
        {
            "account": account,
            "summary": summary,
            "form": form,
            "page": page,
            "rows": ledger.statement_rows(account, list(page.object_list)),
            "query": query.urlencode(),
        },
    )
