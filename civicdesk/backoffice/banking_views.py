"""Back-office pages for bank statements and missing payments: upload a statement and read its
summary (or why it was refused), the statements imported, the queue of unmatched bank lines
(match one to an account by its number, check digit verified, and to an open report), and the
open missing-payment reports with the lines that could be them (match, or reject with a
reason). The work is the ledger's banking service; these pages take input and show results."""

from __future__ import annotations

from decimal import InvalidOperation

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicdesk.core.decorators import staff_required
from civicdesk.core.forms import apply_validation_error
from civicdesk.ledger import banking, banking_selectors, postings
from civicdesk.ledger.models import BankFormat, BankLine, BankStatement, MissingPaymentReport
from civicdesk.registry.models import PersonalAccount
from civicdesk.registry.selectors import operator_get
from civicdesk.registry.services import account_number_parse

VIEW = "ledger.view_bankline"
VIEW_STATEMENTS = "ledger.view_bankstatement"
UPLOAD = "ledger.add_bankstatement"
MATCH = "ledger.match_bankline"
VIEW_REPORTS = "ledger.view_missingpaymentreport"
REJECT = "ledger.change_missingpaymentreport"
MAX_BYTES = 20 * 1024 * 1024
PAGE = 50


# --- forms ----------------------------------------------------------------------------------


class StatementUploadForm(forms.Form):
    bank_format = forms.ModelChoiceField(
        label=gettext_lazy("Bank and format"),
        queryset=BankFormat.objects.none(),
        empty_label=None,
    )
    file = forms.FileField(
        label=gettext_lazy("Statement file"),
        help_text=gettext_lazy("CSV as the bank exports it, or camt.053 XML; at most 20 MB."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bank_format"].queryset = BankFormat.objects.filter(active=True)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise ValidationError(
                _("The file is too large: at most %(mb)d MB here; use the command line.")
                % {"mb": MAX_BYTES // (1024 * 1024)}
            )
        return upload


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class LineFilterForm(forms.Form):
    date_from = forms.DateField(
        label=gettext_lazy("Booked from"), required=False, widget=DateInput()
    )
    date_to = forms.DateField(label=gettext_lazy("Booked to"), required=False, widget=DateInput())
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"),
        required=False,
        max_digits=14,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    q = forms.CharField(
        label=gettext_lazy("Reference or payer contains"), required=False, max_length=100
    )

    def amount_minor(self, currency: str) -> int | None:
        amount = self.cleaned_data.get("amount")
        if amount is None:
            return None
        try:
            return postings.to_minor(abs(amount), postings.currency_exponent(currency))
        except (postings.PostingError, InvalidOperation):
            return -1  # no line has it


class MatchForm(forms.Form):
    account_number = forms.CharField(
        label=gettext_lazy("Account number"),
        max_length=40,
        help_text=gettext_lazy("With its check digit, as on the bill."),
    )
    report = forms.ModelChoiceField(
        label=gettext_lazy("Missing-payment report"),
        queryset=MissingPaymentReport.objects.none(),
        required=False,
        empty_label=gettext_lazy("Any open report of the account for this amount"),
        help_text=gettext_lazy(
            "The resident's report this payment answers: it is closed and the resident told."
        ),
    )

    def __init__(self, *args, line: BankLine, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["report"].queryset = banking_selectors.candidate_reports(line)
        self.fields["report"].label_from_instance = _report_label

    def clean(self):
        data = super().clean()
        raw = data.get("account_number")
        if raw:
            try:
                number = account_number_parse(raw, field="account_number")
            except ValidationError as exc:
                apply_validation_error(self, exc)
                return data
            account = PersonalAccount.objects.filter(number=number).first()
            if account is None:
                self.add_error("account_number", _("No account has this number."))
            else:
                data["account"] = account
                report = data.get("report")
                if report is not None and report.account_id != account.pk:
                    self.add_error("report", _("This report is about another account."))
        return data


def _report_label(report: MissingPaymentReport) -> str:
    from civicdesk.ledger.templatetags.ledger import minor_money

    return _("%(case)s · account %(number)s · paid %(date)s · %(amount)s") % {
        "case": report.case.reference if report.case else "—",
        "number": report.account.number,
        "date": report.paid_on.isoformat(),
        "amount": minor_money(report.amount_minor, report.currency),
    }


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why the payment cannot be found"),
        help_text=gettext_lazy("The resident receives this reason."),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# --- statements -----------------------------------------------------------------------------


def _currency() -> str:
    operator = operator_get()
    return operator.currency if operator else ""


@require_http_methods(["GET", "POST"])
@staff_required
@permission_required(VIEW_STATEMENTS, raise_exception=True)
def statements(request: HttpRequest) -> HttpResponse:
    can_upload = request.user.has_perm(UPLOAD)
    form = StatementUploadForm() if can_upload else None
    imported, status = [], 200
    if request.method == "POST":
        if not can_upload:
            raise PermissionDenied("bank statement upload")
        form = StatementUploadForm(request.POST, request.FILES)
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                imported = banking.statements_import(
                    bank_format=form.cleaned_data["bank_format"],
                    data=upload.read(),
                    file_name=upload.name,
                    actor=request.user,
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
                status = 422
            else:
                status = 200
                form = StatementUploadForm()
    page = Paginator(banking_selectors.statements_list(), PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/banking/statements.html",
        {
            "form": form,
            "imported": [(s, banking_selectors.statement_summary(s)) for s in imported],
            "page": page,
        },
        status=status,
    )


@require_GET
@staff_required
@permission_required(VIEW_STATEMENTS, raise_exception=True)
def statement_detail(request: HttpRequest, statement_id) -> HttpResponse:
    statement = get_object_or_404(
        BankStatement.objects.select_related("bank_format", "imported_by"), id=statement_id
    )
    page = Paginator(banking_selectors.statement_lines(statement), 200).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "backoffice/banking/statement.html",
        {
            "statement": statement,
            "summary": banking_selectors.statement_summary(statement),
            "page": page,
            "reasons": banking.REASON_LABELS,
        },
    )


# --- unmatched lines ------------------------------------------------------------------------


@require_GET
@staff_required
@permission_required(VIEW, raise_exception=True)
def lines(request: HttpRequest) -> HttpResponse:
    form = LineFilterForm(request.GET or None)
    filters = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            "amount_minor": form.amount_minor(_currency()),
            "text": data.get("q") or "",
        }
    queryset = (
        banking_selectors.unmatched_lines(**filters) if not form.errors else BankLine.objects.none()
    )
    page = Paginator(queryset, PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "backoffice/banking/lines.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "reasons": banking.REASON_LABELS,
            "can_match": request.user.has_perm(MATCH),
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_required
@permission_required(VIEW, raise_exception=True)
def line_detail(request: HttpRequest, line_id) -> HttpResponse:
    line = get_object_or_404(
        BankLine.objects.select_related(
            "statement__bank_format", "account", "report__case", "resolved_by"
        ),
        id=line_id,
    )
    can_match = request.user.has_perm(MATCH)
    initial = {}
    if request.GET.get("account"):
        initial["account_number"] = request.GET["account"][:40]
    if request.GET.get("report"):
        initial["report"] = request.GET["report"][:40]
    form = MatchForm(request.POST or None, line=line, initial=initial)
    status = 200
    if request.method == "POST":
        if not can_match:
            raise PermissionDenied("bank line match")
        status = 400
        if form.is_valid():
            try:
                banking.bank_line_match(
                    line=line,
                    account=form.cleaned_data["account"],
                    report=form.cleaned_data.get("report"),
                    actor=request.user,
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
                status = 422
            else:
                messages.success(
                    request,
                    _("The payment is on account %(number)s.")
                    % {"number": form.cleaned_data["account"].number},
                )
                return redirect("backoffice:bank_lines")
    return render(
        request,
        "backoffice/banking/line.html",
        {
            "line": line,
            "form": form,
            "can_match": can_match and line.status == BankLine.Status.SUSPENSE,
            "candidates": list(banking_selectors.candidate_reports(line))
            if line.status == BankLine.Status.SUSPENSE
            else [],
            "reason": banking.reason_label(line.match_reason),
        },
        status=status,
    )


# --- missing-payment reports ----------------------------------------------------------------


@require_GET
@staff_required
@permission_required(VIEW_REPORTS, raise_exception=True)
def reports(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", MissingPaymentReport.Status.OPEN)
    if status not in MissingPaymentReport.Status.values and status != "all":
        status = MissingPaymentReport.Status.OPEN
    queryset = banking_selectors.reports_for_staff(status="" if status == "all" else status)
    if status == MissingPaymentReport.Status.OPEN:
        queryset = queryset.order_by("created_at")
    page = Paginator(queryset, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/banking/reports.html",
        {
            "page": page,
            "status": status,
            "statuses": [*MissingPaymentReport.Status.choices, ("all", _("All"))],
        },
    )


@require_GET
@staff_required
@permission_required(VIEW_REPORTS, raise_exception=True)
def report_detail(request: HttpRequest, report_id) -> HttpResponse:
    report = get_object_or_404(
        MissingPaymentReport.objects.select_related("account", "case", "reporter"), id=report_id
    )
    is_open = report.status == MissingPaymentReport.Status.OPEN
    return render(
        request,
        "backoffice/banking/report.html",
        {
            "report": report,
            "candidates": banking_selectors.candidate_lines(report) if is_open else [],
            "lines": banking_selectors.lines_for_report(report),
            "reject_form": RejectForm(),
            "can_match": is_open and request.user.has_perm(MATCH),
            "can_reject": is_open and request.user.has_perm(REJECT),
            "reasons": banking.REASON_LABELS,
        },
    )


@require_POST
@staff_required
@permission_required(MATCH, raise_exception=True)
def report_match(request: HttpRequest, report_id, line_id) -> HttpResponse:
    """Match one of the report's candidate lines to it: the line's money goes to the report's
    account, the report is found, its case resolved."""
    report = get_object_or_404(MissingPaymentReport.objects.select_related("account"), id=report_id)
    line = get_object_or_404(BankLine, id=line_id)
    try:
        banking.bank_line_match(
            line=line, account=report.account, report=report, actor=request.user
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("Matched: the payment is on account %(number)s and the resident is told.")
            % {"number": report.account.number},
        )
    return redirect("backoffice:missing_report", report_id=report.id)


@require_POST
@staff_required
@permission_required(REJECT, raise_exception=True)
def report_reject(request: HttpRequest, report_id) -> HttpResponse:
    report = get_object_or_404(
        MissingPaymentReport.objects.select_related("account", "case", "reporter"), id=report_id
    )
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            banking.missing_payment_reject(
                report=report, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("The report is closed and the resident told why."))
            return redirect("backoffice:missing_reports")
    return render(
        request,
        "backoffice/banking/report.html",
        {
            "report": report,
            "candidates": banking_selectors.candidate_lines(report),
            "lines": banking_selectors.lines_for_report(report),
            "reject_form": form,
            "can_match": request.user.has_perm(MATCH),
            "can_reject": True,
            "reasons": banking.REASON_LABELS,
        },
        status=400,
    )
