"""Open311 GeoReport v2 endpoints: parse, call one service or selector, answer in JSON or XML.

Only public, active categories are services; only cases in public categories are requests, and
what is shown of them never names the requester. Dates are W3C (ISO 8601 with an offset) in the
operator's timezone."""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from decimal import ROUND_HALF_EVEN, Decimal

import phonenumbers
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.encoding import iri_to_uri
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from civicdesk.cases.models import Category, SlaUnit, translated
from civicdesk.cases.open311 import georeport, selectors
from civicdesk.cases.open311.renderers import (
    Open311Error,
    Open311JSONRenderer,
    Open311XMLRenderer,
    SuffixNegotiation,
    described,
    open311_exception_handler,
)
from civicdesk.cases.open311.services import open311_request_create
from civicdesk.cases.services import Intake
from civicdesk.registry.selectors import operator_get

CHANGESET = "2026-03-01T00:00:00Z"  # when this endpoint last changed shape
MAX_RANGE = dt.timedelta(days=90)
COORDINATE = Decimal("0.000001")  # Case.latitude/longitude keep six decimal places
SUBJECT_MAX = 120
NAME_MAX = 74  # first and last name together fit Case.contact_name (150)


# --- plumbing -------------------------------------------------------------------------------


class Open311View(APIView):
    """No session or token: Open311 clients identify themselves with `api_key` on POST only.
    The response language is the `locale` parameter's, else the Accept-Language header's."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    renderer_classes = (Open311JSONRenderer, Open311XMLRenderer)
    parser_classes = (FormParser, MultiPartParser)
    content_negotiation_class = SuffixNegotiation
    metadata_class = None  # OPTIONS is not part of the spec
    schema = None  # documented in docs/open311.md, not in the OpenAPI schema
    xml_root, xml_item = "service_requests", "request"

    def get_exception_handler(self):
        return open311_exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # PostgreSQL cannot compare text with NUL in it: refuse it before any query does.
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.query_params.lists()
        ):
            raise Open311Error(400, _("Null characters are not allowed."))

    def dispatch(self, request, *args, **kwargs):
        language = _language(request)
        with translation.override(language):
            response = super().dispatch(request, *args, **kwargs)
        response["Content-Language"] = language
        return response


def _language(request) -> str:
    locale = request.GET.get("locale", "")[:20]
    if locale:
        try:
            return translation.get_supported_language_variant(translation.to_language(locale))
        except LookupError:
            pass
    return translation.get_language() or "en"


class _Context:
    """What every representation needs once per response: the language, the operator's
    timezone and name."""

    def __init__(self):
        operator = operator_get()
        self.language = translation.get_language() or "en"
        self.agency = operator.name if operator else None
        try:
            self.tz = zoneinfo.ZoneInfo(operator.timezone) if operator else dt.UTC
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.tz = dt.UTC

    def w3c(self, value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        return timezone.localtime(value, self.tz).isoformat(timespec="seconds")


def _text(texts, language: str) -> str | None:
    if isinstance(texts, dict) and texts:
        return translated(texts, language) or None
    if isinstance(texts, str):
        return texts or None
    return None


# --- discovery and services -----------------------------------------------------------------


class DiscoveryView(Open311View):
    xml_root = "discovery"

    def get(self, request, format=None):
        operator = operator_get()
        contact = (
            ", ".join(str(part) for part in (operator.email, operator.phone) if part)
            if operator
            else ""
        )
        return Response(
            {
                "changeset": CHANGESET,
                "contact": contact or None,
                "key_service": _("Ask the operator for an api_key to post service requests."),
                "endpoints": [
                    {
                        "specification": georeport.SPECIFICATION,
                        "url": request.build_absolute_uri(request.path.rsplit("/", 1)[0]),
                        "changeset": CHANGESET,
                        "type": "production",
                        "formats": list(georeport.FORMATS.values()),
                    }
                ],
            }
        )


def service_body(category: Category, language: str) -> dict:
    return {
        "service_code": category.code,
        "service_name": translated(category.names, language),
        "description": _text(category.descriptions, language),
        "metadata": bool(category.questions),
        "type": "realtime",
        "keywords": str(category.get_kind_display()),
        "group": translated(category.parent.names, language) if category.parent else None,
    }


class ServiceListView(Open311View):
    xml_root, xml_item = "services", "service"

    def get(self, request, format=None):
        language = translation.get_language() or "en"
        return Response([service_body(c, language) for c in selectors.services_public()])


def _attribute(question: dict, order: int, language: str) -> dict:
    kind = question.get("type", "text")
    body = {
        "variable": True,
        "code": str(question["key"]),
        "datatype": georeport.datatype_of(kind),
        "required": bool(question.get("required")),
        "datatype_description": {
            "number": _("A number, e.g. 12.5"),
            "date": _("A date, e.g. 2026-03-31"),
            "boolean": _("Yes (true) or no (false)"),
        }.get(kind),
        "order": order,
        "description": _text(question.get("label"), language),
    }
    if kind == "boolean":
        body["values"] = [{"key": "true", "name": _("Yes")}, {"key": "false", "name": _("No")}]
    elif kind == "choice":
        body["values"] = [_choice(choice, language) for choice in question.get("choices", [])]
    return body


def _choice(choice, language: str) -> dict:
    if isinstance(choice, dict):
        key = str(choice.get("value", ""))
        return {"key": key, "name": _text(choice.get("label"), language) or key}
    return {"key": str(choice), "name": str(choice)}


class ServiceDefinitionView(Open311View):
    xml_root = "service_definition"

    def get(self, request, service_code, format=None):
        category = selectors.service_get(service_code)
        if category is None:
            raise Open311Error(404, described("service_code", _("There is no such service.")))
        language = translation.get_language() or "en"
        return Response(
            {
                "service_code": category.code,
                "attributes": [
                    _attribute(question, order, language)
                    for order, question in enumerate(category.questions, start=1)
                ],
            }
        )


# --- requests -------------------------------------------------------------------------------


def service_notice(category: Category) -> str | None:
    """What the operator promises: the category's resolution target."""
    amount, unit = category.resolution_amount, category.resolution_unit
    if not amount:
        return None
    if unit == SlaUnit.WORKING_HOURS:
        text = ngettext(
            "We aim to resolve it within %(amount)d working hour.",
            "We aim to resolve it within %(amount)d working hours.",
            amount,
        )
    elif unit == SlaUnit.WORKING_DAYS:
        text = ngettext(
            "We aim to resolve it within %(amount)d working day.",
            "We aim to resolve it within %(amount)d working days.",
            amount,
        )
    elif unit == SlaUnit.CALENDAR_DAYS:
        text = ngettext(
            "We aim to resolve it within %(amount)d day.",
            "We aim to resolve it within %(amount)d days.",
            amount,
        )
    else:
        return None
    return text % {"amount": amount}


def request_body(case, extras: selectors.RequestExtras, ctx: _Context) -> dict:
    """A case as the public sees it: no requester, no contact, no linked account or premises."""
    category = case.category
    description = (case.description or case.subject or "")[:4000]
    return {
        "service_request_id": case.reference,
        "status": georeport.status_of(case.status),
        "status_notes": extras.status_notes,
        "service_name": translated(category.names, ctx.language),
        "service_code": category.code,
        "description": description or None,
        "agency_responsible": case.team.name if case.team else ctx.agency,
        "service_notice": service_notice(category),
        "requested_datetime": ctx.w3c(case.created_at),
        "updated_datetime": ctx.w3c(case.updated_at),
        "expected_datetime": ctx.w3c(case.resolution_due),
        "address": case.address or None,
        "address_id": extras.address_id,
        "zipcode": None,
        "lat": float(case.latitude) if case.latitude is not None else None,
        "long": float(case.longitude) if case.longitude is not None else None,
        "media_url": extras.media_url,
    }


def _requests_response(cases) -> Response:
    ctx = _Context()
    extras = selectors.request_extras(cases)
    return Response([request_body(case, extras[case.pk], ctx) for case in cases])


def _values(request, name: str) -> list[str]:
    """A comma-delimited parameter (given once or more) as its non-empty values."""
    return [
        part.strip()
        for raw in request.query_params.getlist(name)
        for part in raw.split(",")
        if part.strip()
    ]


def _datetime(request, name: str, tz) -> dt.datetime | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
        if value is None and (day := parse_date(raw)) is not None:
            value = dt.datetime.combine(day, dt.time())
        if value is not None:
            if timezone.is_naive(value):
                value = value.replace(tzinfo=tz)
            # In UTC: PostgreSQL refuses offsets beyond ±15:59, and year 1 or 9999 may fall
            # outside the calendar once converted.
            value = value.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        value = None
    if value is None:
        raise Open311Error(
            400, described(name, _("Give a date and time such as 2026-03-31T08:00:00+02:00."))
        )
    return value


def _date_range(request, tz) -> tuple[dt.datetime, dt.datetime]:
    """start_date and end_date; without them the last 90 days, and never more than 90."""
    start, end = _datetime(request, "start_date", tz), _datetime(request, "end_date", tz)
    try:
        if start is None and end is None:
            end = timezone.now()
            start = end - MAX_RANGE
        elif start is None:
            start = end - MAX_RANGE
        elif end is None:
            end = start + MAX_RANGE
    except OverflowError:
        raise Open311Error(400, _("start_date and end_date: the dates are out of range.")) from None
    if start > end:
        raise Open311Error(400, described("start_date", _("It must be before end_date.")))
    if end - start > MAX_RANGE:
        raise Open311Error(
            400, _("start_date and end_date: the range may not span more than 90 days.")
        )
    return start, end


class RequestListView(Open311View):
    """GET: search requests. POST: create one (form-encoded, with an api_key)."""

    def get(self, request, format=None):
        ids = _values(request, "service_request_id")[: selectors.MAX_REQUESTS]
        if ids:
            return _requests_response(selectors.requests_search(service_request_ids=ids))
        statuses = _values(request, "status")
        for status in statuses:
            if status not in georeport.STATUS_FILTERS:
                raise Open311Error(400, described("status", _("Give open or closed.")))
        start, end = _date_range(request, _Context().tz)
        cases = selectors.requests_search(
            service_codes=_values(request, "service_code"),
            start=start,
            end=end,
            statuses=statuses,
        )
        return _requests_response(cases)

    def post(self, request, format=None):
        client = selectors.client_for_key(str(request.data.get("api_key", "")))
        if client is None:
            raise Open311Error(403, _("Invalid api_key received: ask the operator for a key."))
        _refuse_null_characters(request.data)
        form = RequestForm(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        category = selectors.service_get(data["service_code"])
        if category is None:
            raise Open311Error(404, described("service_code", _("There is no such service.")))
        intake = _intake(category, data, _answers(request.data, category))
        case = open311_request_create(
            client=client, intake=intake, media_url=data.get("media_url", "")
        )
        return Response(
            [
                {
                    "service_request_id": case.reference,
                    "token": str(case.pk),
                    "service_notice": service_notice(category),
                    "account_id": data.get("account_id") or None,
                }
            ],
            status=201,
        )


class RequestDetailView(Open311View):
    def get(self, request, service_request_id, format=None):
        case = selectors.request_get(service_request_id)
        if case is None:
            raise Open311Error(404, described("service_request_id", _("There is no such request.")))
        return _requests_response([case])


class TokenView(Open311View):
    def get(self, request, token, format=None):
        case = selectors.request_by_token(token)
        if case is None:
            raise Open311Error(404, described("token", _("There is no such token.")))
        return Response([{"service_request_id": case.reference, "token": str(case.pk)}])


class NotFoundView(Open311View):
    """Any other path under /open311/v2/: a 404 in the spec's format."""

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise Open311Error(404, _("There is no such endpoint."))

    def get(self, request, *args, **kwargs):
        raise Open311Error(404, _("There is no such endpoint."))

    post = put = patch = delete = get


# --- POST requests: the form ----------------------------------------------------------------


class RequestForm(serializers.Serializer):
    """The GeoReport v2 parameters of `POST requests` (attribute[…] are read separately)."""

    service_code = serializers.CharField(max_length=60)
    lat = serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        min_value=Decimal(-90),
        max_value=Decimal(90),
        required=False,
    )
    long = serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        min_value=Decimal(-180),
        max_value=Decimal(180),
        required=False,
    )
    address_string = serializers.CharField(max_length=300, required=False, allow_blank=True)
    address_id = serializers.CharField(max_length=60, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    device_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    account_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    first_name = serializers.CharField(max_length=NAME_MAX, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=NAME_MAX, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    description = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    media_url = serializers.URLField(max_length=500, required=False, allow_blank=True)

    def validate_lat(self, value):
        return value.quantize(COORDINATE, rounding=ROUND_HALF_EVEN)

    def validate_long(self, value):
        return value.quantize(COORDINATE, rounding=ROUND_HALF_EVEN)

    def validate_phone(self, value):
        return _phone(value)

    def validate_media_url(self, value):
        return iri_to_uri(value)[:500] if value else value

    def validate_address_id(self, value):
        if not value:
            return None
        building = selectors.building_for_address_id(value)
        if building is None:
            raise serializers.ValidationError(_("There is no such address."))
        return building

    def validate(self, attrs):
        if ("lat" in attrs) != ("long" in attrs):
            raise serializers.ValidationError(
                {"lat" if "lat" not in attrs else "long": _("Give both lat and long.")}
            )
        return attrs


def _phone(text: str) -> str:
    """In E.164, read in the operator's country; anything that cannot be a phone is refused."""
    text = " ".join((text or "").split())
    if not text:
        return ""
    operator = operator_get()
    try:
        number = phonenumbers.parse(text, operator.jurisdiction if operator else None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise serializers.ValidationError(_("This is not a phone number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _refuse_null_characters(data) -> None:
    for key, values in data.lists():
        if "\x00" in key or any("\x00" in str(value) for value in values):
            raise Open311Error(400, _("Null characters are not allowed."))


def _answers(data, category: Category) -> dict:
    """attribute[code]=value (attribute[code][]=value for lists) as intake answers. Our
    questions take one value each; a date (datatype datetime) may come with a time."""
    questions = {str(q["key"]): q for q in category.questions}
    answers: dict = {}
    for name, values in data.lists():
        if not name.startswith("attribute[") or not name.endswith("]"):
            continue
        code = name[len("attribute[") : -1].removesuffix("][")
        values = [str(v) for v in values]
        if len(values) != 1 or code in answers:
            raise Open311Error(400, described(f"answers.{code}", _("Give one value.")))
        value = values[0]
        if questions.get(code, {}).get("type") == "date" and "T" in value:
            with contextlib.suppress(ValueError):  # if not, case_create says what is wrong
                value = dt.datetime.fromisoformat(value.strip()).date().isoformat()
        answers[code] = value
    return answers


def _intake(category: Category, data: dict, answers: dict) -> Intake:
    building = data.get("address_id")
    description = data.get("description", "").strip()
    first_line = description.splitlines()[0].strip() if description else ""
    subject = first_line[:SUBJECT_MAX] or translated(category.names)
    latitude, longitude = data.get("lat"), data.get("long")
    if building is not None and latitude is None:
        latitude, longitude = building.latitude, building.longitude
    name = " ".join(n.strip() for n in (data.get("first_name", ""), data.get("last_name", "")))
    return Intake(
        category=category,
        channel="open311",
        subject=subject,
        description=description,
        contact_name=name.strip(),
        contact_email=data.get("email", ""),
        contact_phone=data.get("phone", ""),
        contact_language=translation.get_language() or "",
        answers=answers,
        territory=building.territory if building is not None else None,
        latitude=latitude,
        longitude=longitude,
        address=data.get("address_string", "").strip()
        or (building.address if building is not None else ""),
        concerns=[building] if building is not None else [],
    )


__all__ = [
    "DiscoveryView",
    "NotFoundView",
    "RequestDetailView",
    "RequestListView",
    "ServiceDefinitionView",
    "ServiceListView",
    "TokenView",
]
