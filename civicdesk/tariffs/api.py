"""API: tariffs (public to read, loaded by staff) and the public calculators.

- `GET /tariffs` (`?on=YYYY-MM-DD`, today by default): the version of every code in force that
  day; `GET /tariffs/{code}`: every version of a code. Tariffs are public information: no login.
- `POST /tariffs` (staff who may add tariffs): a definition (a JSON object), a list of them, or
  `{"text": "<YAML or JSON>"}`, loaded all or nothing by `services.tariffs_load`; 201 with each
  tariff's code, version and status (`created` or `unchanged`), or 422 listing every error.
- `POST /calculators/tariff-quote` and `POST /calculators/prepaid-purchase` (public, throttled
  like every anonymous call): a tariff (a code, priced with the version in force in the month,
  or an inline definition, checked like a load) and plain inputs, priced by the pure engine
  (`engine.py`, `prepaid.py`); lines are described and explained in the caller's language.

Money and quantities travel as decimal strings; a JSON number is refused where money or a
quantity is expected (it is read as a binary float). JSON bodies are parsed with fractions as
Decimal, so an inline definition's `2.50` is exactly 2.50. Docs: docs/calculators.md and
docs/tariff-loading.md."""

from __future__ import annotations

import codecs
import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, permissions, serializers
from rest_framework import status as http_status
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.response import Response
from rest_framework.views import APIView

from civicdesk.core.api import (
    PROBLEM_TYPE_BASE,
    AmountField,
    StrictCharField,
    UnprocessableContent,
    problem_response,
    query_params,
)
from civicdesk.tariffs import definition, engine, errors, prepaid, selectors, services
from civicdesk.tariffs.models import Tariff

ADD_TARIFF = "tariffs.add_tariff"
CODE_MAX_LENGTH = 64
PERIOD_PATTERN = r"^[0-9]{4}-[0-9]{2}$"
_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})\Z")

EXAMPLE_ELECTRICITY = {
    "code": "example-electricity",
    "service": "electricity",
    "unit": "kWh",
    "currency": "ZAR",
    "valid_from": "2025-07-01",
    "tax": {"name": "VAT", "rate": "0.15", "prices_include_tax": False},
    "charges": [
        {
            "kind": "block",
            "blocks": [
                {"up_to": 100, "price": "2.50"},
                {"up_to": 400, "price": "3.00"},
                {"up_to": None, "price": "3.50"},
            ],
        },
        {"kind": "fixed", "amount": "150.00"},
    ],
}


# --- parsing ----------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class DecimalJSONParser(JSONParser):
    """JSON with its fractions read as Decimal (``2.50`` stays 2.50, never the binary float
    next to it); NaN and Infinity are refused as DRF's strict parser refuses them."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            return json.load(
                codecs.getreader(encoding)(stream),
                parse_float=Decimal,
                parse_constant=_refuse_constant,
            )
        except ValueError as exc:
            raise exceptions.ParseError(_("JSON parse error: %(error)s") % {"error": exc}) from exc
        except RecursionError:
            raise exceptions.ParseError(_("The JSON is nested too deeply.")) from None


# Strict counterparts of DRF's integer and boolean fields (a comment, not a docstring: the
# schema would show it): in JSON a count is a number and a flag is true or false, where DRF
# would take "5", 5.0 or "yes".
class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


@extend_schema_field(
    {
        "anyOf": [
            {"type": "string", "minLength": 1, "maxLength": CODE_MAX_LENGTH},
            {"type": "object", "additionalProperties": True},
        ],
        "description": "A tariff's code (the version in force in the period is used), or a "
        "whole definition as an object (docs/tariffs.md), checked like a load.",
        "example": "example-electricity",
    }
)
class TariffReferenceField(serializers.Field):
    default_error_messages = {
        "invalid": gettext_lazy("Give a tariff's code or a tariff definition (an object)."),
    }

    def to_internal_value(self, data):
        if isinstance(data, dict):
            return data
        if isinstance(data, str) and 1 <= len(data) <= CODE_MAX_LENGTH and "\x00" not in data:
            return data
        self.fail("invalid")

    def to_representation(self, value):
        return value


@extend_schema_field(
    {"type": "string", "pattern": PERIOD_PATTERN, "maxLength": 7, "example": "2025-08"}
)
class PeriodField(StrictCharField):
    """The month as YYYY-MM. Only the type is checked here: a malformed month is a 422 that
    names the field (`_month`), like every other value a rule refuses."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


def _month(value: str | None) -> tuple[int, int]:
    """(year, month) of a YYYY-MM text; this month (the operator's) when not given."""
    if value is None:
        today = timezone.localdate()
        return today.year, today.month
    match = _PERIOD.match(value)
    if match is None or not 1 <= int(match[1]) <= 9999 or not 1 <= int(match[2]) <= 12:
        raise UnprocessableContent(
            {"period": [_("Give the month as YYYY-MM, e.g. 2025-08.")]}, code="invalid_period"
        )
    return int(match[1]), int(match[2])


# --- serializers ------------------------------------------------------------------------------


class TariffSerializer(serializers.ModelSerializer):
    definition = serializers.SerializerMethodField()

    class Meta:
        model = Tariff
        fields = [
            "code",
            "version",
            "name",
            "service",
            "unit",
            "currency",
            "valid_from",
            "valid_to",
            "definition",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "additionalProperties": True,
            "description": "The definition in its canonical form (docs/tariffs.md): every "
            "default written out, decimals as strings.",
        }
    )
    def get_definition(self, row: Tariff) -> dict:
        return row.definition


class TariffsOnSerializer(serializers.Serializer):
    on = serializers.DateField(
        required=False, help_text="The day the tariffs are in force (today by default)."
    )


class TariffLoadedSerializer(serializers.Serializer):
    code = serializers.CharField()
    version = serializers.IntegerField()
    status = serializers.ChoiceField(
        [("created", "created"), ("unchanged", "unchanged")],
        help_text="`created`: stored as the code's next version; `unchanged`: equal to the "
        "code's latest version, left as it is.",
    )


class QuoteInputsSerializer(serializers.Serializer):
    area_m2 = AmountField(required=False, help_text="The premises' area, m².")
    heated_area_m2 = AmountField(required=False, help_text="The heated area, m².")
    occupants = StrictIntegerField(
        required=False, min_value=0, max_value=10_000, help_text="People living there."
    )
    meter_size = StrictCharField(
        required=False, max_length=20, help_text="For fixed charges by meter size."
    )
    valuation = AmountField(required=False, help_text="The municipal valuation (property rates).")
    building_consumption = AmountField(
        required=False, help_text="The building meter's consumption in the period."
    )
    building_area_m2 = AmountField(
        required=False, help_text="The total area the building meter is shared over, m²."
    )
    temperature_coefficient = AmountField(required=False)
    days_of_service = StrictIntegerField(
        required=False, min_value=0, max_value=31, help_text="Days heating was supplied."
    )
    days_in_service = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=31,
        help_text="Days of the month the service was supplied (the whole month by default).",
    )
    indigent = StrictBooleanField(required=False, default=False)
    pensioner = StrictBooleanField(required=False, default=False)
    extra = serializers.DictField(
        child=AmountField(),
        required=False,
        help_text='Quantities a tariff names `extra.<name>`, e.g. {"bins": "2"}.',
    )


class TariffQuoteSerializer(serializers.Serializer):
    tariff = TariffReferenceField()
    consumption = AmountField(
        required=False, help_text="The month's consumption in the tariff's unit, e.g. \"436\"."
    )
    period = PeriodField(required=False, help_text="The month, YYYY-MM (this month by default).")
    inputs = QuoteInputsSerializer(
        required=False,
        help_text="The other inputs the tariff needs; unknown names are refused (422).",
    )


class PrepaidPurchaseSerializer(serializers.Serializer):
    tariff = TariffReferenceField()
    amount = AmountField(help_text='The payment, tax included, e.g. "500.00".')
    already_purchased_units = AmountField(
        required=False, help_text="Units already bought this month (0 by default)."
    )
    period = PeriodField(required=False, help_text="The month, YYYY-MM (this month by default).")
    indigent = StrictBooleanField(required=False, default=False)
    pensioner = StrictBooleanField(required=False, default=False)


class TariffVersionRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    version = serializers.IntegerField()


class PricedLineSerializer(serializers.Serializer):
    description = serializers.CharField(help_text="What the line is, in your language.")
    quantity = AmountField()
    unit = serializers.CharField(help_text="kWh, m³, m², month…; the currency for amounts.")
    rate = AmountField(allow_null=True, help_text="The price per unit; null when it varies.")
    amount = AmountField()
    explanation = serializers.CharField(
        help_text='How the amount is made, e.g. "100 kWh × R2.50 + 300 kWh × R3.00".'
    )


class QuoteSerializer(serializers.Serializer):
    tariff = TariffVersionRefSerializer()
    period = serializers.CharField(help_text="The month priced, YYYY-MM.")
    currency = serializers.CharField()
    lines = PricedLineSerializer(many=True)
    total_excl_tax = AmountField()
    tax_label = serializers.CharField(allow_null=True, help_text="VAT, or null without tax.")
    tax = AmountField()
    total = AmountField()


class PrepaidResultSerializer(serializers.Serializer):
    tariff = TariffVersionRefSerializer()
    period = serializers.CharField()
    currency = serializers.CharField()
    units = AmountField(help_text="The units bought, rounded down to 0.1.")
    amount = AmountField(help_text="What they cost, tax included (at most the payment).")
    tax = AmountField(help_text="The tax included in `amount`.")
    unspent = AmountField(help_text="The payment less `amount`.")
    already_purchased_units = AmountField()
    lines = PricedLineSerializer(many=True)


# --- presentation -----------------------------------------------------------------------------


def money_places(tariff: definition.Tariff) -> int:
    """The decimals a tariff's amounts are rounded to (2 for a cent)."""
    return max(0, -int(tariff.rounding.amount.as_tuple().exponent))


def unit_text(unit: str, currency: str) -> str:
    """A line's unit as a reader sees it: the currency for amounts of money, word units in
    their language, the rest (kWh, m²) as written."""
    if unit == engine.MONEY:
        return currency
    return str(errors.UNITS.get(unit, unit))


def line_dict(line: engine.Line, tariff: definition.Tariff) -> dict:
    """One priced line with its description and explanation in the active language."""
    return {
        "description": errors.label_text(line.label),
        "quantity": line.quantity,
        "unit": unit_text(line.unit, tariff.currency),
        "rate": line.rate,
        "amount": line.amount,
        "explanation": errors.explain(
            line.terms, currency=tariff.currency, money_places=money_places(tariff)
        ),
    }


def period_text(period: tuple[int, int]) -> str:
    return f"{period[0]:04d}-{period[1]:02d}"


# --- errors -----------------------------------------------------------------------------------


def _definition_problem(items: list[dict], *, prefix: str = "") -> Response:
    """422 listing every error of a definition: `path` inside the definition, `field` in the
    request (`tariff.charges[0].price`), `code` and the translated `message`."""
    listed = []
    for item in items:
        path = item.get("path") or ""
        field = ".".join(part for part in (prefix, path) if part).replace(".[", "[")
        listed.append(
            {"field": field, "path": path, "code": item["code"], "message": str(item["message"])}
        )
    return problem_response(
        422,
        _("The tariff definition has errors"),
        " ".join(item["message"] for item in listed),
        problem_type=PROBLEM_TYPE_BASE + "tariff-invalid",
        errors=listed,
    )


def pricing_field(error: engine.PricingError) -> str:
    """The request field a PricingError is about."""
    if error.code == engine.TARIFF_NOT_IN_FORCE:
        return "period"
    if error.code == engine.METER_SIZE_UNKNOWN:
        return "inputs.meter_size"
    if error.code in prepaid.PREPAID_ERROR_CODES:
        return "tariff"
    name = str(error.params.get("input") or "")
    if name in ("consumption", "amount", "already_purchased_units"):
        return name
    if name.startswith("period"):
        return "period"
    return f"inputs.{name}" if name else ""


def _pricing_problem(error: engine.PricingError) -> Response:
    message = errors.pricing_error_message(error)
    return problem_response(
        422,
        _("This tariff cannot be priced with these inputs"),
        message,
        problem_type=PROBLEM_TYPE_BASE + "cannot-price",
        errors=[{"field": pricing_field(error), "code": error.code, "message": message}],
    )


class _Refused(Exception):
    """A request refused with a ready problem response (a definition with errors)."""

    def __init__(self, response: Response):
        self.response = response


def _tariff_for(reference: str | dict, period: tuple[int, int]) -> definition.Tariff:
    """The tariff a request names: an inline definition (checked like a load), or the
    version of a code in force on the period's first day (as the billing run picks it)."""
    if isinstance(reference, dict):
        try:
            tariff = definition.parse_tariff(reference)
        except definition.TariffError as exc:
            raise _Refused(
                _definition_problem(errors.error_messages(exc), prefix="tariff")
            ) from None
        problems = services.tariffs_check(tariff)
        if problems:
            raise _Refused(_definition_problem(problems, prefix="tariff"))
        return tariff
    if not Tariff.objects.filter(code=reference).exists():
        raise exceptions.NotFound(_("There is no tariff %(code)s.") % {"code": reference})
    found = selectors.tariff_in_force(reference, date(period[0], period[1], 1))
    if found is None:
        raise exceptions.NotFound(
            _("The tariff %(code)s is not in force in %(period)s.")
            % {"code": reference, "period": period_text(period)}
        )
    return found.tariff


def _unknown_inputs(raw: Any) -> None:
    """Input names the engine does not know are a 422 naming each (a typo must not be
    priced as if the input were left out)."""
    if not isinstance(raw, dict):
        return
    known = set(QuoteInputsSerializer().fields)
    unknown = sorted(str(name) for name in raw if name not in known)
    if unknown:
        raise UnprocessableContent(
            {
                f"inputs.{name}": [
                    _("Unknown input %(name)s; the inputs are: %(known)s.")
                    % {"name": name, "known": ", ".join(sorted(known))}
                ]
                for name in unknown
            },
            code="unknown_input",
        )


# --- views: tariffs ---------------------------------------------------------------------------


class CanLoadTariffs(permissions.BasePermission):
    """Signed-in staff who may add tariffs."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm(ADD_TARIFF))


LOAD_BODY = {
    "anyOf": [
        {
            "type": "object",
            "title": "Definition",
            "description": "One tariff definition (docs/tariffs.md).",
            "additionalProperties": True,
        },
        {
            "type": "array",
            "title": "Definitions",
            "items": {"type": "object", "additionalProperties": True},
        },
        {
            "type": "object",
            "title": "Text",
            "properties": {
                "text": {"type": "string", "description": "YAML or JSON text of definitions."},
            },
            "required": ["text"],
        },
    ]
}


class TariffListLoad(APIView):
    parser_classes = [DecimalJSONParser]

    def get_permissions(self):
        if self.request.method in permissions.SAFE_METHODS:
            return [permissions.AllowAny()]
        return [CanLoadTariffs()]

    @extend_schema(
        summary="Tariffs in force",
        description="The version of every tariff code in force on `on` (today by default), "
        "with its definition. Public: no login.",
        parameters=[TariffsOnSerializer],
        responses={200: TariffSerializer(many=True)},
    )
    def get(self, request):
        data = query_params(TariffsOnSerializer, request)
        day = data.get("on") or timezone.localdate()
        return Response(TariffSerializer(selectors.tariffs_current(day), many=True).data)

    @extend_schema(
        summary="Load tariffs (staff)",
        description=(
            'A tariff definition as a JSON object, a list of them, or `{"text": …}` with '
            "YAML or JSON text (docs/tariffs.md). Loaded all or nothing: a definition that "
            "differs from its code's latest version is stored as the next version "
            "(`created`), one equal to it is left as it is (`unchanged`).\n\n"
            "422 (nothing stored): `errors` lists every error, each with its `path` in the "
            "definition (`[1].charges[0].blocks[2].up_to` in a list), a stable `code` and "
            "the `message` in your language. Staff who may add tariffs only."
        ),
        request={"application/json": LOAD_BODY},
        responses={201: TariffLoadedSerializer(many=True)},
        examples=[
            OpenApiExample("A definition", value=EXAMPLE_ELECTRICITY, request_only=True),
            OpenApiExample(
                "YAML text",
                value={"text": "code: example-water\nservice: cold_water\n…"},
                request_only=True,
            ),
        ],
    )
    def post(self, request):
        data = request.data
        if isinstance(data, dict) and set(data) == {"text"} and isinstance(data["text"], str):
            text = data["text"]
        elif isinstance(data, dict | list):
            # Anything else that is an object is a definition (`{"text": 5}` included: its
            # errors then say what a definition needs).
            # YAML reads JSON; the Decimals the parser made go as strings, read back exactly.
            try:
                text = json.dumps(data, default=str, ensure_ascii=False)
            except RecursionError:
                raise exceptions.ParseError(_("The JSON is nested too deeply.")) from None
        else:
            raise exceptions.ValidationError(
                {"non_field_errors": [_("Send a tariff definition, a list of them, or text.")]}
            )
        try:
            loaded = services.tariffs_load(text, actor=request.user)
        except services.TariffsRejected as exc:
            return _definition_problem(exc.errors)
        rows = [{"code": i.code, "version": i.version, "status": i.status} for i in loaded]
        return Response(
            TariffLoadedSerializer(rows, many=True).data, status=http_status.HTTP_201_CREATED
        )


class TariffVersions(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        operation_id="tariffs_versions",
        summary="Every version of a tariff",
        description="Newest first (the latest `valid_from`, then the highest version). "
        "Public: no login. An unknown code answers 404.",
        parameters=[
            OpenApiParameter(
                "code", OpenApiTypes.STR, OpenApiParameter.PATH, description="The tariff's code."
            )
        ],
        responses={200: TariffSerializer(many=True)},
    )
    def get(self, request, code: str):
        # A NUL cannot be in a code, and PostgreSQL refuses it in a query.
        rows = [] if "\x00" in code else list(selectors.tariff_versions(code))
        if not rows:
            raise exceptions.NotFound(_("There is no tariff %(code)s.") % {"code": code})
        return Response(TariffSerializer(rows, many=True).data)


# --- views: calculators -----------------------------------------------------------------------


class _Calculator(APIView):
    permission_classes = [permissions.AllowAny]
    parser_classes = [DecimalJSONParser]

    def handle_exception(self, exc):
        if isinstance(exc, _Refused):
            return exc.response
        if isinstance(exc, engine.PricingError):
            return _pricing_problem(exc)
        return super().handle_exception(exc)


class TariffQuote(_Calculator):
    @extend_schema(
        summary="What a month costs on a tariff",
        description=(
            "Prices a month's consumption and inputs on a tariff: by its code (the version in "
            "force on the month's first day) or an inline definition. Each line has its "
            "description and explanation in your language; amounts and quantities are "
            "decimal strings. Public: no login.\n\n"
            "404: no tariff with this code, or none in force in the month. 422: a definition "
            "with errors (every one listed, with its `path`), an unknown input, a negative "
            "consumption, a malformed month, or an input the tariff needs that is missing "
            "or wrong (`errors` names the field)."
        ),
        request=TariffQuoteSerializer,
        responses={200: QuoteSerializer},
        examples=[
            OpenApiExample(
                "436 kWh on the example electricity tariff",
                value={"tariff": "example-electricity", "consumption": "436", "period": "2025-08"},
                request_only=True,
            ),
            OpenApiExample(
                "An inline definition",
                value={"tariff": EXAMPLE_ELECTRICITY, "consumption": "436", "period": "2025-08"},
                request_only=True,
            ),
        ],
    )
    def post(self, request):
        raw = request.data.get("inputs") if isinstance(request.data, dict) else None
        body = TariffQuoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        _unknown_inputs(raw)
        data = body.validated_data
        consumption = data.get("consumption")
        if consumption is not None and consumption < 0:
            raise UnprocessableContent(
                {"consumption": [_("The consumption cannot be negative.")]}, code="negative"
            )
        period = _month(data.get("period"))
        tariff = _tariff_for(data["tariff"], period)
        inputs = dict(data.get("inputs") or {})
        quote = engine.price(
            tariff, engine.PricingInput(consumption=consumption, period=period, **inputs)
        )
        body = {
            "tariff": {"code": quote.tariff_code, "version": quote.tariff_version},
            "period": period_text(period),
            "currency": quote.currency,
            "lines": [line_dict(line, tariff) for line in quote.lines],
            "total_excl_tax": quote.total_excl_tax,
            "tax_label": errors.label_text(quote.tax_label) if quote.tax_label else None,
            "tax": quote.tax,
            "total": quote.total,
        }
        return Response(QuoteSerializer(body).data)


class PrepaidPurchase(_Calculator):
    @extend_schema(
        summary="How much prepaid electricity a payment buys",
        description=(
            "The units a payment (tax included) buys across the month's blocks, after the "
            "units already bought that month; rounded down to 0.1, never costing more than "
            "the payment (`unspent` is the rest). Only per-unit charges count: fixed monthly "
            "charges are billed to the account, free units come as their own token. Public: "
            "no login.\n\n"
            "404: no tariff with this code, or none in force in the month. 422: a definition "
            "with errors, a negative amount or one with more decimals than the currency, a "
            "tariff that cannot be sold in advance."
        ),
        request=PrepaidPurchaseSerializer,
        responses={200: PrepaidResultSerializer},
        examples=[
            OpenApiExample(
                "R500 of prepaid electricity",
                value={
                    "tariff": "example-electricity",
                    "amount": "500.00",
                    "already_purchased_units": "0",
                    "period": "2025-08",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        body = PrepaidPurchaseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        period = _month(data.get("period"))
        tariff = _tariff_for(data["tariff"], period)
        bought = prepaid.prepaid_purchase(
            tariff,
            data["amount"],
            data.get("already_purchased_units", Decimal(0)),
            period=period,
            indigent=data["indigent"],
            pensioner=data["pensioner"],
        )
        body = {
            "tariff": {"code": tariff.code, "version": tariff.version},
            "period": period_text(period),
            "currency": tariff.currency,
            "units": bought.units,
            "amount": bought.amount,
            "tax": bought.tax,
            "unspent": bought.unspent,
            "already_purchased_units": bought.already_purchased_units,
            "lines": [line_dict(line, tariff) for line in bought.lines],
        }
        return Response(PrepaidResultSerializer(body).data)
