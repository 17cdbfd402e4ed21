"""API: meters, their readings and their monthly consumption.

`GET /meters` lists the meters on the caller's linked accounts (every meter for staff who may
read meters), `GET /meters/{id}` shows one and `GET /meters/{id}/readings` its readings, newest
first, each with its status and the reasons for it. `GET /meters/{id}/consumption` and
`GET /accounts/{number}/consumption` give the monthly use (36 months by default), estimated
months marked. Another resident's meter or account answers 404."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from civicdesk.core.api import Pagination, StrictCharField, query_params
from civicdesk.metering import reasons as reason_texts
from civicdesk.metering import selectors
from civicdesk.metering.models import (
    DEFAULT_UNITS,
    REGISTER_LABELS,
    Meter,
    MeterRegister,
    Rates,
    Reading,
    Resource,
)
from civicdesk.metering.validation import STEP
from civicdesk.registry.models import PersonalAccount

VIEW_METER = "metering.view_meter"
MAX_MONTHS = 120
DEFAULT_MONTHS = 36

QUANTITY_SCHEMA = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "12.500"}


sees_all_meters = selectors.sees_all_meters


def meter_for_caller(user, public_id) -> Meter:
    """One meter the caller may see; 404 otherwise (whether it exists is not told)."""
    meter = (
        _with_details(selectors.meters_for_user(user)).filter(public_id=public_id).first()
        if public_id
        else None
    )
    if meter is None:
        if sees_all_meters(user):
            raise exceptions.NotFound(_("There is no such meter."))
        raise exceptions.NotFound(_("There is no such meter among yours."))
    return meter


def account_for_caller(user, number: str) -> PersonalAccount:
    from civicdesk.registry.selectors import account_for_user

    number = number.strip()
    if sees_all_meters(user):
        account = PersonalAccount.objects.filter(number=number).first()
        if account is None:
            raise exceptions.NotFound(_("There is no account %(number)s.") % {"number": number})
    else:
        try:
            account = account_for_user(user, number)
        except Http404:
            account = None
    if account is None:
        raise exceptions.NotFound(_("No account %(number)s is linked to you.") % {"number": number})
    return account


def _with_details(queryset):
    return queryset.select_related("account", "premises__building", "building").prefetch_related(
        Prefetch("register_states", queryset=MeterRegister.objects.order_by("register"))
    )


def _decimal_text(value) -> str | None:
    return None if value is None else format(value, "f")


# --- serializers ----------------------------------------------------------------------------


class LastReadingSerializer(serializers.Serializer):
    register = serializers.CharField()
    value = serializers.CharField(allow_null=True)
    taken_at = serializers.DateTimeField(allow_null=True)


class MeterSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    registers = serializers.ListField(child=serializers.CharField(), read_only=True)
    multiplier = serializers.SerializerMethodField()
    account_number = serializers.SerializerMethodField()
    premises = serializers.SerializerMethodField()
    last_readings = serializers.SerializerMethodField()

    class Meta:
        model = Meter
        fields = [
            "id",
            "serial",
            "resource",
            "rates",
            "registers",
            "unit",
            "digits",
            "multiplier",
            "status",
            "account_number",
            "premises",
            "installed_on",
            "verification_due_on",
            "last_readings",
        ]
        read_only_fields = fields

    @extend_schema_field(QUANTITY_SCHEMA)
    def get_multiplier(self, meter) -> str:
        return format(meter.multiplier.normalize(), "f")

    @extend_schema_field({"type": "string", "nullable": True})
    def get_account_number(self, meter) -> str | None:
        return meter.account.number if meter.account_id else None

    def get_premises(self, meter) -> str:
        """The premises' address; a building meter's building address."""
        if meter.premises_id:
            return meter.premises.address
        return meter.building.address

    @extend_schema_field(
        {
            "type": "array",
            "description": "The last accepted real reading of each register (null before the "
            "first one).",
            "items": {
                "type": "object",
                "properties": {
                    "register": {"type": "string"},
                    "label": {"type": "string"},
                    "value": {**QUANTITY_SCHEMA, "nullable": True},
                    "taken_at": {"type": "string", "format": "date-time", "nullable": True},
                },
                "required": ["register", "label", "value", "taken_at"],
            },
        }
    )
    def get_last_readings(self, meter) -> list[dict]:
        states = {state.register: state for state in meter.register_states.all()}
        rows = []
        for register in meter.registers:
            state = states.get(register)
            rows.append(
                {
                    "register": register,
                    "label": str(REGISTER_LABELS.get(register, register)),
                    "value": _decimal_text(state.last_real_value) if state else None,
                    "taken_at": (
                        serializers.DateTimeField().to_representation(state.last_real_taken_at)
                        if state and state.last_real_taken_at
                        else None
                    ),
                }
            )
        return rows


class ReadingSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    meter = serializers.UUIDField(source="meter.public_id", read_only=True)
    value = serializers.SerializerMethodField()
    consumption = serializers.SerializerMethodField()
    period = serializers.SerializerMethodField()
    status_text = serializers.SerializerMethodField()
    reasons = serializers.SerializerMethodField()
    reasons_text = serializers.SerializerMethodField()
    estimated = serializers.SerializerMethodField()
    has_photo = serializers.SerializerMethodField()
    received_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Reading
        fields = [
            "id",
            "meter",
            "register",
            "value",
            "taken_at",
            "period",
            "consumption",
            "rolled_over",
            "estimated",
            "source",
            "status",
            "status_text",
            "reasons",
            "reasons_text",
            "has_photo",
            "received_at",
            "reviewed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(QUANTITY_SCHEMA)
    def get_value(self, reading) -> str:
        return format(reading.value, "f")

    @extend_schema_field({**QUANTITY_SCHEMA, "nullable": True})
    def get_consumption(self, reading) -> str | None:
        return _decimal_text(reading.consumption)

    @extend_schema_field(
        {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}$", "example": "2026-10"}
    )
    def get_period(self, reading) -> str:
        return reading.period.strftime("%Y-%m")

    def get_status_text(self, reading) -> str:
        return reason_texts.status_text(reading.status)

    def get_reasons(self, reading) -> list[str]:
        return [code for code in reading.reasons.split(",") if code]

    @extend_schema_field(
        {
            "type": "array",
            "items": {"type": "string"},
            "description": "One sentence per reason, in your language.",
        }
    )
    def get_reasons_text(self, reading) -> list[str]:
        return [reason_texts.reason_text(code) for code in self.get_reasons(reading)]

    def get_estimated(self, reading) -> bool:
        return reading.is_estimate

    def get_has_photo(self, reading) -> bool:
        return bool(reading.photo)


class MeterFilter(serializers.Serializer):
    account = StrictCharField(
        max_length=40, required=False, help_text="Only the meters of this account (its number)."
    )
    serial = StrictCharField(
        max_length=40, required=False, help_text="Serial numbers containing this text."
    )
    resource = serializers.ChoiceField(Resource.choices, required=False)
    status = serializers.ChoiceField(Meter.Status.choices, required=False)
    rates = serializers.ChoiceField(Rates.choices, required=False)


class MonthsFilter(serializers.Serializer):
    months = serializers.IntegerField(
        min_value=1,
        max_value=MAX_MONTHS,
        default=DEFAULT_MONTHS,
        help_text="How many months back, the current one included (1 to 120).",
    )


class MonthSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="The month, YYYY-MM.")
    quantity = serializers.CharField(allow_null=True, help_text="Use in the meter's unit.")
    estimated = serializers.BooleanField()


def _month(row) -> dict:
    return {
        "period": row.period.strftime("%Y-%m"),
        "quantity": None if row.quantity is None else format(row.quantity.quantize(STEP), "f"),
        "estimated": bool(row.estimated),
    }


class MeterConsumption(serializers.Serializer):
    meter = serializers.UUIDField()
    serial = serializers.CharField()
    resource = serializers.ChoiceField(Resource.choices)
    unit = serializers.CharField()
    months = MonthSerializer(many=True)


class ResourceConsumption(serializers.Serializer):
    resource = serializers.ChoiceField(Resource.choices)
    unit = serializers.CharField()
    months = MonthSerializer(many=True)


class AccountConsumption(serializers.Serializer):
    account_number = serializers.CharField()
    resources = ResourceConsumption(many=True)
    meters = MeterConsumption(many=True)


# --- views ----------------------------------------------------------------------------------

METER_ID = OpenApiParameter(
    "meter_id",
    type=OpenApiTypes.UUID,
    location=OpenApiParameter.PATH,
    description="The meter's id.",
)


class MeterList(generics.ListAPIView):
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = MeterSerializer
    pagination_class = Pagination
    queryset = Meter.objects.none()
    filter_backends: list = []

    @extend_schema(
        parameters=[MeterFilter],
        summary="Your meters (every meter for staff who read meters)",
        description="The meters on your linked accounts, with each register's last accepted "
        "reading. Staff who may read meters see all of them and filter by account, serial, "
        "resource, rates and status.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        data = query_params(MeterFilter, self.request)
        queryset = selectors.meters_for_user(self.request.user)
        if data.get("account"):
            queryset = queryset.filter(account__number=data["account"].strip())
        if data.get("serial"):
            queryset = queryset.filter(serial__icontains=data["serial"].strip())
        for name in ("resource", "status", "rates"):
            if data.get(name):
                queryset = queryset.filter(**{name: data[name]})
        return _with_details(queryset).order_by("account__number", "resource", "serial", "pk")


class MeterDetail(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[METER_ID],
        responses={200: MeterSerializer},
        summary="One meter",
    )
    def get(self, request, meter_id):
        return Response(MeterSerializer(meter_for_caller(request.user, meter_id)).data)


class MeterReadings(generics.GenericAPIView):
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = ReadingSerializer
    pagination_class = Pagination
    queryset = Reading.objects.none()
    filter_backends: list = []

    @extend_schema(
        parameters=[METER_ID],
        responses={200: ReadingSerializer(many=True)},
        summary="A meter's readings, newest first",
        description="Every reading received for the meter (accepted, flagged for review or "
        "rejected, with the reasons in your language) and the estimates made for months "
        "without one (`estimated`). `period` is the month a reading counts for; "
        "`consumption` the use since the reading before, times the meter's multiplier.",
    )
    def get(self, request, meter_id):
        meter = meter_for_caller(request.user, meter_id)
        readings = (
            Reading.objects.filter(meter=meter)
            .select_related("meter")
            .order_by("-taken_at", "-created_at", "-pk")
        )
        page = self.paginate_queryset(readings)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def _months(request) -> int:
    return query_params(MonthsFilter, request)["months"]


def _meter_series(meter, months: int) -> dict:
    return {
        "meter": str(meter.public_id),
        "serial": meter.serial,
        "resource": meter.resource,
        "unit": meter.unit,
        "months": [_month(row) for row in selectors.meter_consumption(meter, months=months)],
    }


class MeterConsumptionView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[METER_ID, MonthsFilter],
        responses={200: MeterConsumption},
        summary="A meter's monthly use",
        description="One row per month, oldest first, for the last `months` months (36 by "
        "default). `quantity` is null for a month with nothing measured or estimated; "
        "`estimated` marks months billed on an estimate.",
    )
    def get(self, request, meter_id):
        months = _months(request)
        meter = meter_for_caller(request.user, meter_id)
        return Response(_meter_series(meter, months))


class AccountConsumptionView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[MonthsFilter],
        responses={200: AccountConsumption},
        summary="An account's monthly use per resource and per meter",
        description="For each resource the account's meters measure, the monthly use summed "
        "over its meters (a replaced meter and its successor add up), oldest first; and each "
        "meter's own series. Estimated months are marked.",
    )
    def get(self, request, account_number: str):
        months = _months(request)
        account = account_for_caller(request.user, account_number)
        return Response(_account_series(account, months))


def _account_series(account, months: int) -> dict:
    meters = list(
        _with_details(Meter.objects.filter(account=account)).order_by("resource", "serial")
    )
    units: dict[str, str] = {}
    for meter in meters:
        units.setdefault(meter.resource, meter.unit)
    return {
        "account_number": account.number,
        "resources": [
            {
                "resource": resource,
                "unit": units.get(resource) or DEFAULT_UNITS.get(resource, ""),
                "months": [
                    _month(row)
                    for row in selectors.account_consumption(
                        account, months=months, resource=resource
                    )
                ],
            }
            for resource in selectors.account_resources(account)
        ],
        "meters": [_meter_series(meter, months) for meter in meters],
    }


urlpatterns = [
    path("meters", MeterList.as_view(), name="meter-list"),
    path("meters/<uuid:meter_id>", MeterDetail.as_view(), name="meter-detail"),
    path("meters/<uuid:meter_id>/readings", MeterReadings.as_view(), name="meter-readings"),
    path(
        "meters/<uuid:meter_id>/consumption",
        MeterConsumptionView.as_view(),
        name="meter-consumption",
    ),
    path(
        "accounts/<str:account_number>/consumption",
        AccountConsumptionView.as_view(),
        name="account-consumption",
    ),
]
