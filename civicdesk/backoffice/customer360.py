"""Customer 360: find a customer by any key, then one page about them composed of the slots
the apps contribute (civicdesk.core.slots)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from civicdesk.core import slots
from civicdesk.core.decorators import staff_required
from civicdesk.registry import selectors as registry_selectors
from civicdesk.registry.search import MAX_QUERY_LENGTH, customer_search

VIEW_ACCOUNTS = "registry.view_personalaccount"


class CustomerSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Account number, name, phone, e-mail or address"),
        max_length=MAX_QUERY_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


@require_GET
@vary_on_headers("HX-Request")
@staff_required
@permission_required(VIEW_ACCOUNTS, raise_exception=True)
def customer_search_view(request: HttpRequest) -> HttpResponse:
    form = CustomerSearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    results = customer_search(query) if query else []
    context = {"form": form, "query": query, "results": results}
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "backoffice/customer_search_results.html", context)
    return render(request, "backoffice/customer_search.html", context)


@require_GET
@staff_required
@permission_required(VIEW_ACCOUNTS, raise_exception=True)
def customer_account(request: HttpRequest, account_number: str) -> HttpResponse:
    subject = registry_selectors.subject_for_account(account_number)
    return _page(request, subject, title=subject.accounts[0].number)


@require_GET
@staff_required
@permission_required(VIEW_ACCOUNTS, raise_exception=True)
def customer_user(request: HttpRequest, public_id) -> HttpResponse:
    subject = registry_selectors.subject_for_user(public_id)
    return _page(request, subject, title=subject.user.full_name or subject.user.email)


def _page(request: HttpRequest, subject: slots.Subject, *, title: str) -> HttpResponse:
    return render(
        request,
        "backoffice/customer360.html",
        {
            "subject": subject,
            "title": title,
            "slots": slots.compose(request, subject),
            "form": CustomerSearchForm(),
        },
    )
