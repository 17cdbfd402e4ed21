"""API: bills (invoices) with their lines, the PDF bill, its payment QR code, and the
statement of account.

- `GET /invoices`: a resident's invoices (their linked accounts'), every invoice for staff;
  `?account=` and `?period=YYYY-MM` filter; paginated, newest period first.
- `GET /invoices/{id}`: one invoice with its lines per provider and the totals.
- `GET /invoices/{id}/pdf`: the PDF bill (also the duplicate bill, at any time), in `?lang=`
  or the holder's language.
- `GET /invoices/{id}/payment-qr`: `{"format", "payload"}`; `?image=png|svg` draws it.
- `GET /accounts/{number}/statement`: opening balance, every charge, payment and adjustment,
  closing balance, over `?from=`..`?to=` (default: the last 36 months), as JSON, CSV or PDF.

Another resident's invoice or account answers 404. Amounts are decimal strings.
"""

from __future__ import annotations

import re
from datetime import date

from django.conf import settings
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import exceptions, generics, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from civicdesk.billing import compose, selectors
from civicdesk.billing.documents import bill
from civicdesk.billing.documents.qrimage import qr_png, qr_svg
from civicdesk.billing.models import Invoice, InvoiceLine
from civicdesk.core.api import Pagination, UnprocessableContent, query_params
from civicdesk.ledger import selectors as ledger_selectors
from civicdesk.ledger.postings import amount_text

LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# YYYY-MM from the year 1 (a date has no year 0), spelled out so the schema says it too.
PERIOD_PATTERN = r"^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(?:0[1-9]|1[0-2])$"
AMOUNT_SCHEMA = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "2451.90"}
amount_field = extend_schema_field(AMOUNT_SCHEMA)
nullable_amount_field = extend_schema_field({**AMOUNT_SCHEMA, "nullable": True})


class FileNegotiation:
    """For views that answer with files: JSON (answers and error bodies) whatever the client
    accepts, so `Accept: application/pdf` is not a 406; and `?format=` is the view's own
    parameter, not DRF's renderer override."""

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type


def _decimal(value) -> str:
    return format(value, "f")


# --- serializers ----------------------------------------------------------------------------


class InvoiceQuery(serializers.Serializer):
    account = serializers.CharField(
        required=False, max_length=20, help_text="An account number: only its invoices."
    )
    period = serializers.RegexField(
        PERIOD_PATTERN, required=False, help_text="The billed month, YYYY-MM (from 0001-01)."
    )


class InvoiceSerializer(serializers.Serializer):
    """An invoice's header and totals (amounts as decimal strings)."""

    id = serializers.UUIDField(source="public_id")
    number = serializers.CharField()
    account_number = serializers.CharField(source="account.number")
    period = serializers.SerializerMethodField()
    currency = serializers.CharField()
    issued_on = serializers.DateField()
    due_on = serializers.DateField()
    opening_balance = serializers.SerializerMethodField()
    charges = serializers.SerializerMethodField()
    payments = serializers.SerializerMethodField()
    adjustments = serializers.SerializerMethodField()
    closing_balance = serializers.SerializerMethodField()
    to_pay = serializers.SerializerMethodField()
    unpaid = serializers.SerializerMethodField()
    revision = serializers.IntegerField()

    @extend_schema_field({"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}$"})
    def get_period(self, invoice) -> str:
        return f"{invoice.period:%Y-%m}"

    @amount_field
    def get_opening_balance(self, invoice) -> str:
        return amount_text(invoice.opening_minor, invoice.currency)

    @amount_field
    def get_charges(self, invoice) -> str:
        return amount_text(invoice.charges_minor, invoice.currency)

    @amount_field
    def get_payments(self, invoice) -> str:
        return amount_text(invoice.payments_minor, invoice.currency)

    @amount_field
    def get_adjustments(self, invoice) -> str:
        return amount_text(invoice.adjustments_minor, invoice.currency)

    @amount_field
    def get_closing_balance(self, invoice) -> str:
        return amount_text(invoice.closing_minor, invoice.currency)

    @amount_field
    def get_to_pay(self, invoice) -> str:
        return amount_text(max(invoice.closing_minor, 0), invoice.currency)

    @nullable_amount_field
    def get_unpaid(self, invoice) -> str | None:
        """What the ledger still shows unpaid of the bill's own charges: "0.00" when paid,
        null when the ledger holds no charge for it."""
        open_minor = self.context.get("unpaid", {}).get(invoice.pk)
        return None if open_minor is None else amount_text(open_minor, invoice.currency)


class InvoiceLineSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    kind = serializers.ChoiceField(
        choices=InvoiceLine.Kind.values,
        help_text="charge: the run's; adjustment: a later run's change; dispute: a settlement.",
    )
    service = serializers.CharField()
    service_label = serializers.CharField()
    quantity = serializers.SerializerMethodField()
    unit = serializers.CharField()
    amount = serializers.SerializerMethodField()
    tax = serializers.SerializerMethodField()
    explanation = serializers.CharField()
    true_up = serializers.SerializerMethodField()
    revision = serializers.IntegerField()

    @nullable_amount_field
    def get_quantity(self, line) -> str | None:
        return None if line.quantity is None else _decimal(line.quantity.normalize())

    @amount_field
    def get_amount(self, line) -> str:
        return _decimal(line.amount)

    @amount_field
    def get_tax(self, line) -> str:
        return _decimal(line.tax)

    @nullable_amount_field
    def get_true_up(self, line) -> str | None:
        """By how much earlier estimates were corrected in this line (in its unit), if any."""
        for entry in line.detail or ():
            if isinstance(entry, list | tuple) and len(entry) >= 2 and entry[0] == bill.TRUE_UP:
                return str(entry[1])
        return None


class InvoicePartSerializer(serializers.Serializer):
    provider = inline_serializer(
        "InvoiceProvider", {"code": serializers.CharField(), "name": serializers.CharField()}
    )
    lines = InvoiceLineSerializer(many=True)
    charges = serializers.SerializerMethodField()
    adjustments = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()

    @amount_field
    def get_charges(self, part) -> str:
        return _decimal(part.charges)

    @amount_field
    def get_adjustments(self, part) -> str:
        return _decimal(part.adjustments)

    @amount_field
    def get_total(self, part) -> str:
        return _decimal(part.total)


PayeeSerializer = inline_serializer(
    "InvoicePayee",
    {
        "name": serializers.CharField(),
        "bank_name": serializers.CharField(),
        "iban": serializers.CharField(),
        "bank_account": serializers.CharField(),
        "bank_code": serializers.CharField(),
        "correspondent_account": serializers.CharField(),
        "tax_number": serializers.CharField(),
    },
    allow_null=True,
)


class InvoiceDetailSerializer(InvoiceSerializer):
    """An invoice with its lines, one part per provider (a single payment document)."""

    holder = serializers.CharField(source="view.holder")
    address = serializers.CharField(source="view.address")
    parts = InvoicePartSerializer(source="view.parts", many=True)
    payee = serializers.SerializerMethodField()

    @extend_schema_field(PayeeSerializer)
    def get_payee(self, invoice) -> dict | None:
        payee = invoice.view.payee
        if payee is None:
            return None
        return {
            "name": payee.name,
            "bank_name": payee.bank_name,
            "iban": payee.iban,
            "bank_account": payee.bank_account,
            "bank_code": payee.bank_code,
            "correspondent_account": payee.correspondent_account,
            "tax_number": payee.tax_number,
        }


class InvoicePaymentQrSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["gost_r_56042", "nbu", "epc", "reference"])
    payload = serializers.CharField(help_text="The text the QR code carries.")


class AccountStatementEntrySerializer(serializers.Serializer):
    date = serializers.DateField(source="value_date")
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    reference = serializers.CharField()
    description = serializers.CharField()
    services = serializers.ListField(child=serializers.CharField())
    amount = serializers.SerializerMethodField(
        help_text="Positive: charged; negative: paid or credited."
    )
    balance = serializers.SerializerMethodField(help_text="The balance after this entry.")

    @amount_field
    def get_amount(self, entry) -> str:
        return _decimal(entry.amount)

    @amount_field
    def get_balance(self, entry) -> str:
        return _decimal(entry.balance)


class AccountStatementSerializer(serializers.Serializer):
    account_number = serializers.CharField(source="account.number")
    currency = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    opening_balance = serializers.SerializerMethodField()
    charged = serializers.SerializerMethodField()
    credited = serializers.SerializerMethodField()
    closing_balance = serializers.SerializerMethodField()
    entries = AccountStatementEntrySerializer(many=True)

    @amount_field
    def get_opening_balance(self, statement) -> str:
        return _decimal(statement.opening)

    @amount_field
    def get_charged(self, statement) -> str:
        return _decimal(statement.charged)

    @amount_field
    def get_credited(self, statement) -> str:
        return _decimal(statement.credited)

    @amount_field
    def get_closing_balance(self, statement) -> str:
        return _decimal(statement.closing)


# --- views ----------------------------------------------------------------------------------

INVOICE_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class InvoiceListView(generics.GenericAPIView):
    pagination_class = Pagination
    serializer_class = InvoiceSerializer
    queryset = Invoice.objects.none()  # the rows come from the selector; for the schema

    @extend_schema(
        parameters=[InvoiceQuery],
        responses={200: InvoiceSerializer(many=True)},
        summary="Bills, newest period first",
        description="A resident sees the bills of their linked accounts, staff every bill. "
        "`unpaid` is what the ledger still shows open of each bill's own charges.",
    )
    def get(self, request):
        filters = query_params(InvoiceQuery, request)
        invoices = selectors.invoices_visible_to(request.user).order_by("-period", "number")
        if filters.get("account"):
            invoices = invoices.filter(account__number=filters["account"].strip())
        if filters.get("period"):
            invoices = invoices.filter(period=compose.parse_period(filters["period"]))
        page = self.paginate_queryset(invoices)
        context = {"unpaid": selectors.invoices_open_minor(page)}
        return self.get_paginated_response(InvoiceSerializer(page, many=True, context=context).data)


class InvoiceDetailView(APIView):
    @extend_schema(
        parameters=[INVOICE_ID],
        responses={200: InvoiceDetailSerializer},
        summary="One bill with its lines per provider",
        description="Every line with its explanation; adjustment lines (kind `adjustment`) "
        "are what later runs changed, `true_up` the correction of earlier estimates.",
    )
    def get(self, request, public_id):
        invoice = selectors.invoice_for_user(request.user, public_id)
        invoice.view = selectors.invoice_view(invoice)
        context = {"unpaid": selectors.invoices_open_minor([invoice])}
        return Response(InvoiceDetailSerializer(invoice, context=context).data)


class InvoicePdfView(FileNegotiation, APIView):
    @extend_schema(
        parameters=[
            INVOICE_ID,
            OpenApiParameter(
                "lang",
                str,
                enum=LANGUAGE_CODES,
                description="The bill's language; default: the holder's (or the operator's).",
            ),
        ],
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)},
        summary="The PDF bill (a duplicate at any time)",
    )
    def get(self, request, public_id):
        invoice = selectors.invoice_for_user(request.user, public_id)
        language = request.query_params.get("lang")
        if language is not None and language not in LANGUAGE_CODES:
            raise exceptions.ValidationError(
                {"lang": [_("Choose one of: %(codes)s.") % {"codes": ", ".join(LANGUAGE_CODES)}]}
            )
        response = HttpResponse(bill.bill_pdf(invoice, language), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
        return response


class InvoiceQrView(FileNegotiation, APIView):
    @extend_schema(
        parameters=[
            INVOICE_ID,
            OpenApiParameter(
                "image",
                str,
                enum=["png", "svg"],
                description="Draw the code instead: a PNG or an SVG image.",
            ),
        ],
        responses={
            (200, "application/json"): InvoicePaymentQrSerializer,
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.STR),
        },
        summary="The bill's payment QR code",
        description="The payload of the operator's national standard (GOST R 56042-2014, "
        "the NBU's QR, EPC or a plain payment reference); 404 when the bill has none.",
    )
    def get(self, request, public_id):
        invoice = selectors.invoice_for_user(request.user, public_id)
        image = request.query_params.get("image")
        if image is not None and image not in ("png", "svg"):
            raise exceptions.ValidationError({"image": [_("Choose png or svg.")]})
        payload = bill.bill_qr(invoice)
        if payload is None:
            raise exceptions.NotFound(_("This bill has no payment QR code."))
        if image == "png":
            return HttpResponse(qr_png(payload, scale=6), content_type="image/png")
        if image == "svg":
            return HttpResponse(qr_svg(payload, scale=6), content_type="image/svg+xml")
        return Response(
            InvoicePaymentQrSerializer({"format": payload.format, "payload": payload.text}).data
        )


def _date_param(request, name: str) -> date | None:
    """A YYYY-MM-DD query parameter; anything else (also an empty one) is a 422 naming it."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        if not DATE_PATTERN.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise UnprocessableContent({name: [selectors.STATEMENT_ERRORS["invalid"]]}) from None


class StatementView(FileNegotiation, APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (included)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (included)."),
            OpenApiParameter("format", str, enum=["json", "csv", "pdf"]),
        ],
        responses={
            (200, "application/json"): AccountStatementSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
        },
        summary="Statement of account over a date range",
        description="Opening balance, every charge, payment and adjustment (by value date) "
        "and the closing balance; the last 36 months unless `from`/`to` say otherwise, at "
        "most 10 years. A date that is not YYYY-MM-DD, `from` after `to` or a longer range "
        "is a 422 naming the field. CSV amounts are plain decimals (negative: paid).",
    )
    def get(self, request, account_number: str):
        account = ledger_selectors.account_for_caller(request.user, account_number)
        kind = request.query_params.get("format", "json")
        if kind not in ("json", "csv", "pdf"):
            raise exceptions.ValidationError({"format": [_("Choose json, csv or pdf.")]})
        try:
            date_from, date_to = selectors.statement_range(
                _date_param(request, "from"),
                _date_param(request, "to"),
                today=timezone.localdate(),
            )
        except selectors.StatementRangeError as exc:
            raise UnprocessableContent({exc.field: [exc.message]}) from None
        statement = selectors.account_statement(account, date_from, date_to)
        if kind == "json":
            return Response(AccountStatementSerializer(statement).data)
        return bill.statement_download(statement, kind, get_language())


urlpatterns = [
    path("invoices", InvoiceListView.as_view(), name="invoices"),
    path("invoices/<uuid:public_id>", InvoiceDetailView.as_view(), name="invoice"),
    path("invoices/<uuid:public_id>/pdf", InvoicePdfView.as_view(), name="invoice-pdf"),
    path("invoices/<uuid:public_id>/payment-qr", InvoiceQrView.as_view(), name="invoice-qr"),
    path(
        "accounts/<str:account_number>/statement",
        StatementView.as_view(),
        name="account-statement",
    ),
]
