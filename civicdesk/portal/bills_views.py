"""Resident pages for bills: an account's bills (three years and more, newest first, paid or
open as the ledger tells), one bill with every line explained per provider, its payment QR
code, the PDF, a link to pay and one to dispute a line; and the statement of account over a
chosen range with a chart of charges and payments per month, as CSV and PDF too.

The rules live in civicdesk.billing (selectors, documents, chart); these views only read and
show. Another resident's account or bill is 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from civicdesk.billing import chart
from civicdesk.billing import selectors as billing
from civicdesk.billing.documents import bill as documents
from civicdesk.billing.documents.qr import QrPayloadError
from civicdesk.billing.documents.qrimage import qr_svg
from civicdesk.billing.models import Invoice
from civicdesk.ledger.postings import currency_exponent
from civicdesk.ledger.selectors import operator_currency
from civicdesk.registry.selectors import account_for_user

PAGE_SIZE = 36
DISPUTE_CATEGORY = "invoice-dispute"


# --- the list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillRow:
    invoice: Invoice
    charged: Decimal  # this period's charges and adjustments
    to_pay: Decimal
    unpaid: Decimal | None  # what the ledger still shows open of the bill; None: unknown

    @property
    def status(self) -> str:
        """ "paid", "open", or "" when the ledger cannot tell."""
        if self.unpaid is None:
            return ""
        return "paid" if self.unpaid <= 0 else "open"


def _money(minor: int | None, currency: str) -> Decimal | None:
    return None if minor is None else Decimal(minor).scaleb(-currency_exponent(currency))


@login_required
def bills(request: HttpRequest, number: str) -> HttpResponse:
    account = account_for_user(request.user, number)
    invoices = Invoice.objects.filter(account=account).order_by("-period")
    page = Paginator(invoices, PAGE_SIZE).get_page(request.GET.get("page"))
    found = list(page.object_list)
    unpaid = billing.invoices_open_minor(found)
    rows = [
        BillRow(
            invoice=invoice,
            charged=_money(invoice.charges_minor + invoice.adjustments_minor, invoice.currency),
            to_pay=_money(max(invoice.closing_minor, 0), invoice.currency),
            unpaid=_money(unpaid.get(invoice.pk), invoice.currency),
        )
        for invoice in found
    ]
    return render(
        request,
        "portal/bills/list.html",
        {"account": account, "rows": rows, "page": page, "currency": operator_currency()},
    )


# --- one bill -------------------------------------------------------------------------------


def _bill_of(request: HttpRequest, number: str, public_id) -> tuple:
    """The resident's account and one of its bills; 404 for anything else."""
    account = account_for_user(request.user, number)
    invoice = billing.invoice_for_user(request.user, public_id)
    if invoice.account_id != account.pk:
        raise Http404
    return account, invoice


@login_required
def bill(request: HttpRequest, number: str, public_id) -> HttpResponse:
    account, invoice = _bill_of(request, number, public_id)
    view = billing.invoice_view(invoice)
    payload = documents.bill_qr(invoice, view=view)
    qr = ""
    if payload is not None:
        try:
            # segno's own markup, with nothing from the request in it.
            qr = mark_safe(qr_svg(payload, scale=4, title=_("Payment QR code")))  # noqa: S308
        except QrPayloadError:
            qr = ""
    unpaid = billing.invoices_open_minor([invoice]).get(invoice.pk)
    dispute = reverse("cases_portal:new")
    return render(
        request,
        "portal/bills/detail.html",
        {
            "account": account,
            "invoice": invoice,
            "view": view,
            "parts": documents.bill_parts(view),
            "payee": view.payee,
            "qr": qr,
            "unpaid": _money(unpaid, invoice.currency),
            "dispute_url": f"{dispute}?category={DISPUTE_CATEGORY}&invoice={invoice.public_id}",
        },
    )


@login_required
def bill_pdf(request: HttpRequest, number: str, public_id) -> HttpResponse:
    """The PDF bill in the page's language: also the duplicate bill, at any time."""
    _account, invoice = _bill_of(request, number, public_id)
    response = HttpResponse(
        documents.bill_pdf(invoice, get_language()), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response


# --- the statement --------------------------------------------------------------------------


class StatementForm(forms.Form):
    date_from = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": billing.STATEMENT_ERRORS["invalid"]},
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": billing.STATEMENT_ERRORS["invalid"]},
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.range: tuple[date, date] | None = None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.range = billing.statement_range(
                data.get("date_from"), data.get("date_to"), today=self.today
            )
        except billing.StatementRangeError as exc:
            self.add_error("date_to" if exc.field == "to" else "date_from", exc.message)
        return data


def _statement_of(request: HttpRequest, number: str):
    """(account, form, statement or None when the range is not valid)."""
    account = account_for_user(request.user, number)
    form = StatementForm(request.GET or None, today=timezone.localdate())
    if not form.is_bound:
        form.range = billing.statement_range(None, None, today=form.today)
        form.initial = {"date_from": form.range[0], "date_to": form.range[1]}
    elif not form.is_valid():
        return account, form, None
    date_from, date_to = form.range
    return account, form, billing.account_statement(account, date_from, date_to)


def _month(period: date) -> str:
    return formats.date_format(period, "F Y")


def _month_short(period: date) -> str:
    return formats.date_format(period, "M y")


def flows_chart(statement) -> chart.FlowChart:
    months = chart.monthly_flows(
        ((entry.value_date, entry.amount) for entry in statement.entries),
        statement.date_from,
        statement.date_to,
    )
    return chart.flow_bars(
        months,
        label=_month,
        tick_label=_month_short,
        value_label=documents.quantity_text,
    )


@login_required
def statement(request: HttpRequest, number: str) -> HttpResponse:
    account, form, found = _statement_of(request, number)
    context = {"account": account, "form": form, "statement": found}
    if found is not None:
        context["chart"] = flows_chart(found)
        context["query"] = (
            f"date_from={found.date_from.isoformat()}&date_to={found.date_to.isoformat()}"
        )
        context["chart_title"] = _("Charged and paid per month, %(start)s to %(end)s") % {
            "start": _month(found.date_from),
            "end": _month(found.date_to),
        }
    return render(request, "portal/bills/statement.html", context)


def _download(request: HttpRequest, number: str, kind: str) -> HttpResponse:
    account, _form, found = _statement_of(request, number)
    if found is None:  # the page says what is wrong with the range
        page = reverse("portal:statement", args=[account.number])
        return redirect(f"{page}?{request.GET.urlencode()}")
    return documents.statement_download(found, kind, get_language())


@login_required
def statement_csv(request: HttpRequest, number: str) -> HttpResponse:
    return _download(request, number, "csv")


@login_required
def statement_pdf(request: HttpRequest, number: str) -> HttpResponse:
    return _download(request, number, "pdf")
