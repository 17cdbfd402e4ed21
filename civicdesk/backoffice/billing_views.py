"""Back-office pages for billing (mounted at /staff/billing/): the run console (the runs with
their progress, "start a run", a run's page with live progress while it runs and its report
when it is done), the exception queue (what runs could not bill, with the reason, by kind),
and the invoice viewer (find a bill by invoice or account number; the bill with its lines per
provider, adjustments and totals, and the disputes of its lines, which staff resolve there).

The rules are billing's (civicdesk.billing.runs, reports, casework); these views parse, call
and show. Starting a run queues one Celery task per chunk: with a broker the workers bill it
and the page follows them; without one (development) the tasks run here, before the page
answers.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicdesk.billing import casework, compose, reports
from civicdesk.billing import selectors as billing_selectors
from civicdesk.billing.models import BillingRun, Invoice, InvoiceDispute
from civicdesk.billing.runs import (
    RunRefused,
    billing_run_dispatch,
    billing_run_start,
    refusal_message,
)
from civicdesk.core.decorators import staff_required
from civicdesk.core.forms import apply_validation_error
from civicdesk.registry.models import ServiceType
from civicdesk.registry.selectors import operator_get

VIEW_RUNS = "billing.view_billingrun"
RUN_BILLING = "billing.run_billing"
VIEW_INVOICE = "billing.view_invoice"
RESOLVE_DISPUTE = "billing.change_invoicedispute"
PAGE = 50
RUNS_PAGE = 20
OPEN = (BillingRun.Status.PENDING, BillingRun.Status.RUNNING)
POLL_SECONDS = 2


# --- forms ----------------------------------------------------------------------------------


class RunStartForm(forms.Form):
    period = forms.CharField(
        label=gettext_lazy("Period"),
        max_length=7,
        help_text=gettext_lazy("The month to bill, as YYYY-MM."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    chunk_size = forms.IntegerField(
        label=gettext_lazy("Accounts per chunk"),
        min_value=1,
        max_value=1_000_000,
        initial=20_000,
        help_text=gettext_lazy(
            "A chunk is billed and committed as one piece, by one worker; 10,000 to 50,000 "
            "suits most runs."
        ),
    )

    def clean_period(self):
        try:
            return compose.parse_period(self.cleaned_data["period"])
        except ValueError:
            raise ValidationError(
                _("The period must be a month written as YYYY-MM, e.g. 2025-08.")
            ) from None


class InvoiceSearchForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Invoice or account number"),
        max_length=60,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class DisputeResolveForm(forms.Form):
    CREDIT, CHARGE, NONE = "credit", "charge", "none"

    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        choices=[
            (CREDIT, gettext_lazy("Credit the resident (the bill was too high)")),
            (CHARGE, gettext_lazy("Charge more (the bill was too low)")),
            (NONE, gettext_lazy("No change (the bill was right)")),
        ],
        initial=CREDIT,
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"),
        required=False,
        max_digits=15,
        help_text=gettext_lazy("Posted as an adjustment line on this bill."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    line = forms.TypedChoiceField(label=gettext_lazy("Line adjusted"), coerce=int)
    note = forms.CharField(
        label=gettext_lazy("Note to the resident"),
        required=False,
        max_length=2000,
        help_text=gettext_lazy("Sent with the outcome."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, dispute: InvoiceDispute, lines: dict[int, str], **kwargs):
        kwargs.setdefault("prefix", f"dispute-{dispute.pk}")
        super().__init__(*args, **kwargs)
        positions = dispute.lines or sorted(lines)
        self.fields["line"].choices = [(p, lines.get(p, p)) for p in positions]
        if len(positions) == 1:
            self.fields["line"].widget = forms.HiddenInput()
            self.initial.setdefault("line", positions[0])

    def clean(self):
        data = super().clean()
        wants_amount = data.get("outcome") in (self.CREDIT, self.CHARGE)
        if wants_amount and data.get("amount") is None and "amount" not in self.errors:
            self.add_error("amount", _("Give the amount to credit or charge."))
        return data


# --- the run console ------------------------------------------------------------------------


def _default_period():
    return compose.previous_period(compose.period_start(timezone.localdate()))


def _dispatch(run_id: int) -> None:
    """Queue the run's chunks (after the commit that made them visible to workers)."""
    billing_run_dispatch(BillingRun.objects.get(pk=run_id))


@require_http_methods(["GET", "POST"])
@staff_required
@permission_required(VIEW_RUNS, raise_exception=True)
def runs(request: HttpRequest) -> HttpResponse:
    can_run = request.user.has_perm(RUN_BILLING)
    form = RunStartForm(initial={"period": f"{_default_period():%Y-%m}"}) if can_run else None
    status = 200
    if request.method == "POST":
        if not can_run:
            return HttpResponse(status=403)
        form = RunStartForm(request.POST)
        if form.is_valid():
            period = form.cleaned_data["period"]
            resumed = BillingRun.objects.filter(period=period, status__in=OPEN).exists()
            try:
                run = billing_run_start(
                    period=period, chunk_size=form.cleaned_data["chunk_size"], actor=request.user
                )
            except RunRefused as exc:
                form.add_error(None, refusal_message(exc))
                status = 422
            else:
                if run.status in OPEN:
                    transaction.on_commit(lambda: _dispatch(run.pk), robust=True)
                text = (
                    _("The open run for %(period)s continues.")
                    if resumed
                    else _("The billing run for %(period)s has started.")
                )
                messages.success(request, text % {"period": f"{period:%Y-%m}"})
                return redirect("backoffice:billing_run", run.public_id)
        else:
            status = 400
    page = Paginator(BillingRun.objects.select_related("started_by"), RUNS_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "backoffice/billing/runs.html",
        {"form": form, "page": page},
        status=status,
    )


def _run_or_404(run_id) -> BillingRun:
    return get_object_or_404(BillingRun.objects.select_related("started_by"), public_id=run_id)


def _progress(run: BillingRun) -> dict:
    percent = (
        min(100, run.accounts_done * 100 // run.accounts_total)
        if run.accounts_total
        else (100 if run.status == BillingRun.Status.DONE else 0)
    )
    end = run.finished_at or timezone.now()
    return {
        "run": run,
        "percent": percent,
        "running": run.status in OPEN,
        "seconds": (end - run.started_at).total_seconds() if run.started_at else None,
        "poll": POLL_SECONDS,
    }


@require_GET
@staff_required
@permission_required(VIEW_RUNS, raise_exception=True)
def run_detail(request: HttpRequest, run_id) -> HttpResponse:
    run = _run_or_404(run_id)
    operator = operator_get()
    done = run.status == BillingRun.Status.DONE
    summary = [
        (code, reports.exception_title(code), count)
        for code, count in reports.run_exceptions_summary(run)
    ]
    return render(
        request,
        "backoffice/billing/run.html",
        {
            **_progress(run),
            "currency": operator.currency if operator else "",
            "totals": reports.run_totals(run) if done else [],
            "exceptions": summary,
            "failed_chunks": list(run.chunks.exclude(error="").values("index", "error")[:20]),
        },
    )


@require_GET
@staff_required
@permission_required(VIEW_RUNS, raise_exception=True)
def run_progress(request: HttpRequest, run_id) -> HttpResponse:
    """The live part of the run's page, polled by htmx while the run is open. When the run
    the page was following has closed, the whole page reloads to show the report."""
    run = _run_or_404(run_id)
    response = render(request, "backoffice/billing/_progress.html", _progress(run))
    if request.GET.get("following") and run.status not in OPEN:
        response["HX-Refresh"] = "true"
    return response


@require_GET
@staff_required
@permission_required(VIEW_RUNS, raise_exception=True)
def exception_queue(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("code", "")
    run = None
    if request.GET.get("run"):
        run = BillingRun.objects.filter(public_id=_uuid(request.GET["run"])).first()
        if run is None:
            raise Http404
    rows = billing_selectors.open_exceptions(code=code, run=run)
    page = Paginator(rows, PAGE).get_page(request.GET.get("page"))
    for row in page.object_list:
        row.reason = reports.exception_text(row.code, row.params or {})
    codes = sorted(
        set(reports.EXCEPTION_TITLES)
        | set(
            billing_selectors.open_exceptions().order_by().values_list("code", flat=True).distinct()
        )
    )
    query = {k: v for k, v in (("code", code), ("run", run.public_id if run else "")) if v}
    return render(
        request,
        "backoffice/billing/exceptions.html",
        {
            "page": page,
            "code": code,
            "run": run,
            "codes": [(c, reports.exception_title(c)) for c in codes],
            "query": urlencode(query),
        },
    )


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise Http404 from exc


# --- the invoice viewer ---------------------------------------------------------------------


@require_GET
@staff_required
@permission_required(VIEW_INVOICE, raise_exception=True)
def invoice_search(request: HttpRequest) -> HttpResponse:
    form = InvoiceSearchForm(request.GET)
    text = form.cleaned_data["q"].strip() if form.is_valid() else ""
    page = None
    if text:
        page = Paginator(billing_selectors.invoices_search(text), PAGE).get_page(
            request.GET.get("page")
        )
        if page.paginator.count == 1 and not request.GET.get("page"):
            return redirect("backoffice:billing_invoice", page.object_list[0].number)
    return render(
        request,
        "backoffice/billing/invoices.html",
        {"form": form, "text": text, "page": page, "query": urlencode({"q": text})},
    )


def _invoice_page(
    request: HttpRequest, invoice: Invoice, *, bound: dict | None = None, status: int = 200
) -> HttpResponse:
    view = billing_selectors.invoice_view(invoice)
    labels = _line_labels(invoice)
    can_resolve = request.user.has_perm(RESOLVE_DISPUTE)
    disputes = list(
        InvoiceDispute.objects.filter(invoice=invoice)
        .select_related("case")
        .order_by("-created_at")
    )
    disputed = set()
    for dispute in disputes:
        dispute.open = dispute.resolved_at is None and dispute.case.is_open
        dispute.line_labels = [labels.get(p, f"#{p}") for p in dispute.lines]
        if dispute.open:
            disputed.update(dispute.lines)
            if can_resolve:
                dispute.form = (bound or {}).get(dispute.pk) or DisputeResolveForm(
                    dispute=dispute, lines=labels
                )
    return render(
        request,
        "backoffice/billing/invoice.html",
        {
            "view": view,
            "invoice": invoice,
            "disputes": disputes,
            "disputed": disputed,
            "pdf_url": f"/api/v1/invoices/{invoice.public_id}/pdf",
        },
        status=status,
    )


def _line_labels(invoice: Invoice) -> dict[int, str]:
    """Each line's name in the resolve form: position, service and provider."""
    services = dict(ServiceType.choices)
    return {
        position: f"#{position} {services.get(service, service)} · {provider}"
        for position, service, provider in invoice.lines.values_list(
            "position", "service", "provider__name"
        )
    }


def _invoice_or_404(number: str) -> Invoice:
    return get_object_or_404(
        Invoice.objects.select_related("account__premises__building"), number=number
    )


@require_GET
@staff_required
@permission_required(VIEW_INVOICE, raise_exception=True)
def invoice_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _invoice_page(request, _invoice_or_404(number))


@require_POST
@staff_required
@permission_required(VIEW_INVOICE, raise_exception=True)
@permission_required(RESOLVE_DISPUTE, raise_exception=True)
def dispute_resolve(request: HttpRequest, reference: str) -> HttpResponse:
    dispute = get_object_or_404(
        InvoiceDispute.objects.select_related("invoice", "case"), case__reference=reference
    )
    invoice = _invoice_or_404(dispute.invoice.number)
    form = DisputeResolveForm(request.POST, dispute=dispute, lines=_line_labels(invoice))
    if form.is_valid():
        data = form.cleaned_data
        outcome = data["outcome"]
        try:
            casework.dispute_resolve(
                dispute=dispute,
                amount=data["amount"] if outcome != form.NONE else None,
                credit=outcome == form.CREDIT,
                position=data["line"],
                actor=request.user,
                note=data["note"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                _("Dispute %(reference)s is resolved.") % {"reference": dispute.case.reference},
            )
            return redirect("backoffice:billing_invoice", invoice.number)
    return _invoice_page(request, invoice, bound={dispute.pk: form}, status=400)
