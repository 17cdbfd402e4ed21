"""API: an account's balance and its transactions (the statement), for its residents and for
staff who may read the ledger."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from civicdesk.core.api import Pagination
from civicdesk.ledger import postings, selectors
from civicdesk.ledger.models import Transaction
from civicdesk.registry.models import ServiceType

BalanceSerializer = inline_serializer(
    "AccountBalance",
    {
        "account_number": serializers.CharField(),
        "currency": serializers.CharField(),
        "balance": serializers.DecimalField(max_digits=18, decimal_places=2),
        "owed": serializers.DecimalField(max_digits=18, decimal_places=2),
        "credit": serializers.DecimalField(max_digits=18, decimal_places=2),
        "open": inline_serializer(
            "OpenAmount",
            {
                "service": serializers.CharField(),
                "provider": serializers.CharField(),
                "amount": serializers.DecimalField(max_digits=18, decimal_places=2),
            },
            many=True,
        ),
    },
)


class BalanceView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        responses={200: BalanceSerializer},
        summary="What the account owes or holds in credit",
        description="The balance is the sum of the account's ledger postings: positive is owed, "
        "negative is credit. `open` lists what is still unpaid per service and provider.",
    )
    def get(self, request, account_number: str):
        account = selectors.account_for_caller(request.user, account_number)
        summary = selectors.account_summary(account, currency=selectors.operator_currency())
        currency = summary.currency
        return Response(
            {
                "account_number": account.number,
                "currency": currency,
                "balance": str(summary.balance),
                "owed": str(summary.owed),
                "credit": str(summary.credit),
                "open": [
                    {
                        "service": row.service,
                        "provider": row.provider,
                        "amount": postings.amount_text(row.amount_minor, currency),
                    }
                    for row in summary.open_by_service
                ],
            }
        )


class TransactionFilter(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    service = serializers.ChoiceField(ServiceType.choices, required=False)

    def validate(self, attrs):
        if (
            attrs.get("date_from")
            and attrs.get("date_to")
            and attrs["date_from"] > attrs["date_to"]
        ):
            raise serializers.ValidationError(
                {"date_to": _("The end date is before the start date.")}
            )
        return attrs


class StatementRowSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="transaction.id")
    kind = serializers.CharField(source="transaction.kind")
    value_date = serializers.DateField(source="transaction.value_date")
    booked_at = serializers.DateTimeField(source="transaction.booked_at")
    reference = serializers.CharField(source="transaction.reference")
    description = serializers.CharField(source="transaction.description")
    amount = serializers.SerializerMethodField()
    services = serializers.ListField(child=serializers.CharField())
    allocations = serializers.SerializerMethodField()

    def get_amount(self, row) -> str:
        return postings.amount_text(row.amount_minor, row.transaction.currency)

    @extend_schema_field(
        inline_serializer(
            "Allocation",
            {
                "transaction": serializers.UUIDField(),
                "kind": serializers.CharField(),
                "reference": serializers.CharField(),
                "amount": serializers.DecimalField(max_digits=18, decimal_places=2),
            },
            many=True,
        )
    )
    def get_allocations(self, row) -> list[dict]:
        return [
            {
                "transaction": str(other.pk),
                "kind": other.kind,
                "reference": other.reference,
                "amount": postings.amount_text(amount, row.transaction.currency),
            }
            for other, amount in row.settled_with
        ]


class TransactionsView(generics.GenericAPIView):
    permission_classes = [permissions.IsAuthenticated]
    pagination_class = Pagination
    serializer_class = StatementRowSerializer
    queryset = Transaction.objects.none()  # the rows come from the selector; for the schema

    @extend_schema(
        parameters=[TransactionFilter],
        responses={200: StatementRowSerializer(many=True)},
        summary="The account's transactions, newest first",
        description="Charges, payments, refunds, adjustments and reversals on the account, with "
        "their amount on the account (positive: charged; negative: paid or credited) and what "
        "each was allocated against. Filter by value date (the whole history is kept, three "
        "years and more) and by service.",
    )
    def get(self, request, account_number: str):
        account = selectors.account_for_caller(request.user, account_number)
        filters = TransactionFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = selectors.account_transactions(account, **filters.validated_data)
        page = self.paginate_queryset(queryset)
        rows = selectors.statement_rows(account, page)
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


urlpatterns = [
    path(
        "accounts/<str:account_number>/balance",
        BalanceView.as_view(),
        name="account-balance",
    ),
    path(
        "accounts/<str:account_number>/transactions",
        TransactionsView.as_view(),
        name="account-transactions",
    ),
]
