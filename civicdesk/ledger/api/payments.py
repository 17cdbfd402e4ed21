"""API: online payments.

`POST /payments` starts a payment and answers where to pay (the gateway's page, or a form to
post to it); the money is posted only when the gateway confirms it. Residents pay into their
own linked accounts (another account answers 404); staff with the revenue team's permission
into any. `GET /payments` lists the caller's payments (all of them for staff who read the
ledger) and `GET /payments/{id}` shows one (another resident's answers 404).

Amounts are decimal strings in the operator's currency ("150.00"): never rounded, so "10.001"
is refused, as are zero and negative amounts (422, nothing written)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
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
from rest_framework.fields import empty
from rest_framework.request import Request
from rest_framework.response import Response

from civicdesk.core.api import AmountField, StrictCharField
from civicdesk.core.idempotency import idempotent
from civicdesk.ledger import payment_selectors, payments, postings
from civicdesk.ledger.models import Payment
from civicdesk.registry.models import PersonalAccount
from civicdesk.registry.selectors import account_for_user


class StrictBooleanField(serializers.BooleanField):
    """true or false in JSON (DRF would take "yes", 1 or "on" too)."""

    default_empty_html = empty

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class PaymentCreateSerializer(serializers.Serializer):
    account_number = StrictCharField(max_length=40, help_text="The personal account to pay into.")
    amount = AmountField(
        help_text="In the operator's currency, as a decimal string; never rounded."
    )
    gateway = StrictCharField(max_length=30, help_text="A configured gateway, e.g. sandbox.")
    invoice = StrictCharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Pay this bill first (its invoice number).",
    )
    saved_method = serializers.UUIDField(
        required=False, help_text="One of your saved methods: pay at once (one click)."
    )
    save_method = StrictBooleanField(
        required=False, default=False, help_text="Keep the card for one-click payments."
    )


class CheckoutSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="Where to send the payer.")
    method = serializers.ChoiceField(
        choices=[("GET", "GET"), ("POST", "POST")],
        help_text="GET: redirect to url; POST: submit a form with `fields` to url.",
    )
    fields = serializers.DictField(child=serializers.CharField())


class PaymentSerializer(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField()
    account_number = serializers.CharField(source="account.number", read_only=True)
    checkout = serializers.SerializerMethodField()
    needs_review = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "status",
            "amount",
            "currency",
            "gateway",
            "account_number",
            "invoice",
            "channel",
            "checkout",
            "needs_review",
            "created_at",
            "settled_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "example": "150.00"})
    def get_amount(self, payment) -> str:
        return postings.amount_text(payment.amount_minor, payment.currency)

    @extend_schema_field(CheckoutSerializer(allow_null=True))
    def get_checkout(self, payment):
        if payment.is_final or not payment.checkout_url:
            return None
        return {
            "url": self.context["request"].build_absolute_uri(payment.checkout_url),
            "method": payment.checkout_method,
            "fields": payment.checkout_fields or {},
        }

    def get_needs_review(self, payment) -> bool:
        return bool(getattr(payment, "needs_review", False))


# --- views ----------------------------------------------------------------------------------

PAYMENT_ID = OpenApiParameter(
    "payment_id",
    type=OpenApiTypes.UUID,
    location=OpenApiParameter.PATH,
    description="The payment's id.",
)


def _account(request: Request, number: str) -> PersonalAccount:
    """The account to pay into: the caller's own linked account, or any for the revenue team.
    Anyone else's, or none, is 404 (never 403: whether it exists is not told)."""
    user = request.user
    if payment_selectors.can_work(user):
        account = PersonalAccount.objects.filter(number=number.strip()).first()
        if account is None:
            raise exceptions.NotFound(
                _("There is no account %(number)s.") % {"number": number.strip()}
            )
        return account
    try:
        return account_for_user(user, number.strip())
    except Http404 as exc:
        raise exceptions.NotFound(
            _("No account %(number)s is linked to you.") % {"number": number.strip()}
        ) from exc


class PaymentListCreate(generics.ListAPIView):
    serializer_class = PaymentSerializer
    queryset = Payment.objects.none()
    filter_backends: list = []

    def get_queryset(self):
        return payment_selectors.payments_for_caller(self.request.user)

    @extend_schema(
        summary="Your payments, newest first (all payments for staff who read the ledger)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start a payment",
        description=(
            "Creates a payment and answers where to pay: redirect the payer to `checkout.url` "
            "(`method` GET) or submit a form with `checkout.fields` to it (`method` POST). The "
            "account is credited only once the gateway confirms the payment; follow it with "
            "`GET /payments/{id}`. With `saved_method` the gateway charges a saved card at once "
            "and the answer is already settled (no checkout).\n\n"
            "Refused with 422 (nothing written): an amount of zero or less, more decimals than "
            "the currency has, an unknown or unconfigured gateway, a gateway that does not take "
            "the operator's currency, a closed account, a saved method that is not yours. An "
            "account that is not linked to you answers 404."
        ),
        request=PaymentCreateSerializer,
        responses={201: PaymentSerializer},
        examples=[
            OpenApiExample(
                "Pay through the sandbox",
                value={"account_number": "1000000018", "amount": "150.00", "gateway": "sandbox"},
                request_only=True,
            )
        ],
    )
    # Not atomic: the payment is committed before the gateway is asked for a checkout (a
    # network call that must not hold a transaction open), as core.idempotency advises.
    @idempotent(atomic=False)
    def post(self, request, *args, **kwargs):
        incoming = PaymentCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        account = _account(request, data["account_number"])
        try:
            payment = self._create(request, account, data)
        except DjangoValidationError as exc:
            # The service names the account "account"; the request calls it account_number.
            if hasattr(exc, "error_dict") and "account" in exc.error_dict:
                exc.error_dict["account_number"] = exc.error_dict.pop("account")
            raise
        payment = payment_selectors.payment_by_id(payment.pk)
        return Response(
            PaymentSerializer(payment, context={"request": request}).data,
            status=http_status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(f"{request.path}/{payment.pk}")},
        )

    @staticmethod
    def _create(request, account, data) -> Payment:
        return payments.payment_create(
            account=account,
            amount=data["amount"],
            gateway=data["gateway"],
            actor=request.user,
            channel=Payment.Channel.STAFF if request.user.is_staff else Payment.Channel.API,
            invoice=data.get("invoice", ""),
            save_method=data.get("save_method", False),
            saved_method=data.get("saved_method"),
            language=getattr(request, "LANGUAGE_CODE", "en"),
            base_url=request.build_absolute_uri("/"),
        )


class PaymentDetail(generics.RetrieveAPIView):
    serializer_class = PaymentSerializer
    queryset = Payment.objects.none()
    filter_backends: list = []

    @extend_schema(summary="One payment and its status", parameters=[PAYMENT_ID])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return payment_selectors.payment_for_caller(self.request.user, self.kwargs["payment_id"])


urlpatterns = [
    path("payments", PaymentListCreate.as_view(), name="payment-list"),
    path("payments/<uuid:payment_id>", PaymentDetail.as_view(), name="payment-detail"),
]
