"""The bill as a document: its payment QR code, its HTML and its PDF, in the reader's language.

A bill is rendered from :func:`civicdesk.billing.selectors.invoice_view` (one part per
provider, the totals, the payee) with the template ``billing/bill.html``. The same parts feed
the portal's bill page (:func:`bill_parts`), so the page and the PDF say the same things.

Language: the PDF is in the language the account's holder chose (the first holder, by role
and name, who has a portal login), else in the operator's default language. Numbers, dates
and month names follow that language's formats (Django's l10n: "2,451.90" in English,
"2 451,90" in Ukrainian and Russian).

Payment QR code: the operator's format (``selectors.qr_format()``: GOST R 56042-2014 in
Russia, the National Bank's QR in Ukraine, a plain payment reference in South Africa, or what
the billing settings say). The payee is the provider whose bank account the bill names
(``InvoiceView.payee``); the amount is what is left to pay. A payee whose bank details do not
make a valid payload (or no payee at all) gives a bill without a QR code and a warning in the
log, never an error: the bill still carries the bank details in words.

The statement of account (``selectors.account_statement``) is a document too: as CSV
(:func:`statement_csv`, machine-readable amounts) and as PDF (:func:`statement_pdf`,
template ``billing/statement.html``).

Afrikaans has no number formats in Django, so its numbers keep Django's defaults: a decimal
point and no grouping ("2451.90").
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import formats, translation
from django.utils.translation import gettext as _

from civicdesk.billing import selectors
from civicdesk.billing.documents.pdf import html_to_pdf
from civicdesk.billing.documents.qr import (
    PaymentDetails,
    QrPayload,
    QrPayloadError,
    build_payment_qr,
)
from civicdesk.billing.documents.qrimage import qr_data_uri
from civicdesk.billing.models import Invoice, InvoiceLine
from civicdesk.billing.selectors import AccountStatement, InvoiceView, LineView, ProviderPart
from civicdesk.registry.models import ServiceType
from civicdesk.registry.selectors import operator_get

log = logging.getLogger(__name__)

GOST_TECH_CODE_HOUSING = "02"  # GOST R 56042-2014, appendix B: housing and utility payments
TRUE_UP = "true_up"  # the marker of a true-up entry in a line's detail


# --- languages ------------------------------------------------------------------------------


def _supported(language: str | None) -> str | None:
    codes = {code for code, _name in settings.LANGUAGES}
    return language if language in codes else None


def default_language() -> str:
    """The operator's default language (the installation's when there is no operator)."""
    operator = operator_get()
    return _supported(operator.default_language if operator else None) or settings.LANGUAGE_CODE


def holder_language(holder) -> str:
    """The language an account holder reads: their portal login's choice, else the default."""
    user = holder.user if holder.user_id else None
    return _supported(user.preferred_language if user else None) or default_language()


def bill_language(invoice: Invoice) -> str:
    """The language of the account's bill: the first holder (by role, then name) who chose one
    through a portal login; else the operator's default."""
    holders = invoice.account.holders.select_related("user").order_by("role", "full_name")
    for holder in holders:
        if holder.user_id and _supported(holder.user.preferred_language):
            return holder.user.preferred_language
    return default_language()


# --- payment details and the QR code --------------------------------------------------------


def _period_text(view: InvoiceView) -> str:
    return f"{view.period:%m.%Y}"


def payment_details(view: InvoiceView) -> PaymentDetails:
    """What a payment of this bill carries: the payee's bank details, the amount left to pay,
    and the account number and period (as the purpose, the payer's account and the period).

    The purpose is written in the operator's default language (the payee's bank reads it,
    whoever the reader of the bill is), so a bill's payload is the same in every language.
    Fields a format does not know are ignored by it (see ``documents.qr``).
    """
    payee = view.payee
    operator = operator_get()
    jurisdiction = operator.jurisdiction if operator else ""
    bank_code = payee.bank_code if payee else ""
    with translation.override(default_language()):
        purpose = _("Account %(number)s, period %(period)s") % {
            "number": view.account_number,
            "period": _period_text(view),
        }
    pay_url = ""
    found = selectors.billing_settings()
    if found is not None and found.pay_url:
        # The settings call the account number {account}; the payload builder calls it
        # {reference} ({account} there is the payee's bank account).
        pay_url = found.pay_url.replace("{account}", "{reference}")
    return PaymentDetails(
        payee_name=payee.name if payee else "",
        account=(payee.iban or payee.bank_account) if payee else "",
        bank_name=payee.bank_name if payee else "",
        bic="" if jurisdiction == "ZA" else bank_code,
        branch_code=bank_code if jurisdiction == "ZA" else "",
        correspondent_account=payee.correspondent_account if payee else "",
        payee_tax_id=payee.tax_number if payee else "",
        amount=view.to_pay if view.to_pay > 0 else None,
        currency=view.currency,
        purpose=purpose,
        payer_account=view.account_number,
        payer_address=view.address,
        period=(view.period.year, view.period.month),
        gost_tech_code=GOST_TECH_CODE_HOUSING,
        pay_url_template=pay_url,
    )


def bill_qr(invoice: Invoice, *, view: InvoiceView | None = None) -> QrPayload | None:
    """The bill's payment QR payload, or None: when the operator chose no QR code, when the
    bill has no payee, or when the payee's details do not make a valid payload (logged)."""
    qr_format = selectors.qr_format()
    if qr_format == "none":
        return None
    view = view or selectors.invoice_view(invoice)
    if view.payee is None:
        log.warning("bill %s: no payee, so no payment QR code", invoice.number)
        return None
    details = payment_details(view)
    if qr_format == "epc":
        # EPC takes a structured reference or a text, not both; the text is what we have.
        details = replace(details, reference="")
    try:
        return build_payment_qr(qr_format, details)
    except QrPayloadError as exc:
        log.warning(
            "bill %s: no payment QR code (%s): %s %s %s",
            invoice.number,
            qr_format,
            exc.code,
            exc.field,
            exc.params,
        )
        return None


def qr_image_uri(payload: QrPayload | None) -> str:
    """The PNG data URI of a payload for a document, or "" when it cannot be drawn."""
    if payload is None:
        return ""
    try:
        return qr_data_uri(payload, scale=4)
    except QrPayloadError as exc:
        log.warning("payment QR code cannot be drawn: %s %s", exc.code, exc.params)
        return ""


# --- the parts as a bill shows them ---------------------------------------------------------


def quantity_text(value: Decimal | None) -> str:
    """A quantity in the active language's number format, without trailing zeros."""
    if value is None:
        return ""
    value = Decimal(value)
    shown = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return formats.number_format(shown, use_l10n=True, force_grouping=True)


@dataclass(frozen=True)
class BillLine:
    """One line of a provider's part, with what the reader needs to understand it."""

    line: LineView
    quantity: str  # "436 kWh", or "" when the charge has no quantity
    true_up: str  # "" or the quantity by which earlier estimates were corrected

    @property
    def is_adjustment(self) -> bool:
        """Anything but the run's first charge: a later run's adjustment, a dispute's
        settlement."""
        return self.line.kind != InvoiceLine.Kind.CHARGE

    @property
    def kind_label(self) -> str:
        return str(dict(InvoiceLine.Kind.choices).get(self.line.kind, self.line.kind))


@dataclass(frozen=True)
class BillPart:
    part: ProviderPart
    lines: list[BillLine]


def _true_up(line: LineView) -> str:
    for entry in line.detail or ():
        if isinstance(entry, list | tuple) and len(entry) >= 2 and entry[0] == TRUE_UP:
            try:
                quantity = Decimal(str(entry[1]))
            except ArithmeticError:
                return str(entry[1])
            return " ".join(filter(None, (quantity_text(quantity), line.unit)))
    return ""


def bill_parts(view: InvoiceView) -> list[BillPart]:
    """The view's provider parts with each line's quantity and true-up as text (in the active
    language: call inside ``translation.override``)."""
    parts = []
    for part in view.parts:
        lines = [
            BillLine(
                line=line,
                quantity=(
                    " ".join(filter(None, (quantity_text(line.quantity), line.unit)))
                    if line.quantity is not None
                    else ""
                ),
                true_up=_true_up(line),
            )
            for line in part.lines
        ]
        parts.append(BillPart(part=part, lines=lines))
    return parts


# --- HTML and PDF ---------------------------------------------------------------------------


def bill_context(invoice: Invoice, *, view: InvoiceView | None = None) -> dict:
    """Everything ``billing/bill.html`` shows (render it inside ``translation.override``)."""
    view = view or selectors.invoice_view(invoice)
    payload = bill_qr(invoice, view=view)
    found = selectors.billing_settings()
    operator = operator_get()
    return {
        "invoice": invoice,
        "view": view,
        "parts": bill_parts(view),
        "operator": operator,
        "jurisdiction": operator.jurisdiction if operator else "",
        "payee": view.payee,
        "qr": payload,
        "qr_image": qr_image_uri(payload),
        "bulletin": found.bulletin if found is not None else "",
    }


def bill_html(invoice: Invoice, language: str) -> str:
    """The bill as a complete HTML document in ``language``."""
    language = _supported(language) or default_language()
    with translation.override(language):
        return render_to_string(
            "billing/bill.html", {**bill_context(invoice), "language": language}
        )


def bill_pdf(invoice: Invoice, language: str | None = None) -> bytes:
    """The bill as PDF bytes, in ``language`` or else the holder's (see :func:`bill_language`).
    This is also the duplicate bill: it can be made again at any time."""
    return html_to_pdf(bill_html(invoice, language or bill_language(invoice)))


# --- the statement of account ---------------------------------------------------------------

# A spreadsheet reads a cell that starts with one of these as a formula (CSV injection):
# references and descriptions come partly from outside (bank lines), so such text is quoted.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def statement_csv(statement: AccountStatement) -> bytes:
    """The statement as CSV (UTF-8 with a byte-order mark, so spreadsheets read Cyrillic): a
    header row in the active language, an opening row, one row per transaction, a closing
    row. ``kind`` is a stable code (``opening``, ``closing`` or the transaction's kind);
    amounts are plain decimals ("-1234.50": negative is paid or credited), and each row's
    ``balance`` is the account's balance after it. The amounts of the transaction rows add
    up to closing − opening."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        [
            _("Date"),
            _("Kind"),
            _("What"),
            _("Reference"),
            _("Services"),
            _("Amount"),
            _("Balance"),
        ]
    )
    labels = dict(ServiceType.choices)
    writer.writerow(
        [
            statement.date_from.isoformat(),
            "opening",
            _("Opening balance"),
            "",
            "",
            "",
            format(statement.opening, "f"),
        ]
    )
    for entry in statement.entries:
        what = entry.kind_label + (f": {entry.description}" if entry.description else "")
        writer.writerow(
            [
                entry.value_date.isoformat(),
                entry.kind,
                _text_cell(what),
                _text_cell(entry.reference),
                ", ".join(str(labels.get(s, s)) for s in entry.services),
                format(entry.amount, "f"),
                format(entry.balance, "f"),
            ]
        )
    writer.writerow(
        [
            statement.date_to.isoformat(),
            "closing",
            _("Closing balance"),
            "",
            "",
            "",
            format(statement.closing, "f"),
        ]
    )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def statement_filename(statement: AccountStatement, extension: str) -> str:
    return (
        f"statement-{statement.account.number}-"
        f"{statement.date_from:%Y%m%d}-{statement.date_to:%Y%m%d}.{extension}"
    )


def statement_pdf(statement: AccountStatement, language: str) -> bytes:
    """The statement as a PDF document in ``language``."""
    language = _supported(language) or default_language()
    holder = statement.account.holders.order_by("role", "full_name").first()
    with translation.override(language):
        html = render_to_string(
            "billing/statement.html",
            {
                "statement": statement,
                "holder": holder.full_name if holder else "",
                "operator": operator_get(),
                "language": language,
            },
        )
    return html_to_pdf(html)


def statement_download(statement: AccountStatement, kind: str, language: str) -> HttpResponse:
    """The statement as a file to download: ``kind`` "csv" or "pdf" (the API and the portal)."""
    if kind == "csv":
        response = HttpResponse(statement_csv(statement), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(statement_pdf(statement, language), content_type="application/pdf")
    filename = statement_filename(statement, kind)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
