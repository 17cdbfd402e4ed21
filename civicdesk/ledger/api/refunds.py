"""API: refunds of a resident's credit.

Residents ask for a refund from one of their linked accounts (another account answers 404),
follow their own requests and cancel them before payout; staff who read the ledger see every
request, the revenue team approves or rejects (a second approver above the operator's
threshold, never the requester) and records the payout. Every POST moves money (it sets credit
aside, returns it or pays it out) and takes an `Idempotency-Key` header.

Amounts are decimal strings in the operator's currency ("150.00"), never rounded: "10.001" is
refused, as are zero and negative amounts and more than the credit (422, nothing written)."""

from __future__ import annotations

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
from rest_framework import exceptions, generics, serializers
from rest_framework import status as http_status
from rest_framework.response import Response
from rest_framework.views import APIView

from civicdesk.cases.models import Channel
from civicdesk.core.api import AmountField, StrictCharField
from civicdesk.core.idempotency import idempotent
from civicdesk.ledger import postings, refund_selectors, refunds
from civicdesk.ledger.models import RefundApproval, RefundRequest
from civicdesk.registry.selectors import account_for_user

VIEW_PERMISSION = "ledger.view_refundrequest"


def _can_read_all(user) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm(VIEW_PERMISSION))


# --- serializers --------------------------------------------------------------------------------


class RefundCreateSerializer(serializers.Serializer):
    account_number = StrictCharField(max_length=40, help_text="Your personal account with credit.")
    amount = AmountField(
        help_text="In the operator's currency, as a decimal string; at most the credit available."
    )
    holder = StrictCharField(max_length=200, help_text="The bank account holder's name.")
    iban = StrictCharField(
        max_length=50, required=False, allow_blank=True, help_text="Ukraine: the IBAN (UA…)."
    )
    bank_account_number = StrictCharField(
        max_length=40,
        required=False,
        allow_blank=True,
        help_text="South Africa: 7-11 digits; Russia: 20 digits. Not used in Ukraine.",
    )
    branch_code = StrictCharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="South Africa: the 6-digit branch code; Russia: the bank's 9-digit BIK.",
    )
    bank_name = StrictCharField(max_length=200, required=False, allow_blank=True)


class DecisionInSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=RefundApproval.Decision.choices)
    note = StrictCharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="Required to reject: the resident receives it.",
    )


class PayoutInSerializer(serializers.Serializer):
    payout_reference = StrictCharField(
        max_length=100, help_text="The reference of the bank transfer to the resident."
    )


class CancelInSerializer(serializers.Serializer):
    reason = StrictCharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="Required when staff cancel.",
    )


class DecisionOutSerializer(serializers.ModelSerializer):
    approver = serializers.EmailField(source="approver.email")

    class Meta:
        model = RefundApproval
        fields = ["approver", "decision", "note", "created_at"]
        read_only_fields = fields


class RefundSerializer(serializers.ModelSerializer):
    account_number = serializers.CharField(source="account.number", read_only=True)
    amount = serializers.SerializerMethodField()
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    holder = serializers.CharField(source="account_holder", read_only=True)
    case_reference = serializers.SerializerMethodField()
    approvals_given = serializers.SerializerMethodField()
    decisions = serializers.SerializerMethodField()

    class Meta:
        model = RefundRequest
        fields = [
            "id",
            "account_number",
            "amount",
            "currency",
            "status",
            "status_label",
            "holder",
            "bank_name",
            "iban",
            "bank_account_number",
            "branch_code",
            "approvals_needed",
            "approvals_given",
            "decisions",
            "case_reference",
            "payout_reference",
            "reason",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "example": "150.00"})
    def get_amount(self, refund) -> str:
        return postings.amount_text(refund.amount_minor, refund.currency)

    def get_case_reference(self, refund) -> str:
        return refund.case.reference if refund.case_id else ""

    def get_approvals_given(self, refund) -> int:
        return sum(
            1 for a in refund.approvals.all() if a.decision == RefundApproval.Decision.APPROVE
        )

    @extend_schema_field(DecisionOutSerializer(many=True))
    def get_decisions(self, refund):
        """Who decided what: staff only (empty for residents)."""
        request = self.context.get("request")
        if request is None or not _can_read_all(request.user):
            return []
        return DecisionOutSerializer(refund.approvals.all(), many=True).data


# --- views --------------------------------------------------------------------------------------

REFUND_ID = OpenApiParameter(
    "refund_id",
    type=OpenApiTypes.UUID,
    location=OpenApiParameter.PATH,
    description="The refund's id.",
)
STATUS_FILTER = OpenApiParameter(
    "status",
    type=str,
    enum=RefundRequest.Status.values,
    description="Only refunds in this status.",
)
ACCOUNT_FILTER = OpenApiParameter(
    "account_number", type=str, description="Only refunds from this account."
)


def _visible(request, refund_id) -> RefundRequest:
    """The refund, if the caller may see it: staff who read the ledger any, a resident their
    own. Anyone else's answers 404."""
    user = request.user
    if _can_read_all(user):
        return refund_selectors.refund_get(refund_id)
    if user.is_staff:
        raise exceptions.PermissionDenied()
    return refund_selectors.refund_for_user(user, refund_id)


def _answer(request, refund_id, status_code=http_status.HTTP_200_OK, **kwargs) -> Response:
    refund = refund_selectors.refund_get(refund_id)
    return Response(
        RefundSerializer(refund, context={"request": request}).data, status=status_code, **kwargs
    )


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class RefundListCreate(generics.ListAPIView):
    serializer_class = RefundSerializer
    queryset = RefundRequest.objects.none()
    filter_backends: list = []

    def get_queryset(self):
        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or not user.is_authenticated:
            return RefundRequest.objects.none()
        status = self.request.query_params.get("status") or None
        if status and status not in RefundRequest.Status.values:
            raise exceptions.ValidationError({"status": [_("Unknown status.")]})
        account_number = (self.request.query_params.get("account_number") or "").strip() or None
        if _can_read_all(user):
            return refund_selectors.refunds_all(status=status, account_number=account_number)
        if user.is_staff:
            raise exceptions.PermissionDenied()
        queryset = refund_selectors.refunds_for_user(user)
        if status:
            queryset = queryset.filter(status=status)
        if account_number:
            queryset = queryset.filter(account__number=account_number)
        return queryset

    @extend_schema(
        summary="Your refund requests, newest first (every request for staff who read the ledger)",
        parameters=[STATUS_FILTER, ACCOUNT_FILTER],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Ask for a refund of your account's credit",
        description=(
            "Sets the amount aside from the account's credit at once (it can no longer pay "
            "bills), files a case for the revenue team and answers the request, waiting for "
            "approval. Bank details depend on the operator's country: Ukraine an IBAN; South "
            "Africa the account number and the 6-digit branch code (no IBAN); Russia the "
            "20-digit account number and the 9-digit BIK, whose control key must match.\n\n"
            "Refused with 422 (nothing written): an amount of zero or less, more decimals than "
            "the currency has, more than the credit available (also together with your other "
            "open requests), bad bank details (the field is named). An account that is not "
            "linked to you answers 404; staff cannot ask (403)."
        ),
        request=RefundCreateSerializer,
        responses={201: RefundSerializer},
        examples=[
            OpenApiExample(
                "South Africa",
                value={
                    "account_number": "1000000018",
                    "amount": "150.00",
                    "holder": "Naledi Mahlangu",
                    "bank_account_number": "62000012345",
                    "branch_code": "250655",
                    "bank_name": "FNB",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Ukraine",
                value={
                    "account_number": "1000000018",
                    "amount": "150.00",
                    "holder": "Іван Петренко",
                    "iban": "UA213223130000026007233566001",
                },
                request_only=True,
            ),
        ],
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        if request.user.is_staff:
            raise exceptions.PermissionDenied(_("Residents ask for refunds of their own credit."))
        data = _valid(RefundCreateSerializer, request.data)
        try:
            account = account_for_user(request.user, data["account_number"].strip())
        except Http404 as exc:
            raise exceptions.NotFound(
                _("No account %(number)s is linked to you.")
                % {"number": data["account_number"].strip()}
            ) from exc
        refund = refunds.refund_request(
            account=account,
            requester=request.user,
            amount=data["amount"],
            holder=data["holder"],
            iban=data.get("iban", ""),
            bank_account_number=data.get("bank_account_number", ""),
            branch_code=data.get("branch_code", ""),
            bank_name=data.get("bank_name", ""),
            channel=Channel.API,
        )
        return _answer(
            request,
            refund.pk,
            http_status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(f"{request.path}/{refund.pk}")},
        )


class RefundDetail(APIView):
    @extend_schema(
        summary="One refund request and its status",
        parameters=[REFUND_ID],
        responses={200: RefundSerializer},
    )
    def get(self, request, refund_id):
        refund = _visible(request, refund_id)
        return Response(RefundSerializer(refund, context={"request": request}).data)


class RefundCancel(APIView):
    @extend_schema(
        summary="Cancel a refund before it is paid out",
        description=(
            "The resident who asked, or staff who approve refunds (with a reason). The credit set "
            "aside returns to the account. A refund already paid out, rejected or cancelled "
            "answers 422."
        ),
        parameters=[REFUND_ID],
        request=CancelInSerializer,
        responses={200: RefundSerializer},
    )
    @idempotent
    def post(self, request, refund_id):
        refund = _visible(request, refund_id)
        data = _valid(CancelInSerializer, request.data)
        refunds.refund_cancel(refund=refund, actor=request.user, reason=data.get("reason", ""))
        return _answer(request, refund_id)


class RefundDecision(APIView):
    @extend_schema(
        summary="Approve or reject a refund (revenue team)",
        description=(
            "One vote per approver; the requester cannot decide on their own refund. Above the "
            "operator's threshold a second, different approver is needed before the refund is "
            "approved. A rejection needs a note (the resident receives it) and returns the "
            "credit. A refund no longer waiting for a decision answers 422."
        ),
        parameters=[REFUND_ID],
        request=DecisionInSerializer,
        responses={200: RefundSerializer},
    )
    @idempotent
    def post(self, request, refund_id):
        if not request.user.is_staff:
            raise exceptions.PermissionDenied()
        refund = _visible(request, refund_id)
        data = _valid(DecisionInSerializer, request.data)
        refunds.refund_decide(
            refund=refund,
            approver=request.user,
            decision=data["decision"],
            note=data.get("note", ""),
        )
        return _answer(request, refund_id)


class RefundPayout(APIView):
    @extend_schema(
        summary="Record the payout of an approved refund (revenue team)",
        description=(
            "Posts the payout (refunds payable to the payouts bank clearing account), marks the "
            "refund paid and resolves its case with a reply to the resident. Only an approved "
            "refund can be paid, once."
        ),
        parameters=[REFUND_ID],
        request=PayoutInSerializer,
        responses={200: RefundSerializer},
    )
    @idempotent
    def post(self, request, refund_id):
        if not request.user.is_staff:
            raise exceptions.PermissionDenied()
        refund = _visible(request, refund_id)
        data = _valid(PayoutInSerializer, request.data)
        refunds.refund_pay(
            refund=refund, actor=request.user, payout_reference=data["payout_reference"]
        )
        return _answer(request, refund_id)


urlpatterns = [
    path("refunds", RefundListCreate.as_view(), name="refund-list"),
    path("refunds/<uuid:refund_id>", RefundDetail.as_view(), name="refund-detail"),
    path("refunds/<uuid:refund_id>/cancel", RefundCancel.as_view(), name="refund-cancel"),
    path("refunds/<uuid:refund_id>/decision", RefundDecision.as_view(), name="refund-decision"),
    path("refunds/<uuid:refund_id>/payout", RefundPayout.as_view(), name="refund-payout"),
]
