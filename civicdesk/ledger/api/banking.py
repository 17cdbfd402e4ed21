"""API: bank statements, unmatched bank lines and missing payments.

The revenue team uploads statements (`POST /bank-statements`, a CSV in the bank's configured
format or a camt.053 file), reads them and the lines waiting in suspense
(`GET /bank-lines?status=suspense`) and puts a line on an account
(`POST /bank-lines/{id}/match`). Residents report a payment that does not show on one of their
own accounts (`POST /missing-payments`, another resident's account answers 404) and follow
their reports (`GET /missing-payments`); staff who read the ledger see every report.

Money-moving requests (the upload and the match) require an `Idempotency-Key` header."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, generics, permissions, serializers
from rest_framework import status as http_status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from civicdesk.cases.models import Channel
from civicdesk.core.api import (
    PositiveAmountField,
    StrictCharField,
    UnprocessableContent,
    query_params,
)
from civicdesk.core.idempotency import idempotent
from civicdesk.ledger import banking, banking_selectors, postings, selectors
from civicdesk.ledger.models import BankFormat, BankLine, BankStatement, MissingPaymentReport
from civicdesk.registry.models import PersonalAccount
from civicdesk.registry.selectors import account_for_user
from civicdesk.registry.services import account_number_parse

MAX_STATEMENT_BYTES = 20 * 1024 * 1024

VIEW_STATEMENTS = "ledger.view_bankstatement"
UPLOAD = "ledger.add_bankstatement"
VIEW_LINES = "ledger.view_bankline"
MATCH = "ledger.match_bankline"
VIEW_REPORTS = "ledger.view_missingpaymentreport"


MONEY_SCHEMA = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "350.00"}


class StaffPermission(permissions.BasePermission):
    """Staff whose role holds the view's permission for the request's method."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        perms = view.staff_permissions.get(request.method, view.staff_permissions.get("*", ()))
        return user.has_perms(perms) if perms else True


# --- fields -----------------------------------------------------------------------------------


# --- serializers ------------------------------------------------------------------------------


class StatementSerializer(serializers.ModelSerializer):
    format = serializers.CharField(source="bank_format.code", read_only=True)
    imported_by = serializers.SerializerMethodField()
    lines = serializers.IntegerField(source="line_count", read_only=True)
    matched = serializers.IntegerField(source="matched_count", read_only=True)
    suspense = serializers.IntegerField(source="suspense_count", read_only=True)
    resolved = serializers.IntegerField(source="resolved_count", read_only=True)
    ignored = serializers.IntegerField(source="ignored_count", read_only=True)
    total = serializers.SerializerMethodField()

    class Meta:
        model = BankStatement
        fields = [
            "id",
            "format",
            "statement_id",
            "bank_account",
            "file_name",
            "currency",
            "imported_at",
            "imported_by",
            "lines",
            "matched",
            "suspense",
            "resolved",
            "ignored",
            "total",
        ]
        read_only_fields = fields

    def get_imported_by(self, statement) -> str | None:
        return statement.imported_by.email if statement.imported_by else None

    @extend_schema_field(MONEY_SCHEMA)
    def get_total(self, statement) -> str:
        return postings.amount_text(statement.total_minor, statement.currency)


class StatementImportSerializer(serializers.Serializer):
    statements = StatementSerializer(many=True)


class StatementUploadSerializer(serializers.Serializer):
    format = StrictCharField(max_length=40, help_text="The bank format's code.")
    file = serializers.FileField(
        required=False,  # Django's multipart parser drops an empty file part: see the view
        allow_empty_file=True,
        max_length=255,
        help_text="The statement: CSV as the bank exports it, or camt.053 XML; at most 20 MB.",
    )


class BankLineSerializer(serializers.ModelSerializer):
    statement = serializers.UUIDField(source="statement_id", read_only=True)
    amount = serializers.SerializerMethodField()
    account_number = serializers.SerializerMethodField()
    report = serializers.UUIDField(source="report_id", read_only=True, allow_null=True)
    resolved_by = serializers.SerializerMethodField()

    class Meta:
        model = BankLine
        fields = [
            "id",
            "statement",
            "line_no",
            "booked_on",
            "value_date",
            "amount",
            "currency",
            "reference",
            "counterparty",
            "bank_ref",
            "status",
            "match_reason",
            "account_number",
            "report",
            "resolved_by",
            "resolved_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MONEY_SCHEMA)
    def get_amount(self, line) -> str:
        return postings.amount_text(line.amount_minor, line.currency)

    def get_account_number(self, line) -> str | None:
        return line.account.number if line.account_id else None

    def get_resolved_by(self, line) -> str | None:
        return line.resolved_by.email if line.resolved_by_id else None


class LineQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=BankLine.Status.choices, required=False)
    date_from = serializers.DateField(required=False, help_text="Booked on or after.")
    date_to = serializers.DateField(required=False, help_text="Booked on or before.")
    amount = PositiveAmountField(required=False, help_text="Exactly this amount.")
    q = serializers.CharField(
        required=False, max_length=100, help_text="Reference, payer or bank reference contains."
    )
    statement = serializers.UUIDField(required=False)


class MatchSerializer(serializers.Serializer):
    account_number = StrictCharField(
        max_length=40, help_text="The account to credit, with its check digit."
    )
    report = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The missing-payment report this payment answers (it is closed and the "
        "resident told). Left out: an open report of the account for this amount, if any.",
    )


class MissingPaymentSerializer(serializers.ModelSerializer):
    account_number = serializers.CharField(source="account.number", read_only=True)
    amount = serializers.SerializerMethodField()
    case_reference = serializers.SerializerMethodField()

    class Meta:
        model = MissingPaymentReport
        fields = [
            "id",
            "account_number",
            "paid_on",
            "amount",
            "currency",
            "bank_reference",
            "status",
            "case_reference",
            "created_at",
            "resolved_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MONEY_SCHEMA)
    def get_amount(self, report) -> str:
        return postings.amount_text(report.amount_minor, report.currency)

    def get_case_reference(self, report) -> str | None:
        return report.case.reference if report.case_id else None


class MissingPaymentJsonSerializer(serializers.Serializer):
    account_number = StrictCharField(max_length=40, help_text="One of your linked accounts.")
    paid_on = serializers.DateField(help_text="The day you paid.")
    amount = PositiveAmountField(help_text="The amount paid, in the operator's currency.")
    bank_reference = StrictCharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="The bank's reference.",
    )


class MissingPaymentCreateSerializer(MissingPaymentJsonSerializer):
    proof = serializers.FileField(
        required=False,
        allow_empty_file=True,
        max_length=255,
        help_text="A receipt or bank statement: PDF, JPEG or PNG, up to 10 MB.",
    )


class ReportQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=MissingPaymentReport.Status.choices, required=False)


def _domain(call, **kwargs):
    """Run a service; its ValidationError is the API's 422."""
    try:
        return call(**kwargs)
    except DjangoValidationError as exc:
        raise UnprocessableContent(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        ) from exc


# --- statements -------------------------------------------------------------------------------


class StatementListCreate(generics.ListAPIView):
    serializer_class = StatementSerializer
    permission_classes = [StaffPermission]
    staff_permissions = {"GET": (VIEW_STATEMENTS,), "POST": (VIEW_STATEMENTS, UPLOAD)}
    parser_classes = [MultiPartParser, FormParser]
    queryset = BankStatement.objects.none()
    filter_backends: list = []

    def get_queryset(self):
        return banking_selectors.statements_list()

    @extend_schema(summary="Imported bank statements, newest first, with their line counts")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Import a bank statement",
        description=(
            "Send the file with the code of its bank format (see the back office). Credit "
            "lines naming an account number whose check digit verifies are posted to that "
            "account and allocated; lines fitting a resident's missing-payment report go to "
            "its account; the rest wait in suspense for an officer; debits are recorded and "
            "ignored. All or nothing.\n\n"
            "Refused with 422, nothing written: a file that cannot be read (the error names "
            "the line), an unknown or switched-off format, a statement already imported (the "
            "same file, or the same bank account and statement id; the error names the "
            "earlier import's date)."
        ),
        request={"multipart/form-data": StatementUploadSerializer},
        responses={201: StatementImportSerializer},
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        incoming = StatementUploadSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        bank_format = BankFormat.objects.filter(code=data["format"]).first()
        if bank_format is None:
            raise UnprocessableContent({"format": [_("There is no bank format with this code.")]})
        upload = data.get("file")
        if upload is None:  # no file part, or an empty one (which the parser drops)
            raise UnprocessableContent({"file": [_("Attach the statement file; it is empty.")]})
        if upload.size > MAX_STATEMENT_BYTES:
            raise UnprocessableContent(
                {"file": [_("The file is too large: at most %(mb)d MB.") % {"mb": 20}]}
            )
        statements = _domain(
            banking.statements_import,
            bank_format=bank_format,
            data=upload.read(),
            file_name=upload.name,
            actor=request.user,
        )
        rows = banking_selectors.statements_list().filter(pk__in=[s.pk for s in statements])
        order = {s.pk: index for index, s in enumerate(statements)}
        rows = sorted(rows, key=lambda s: order[s.pk])
        return Response(
            {"statements": StatementSerializer(rows, many=True).data},
            status=http_status.HTTP_201_CREATED,
        )


# --- bank lines -------------------------------------------------------------------------------

LINE_ID = OpenApiParameter("line_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class BankLineList(generics.ListAPIView):
    serializer_class = BankLineSerializer
    permission_classes = [StaffPermission]
    staff_permissions = {"GET": (VIEW_LINES,)}
    queryset = BankLine.objects.none()
    filter_backends: list = []

    def get_queryset(self):
        params = query_params(LineQuerySerializer, self.request)
        lines = BankLine.objects.select_related("account", "resolved_by")
        if params.get("status"):
            lines = lines.filter(status=params["status"])
        if params.get("date_from"):
            lines = lines.filter(booked_on__gte=params["date_from"])
        if params.get("date_to"):
            lines = lines.filter(booked_on__lte=params["date_to"])
        if params.get("amount") is not None:
            try:
                minor = postings.to_minor(
                    params["amount"], postings.currency_exponent(selectors.operator_currency())
                )
            except postings.PostingError:
                return BankLine.objects.none()  # no line has more decimals than its currency
            lines = lines.filter(amount_minor=minor)
        if params.get("q"):
            text = params["q"]
            lines = lines.filter(
                Q(reference__icontains=text)
                | Q(counterparty__icontains=text)
                | Q(bank_ref__icontains=text)
            )
        if params.get("statement"):
            lines = lines.filter(statement_id=params["statement"])
        return lines.order_by("booked_on", "statement__imported_at", "line_no")

    @extend_schema(
        summary="Bank statement lines; `status=suspense` is the officers' queue",
        parameters=[LineQuerySerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class BankLineMatch(APIView):
    permission_classes = [StaffPermission]
    staff_permissions = {"POST": (VIEW_LINES, MATCH)}
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Put an unmatched bank line on an account",
        description=(
            "Moves the line's money from suspense to the account (allocated like any payment: "
            "open charges first, the rest as credit) and marks the line matched by you. With "
            "`report` (or when the account has one open report of this amount) the report is "
            "closed, its case resolved and the resident told.\n\n"
            "Refused with 422, nothing posted: an account number with a wrong check digit, no "
            "such account, a closed account, a line already matched (or not a payment), a "
            "line in another currency, a report about another account or another amount."
        ),
        request=MatchSerializer,
        responses={200: BankLineSerializer},
        parameters=[LINE_ID],
        examples=[
            OpenApiExample("Match", value={"account_number": "1000000018"}, request_only=True)
        ],
    )
    @idempotent
    def post(self, request, line_id):
        line = BankLine.objects.filter(pk=line_id).first()
        if line is None:
            raise Http404
        incoming = MatchSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        number = _domain(account_number_parse, raw=data["account_number"])
        account = PersonalAccount.objects.filter(number=number).first()
        if account is None:
            raise UnprocessableContent({"account_number": [_("No account has this number.")]})
        report = None
        if data.get("report"):
            report = MissingPaymentReport.objects.filter(pk=data["report"]).first()
            if report is None:
                raise UnprocessableContent({"report": [_("There is no such report.")]})
        line = _domain(
            banking.bank_line_match, line=line, account=account, report=report, actor=request.user
        )
        line = BankLine.objects.select_related("account", "resolved_by").get(pk=line.pk)
        return Response(BankLineSerializer(line).data)


# --- missing payments -------------------------------------------------------------------------


def _reports_for(user):
    if user.is_staff and user.has_perm(VIEW_REPORTS):
        return MissingPaymentReport.objects.select_related("account", "case")
    return banking_selectors.reports_for_user(user)


class MissingPaymentListCreate(generics.ListAPIView):
    serializer_class = MissingPaymentSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    queryset = MissingPaymentReport.objects.none()
    filter_backends: list = []

    def get_queryset(self):
        params = query_params(ReportQuerySerializer, self.request)
        reports = _reports_for(self.request.user)
        if params.get("status"):
            reports = reports.filter(status=params["status"])
        return reports.order_by("-created_at")

    @extend_schema(
        summary="Missing-payment reports: your own (staff who read the ledger: everyone's)",
        parameters=[ReportQuerySerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Report a payment that does not show on your account",
        description=(
            "Files a request (a case) in the revenue team's queue, with the proof attached. "
            "They look for the payment among the bank lines nobody could match, put it on your "
            "account and tell you; follow it with `GET /missing-payments` or the case.\n\n"
            "An account that is not linked to you answers 404. Refused with 422, nothing "
            "written: an amount of zero, or with more decimals than the currency has, a date "
            "in the future or more than three years ago, a proof that is not a PDF or an "
            "image, the same payment reported twice."
        ),
        request={
            "multipart/form-data": MissingPaymentCreateSerializer,
            "application/json": MissingPaymentJsonSerializer,
        },
        responses={201: MissingPaymentSerializer},
    )
    @idempotent(required=False)
    def post(self, request, *args, **kwargs):
        form = not (request.content_type or "").startswith("application/json")
        incoming = (MissingPaymentCreateSerializer if form else MissingPaymentJsonSerializer)(
            data=request.data
        )
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            account = account_for_user(request.user, data["account_number"].strip())
        except Http404 as exc:
            raise exceptions.NotFound(
                _("No account %(number)s is linked to you.")
                % {"number": data["account_number"].strip()}
            ) from exc
        report = _domain(
            banking.missing_payment_report,
            account=account,
            reporter=request.user,
            paid_on=data["paid_on"],
            amount=data["amount"],
            bank_reference=data.get("bank_reference", ""),
            proof=data.get("proof"),
            channel=Channel.API,
        )
        return Response(
            MissingPaymentSerializer(report).data,
            status=http_status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(f"{request.path}/{report.pk}")},
        )


class MissingPaymentDetail(generics.RetrieveAPIView):
    serializer_class = MissingPaymentSerializer
    queryset = MissingPaymentReport.objects.none()
    filter_backends: list = []

    @extend_schema(
        summary="One missing-payment report",
        parameters=[OpenApiParameter("report_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        report = _reports_for(self.request.user).filter(pk=self.kwargs["report_id"]).first()
        if report is None:
            raise Http404
        return report


urlpatterns = [
    path("bank-statements", StatementListCreate.as_view(), name="bank-statement-list"),
    path("bank-lines", BankLineList.as_view(), name="bank-line-list"),
    path("bank-lines/<uuid:line_id>/match", BankLineMatch.as_view(), name="bank-line-match"),
    path("missing-payments", MissingPaymentListCreate.as_view(), name="missing-payment-list"),
    path(
        "missing-payments/<uuid:report_id>",
        MissingPaymentDetail.as_view(),
        name="missing-payment-detail",
    ),
]
