"""API plumbing shared by every app: RFC 9457 problem details, pagination, schema hooks."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, RegexValidator, URLValidator
from django.db import models
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://civicdesk.dev/problems/"


class StrictStringMixin:
    """DRF's string fields turn numbers into text (`{"full_name": 0}` is saved as "0"). The
    schema says `type: string`, so anything but a string is refused with the field's "invalid"
    message. Form-encoded and query values are always strings, so only JSON is affected."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(StrictStringMixin, serializers.CharField):
    pass


class StrictEmailField(StrictStringMixin, serializers.EmailField):
    """Not trimmed by default: " a@example.org" does not match `format: email` either."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class StrictRegexField(StrictStringMixin, serializers.RegexField):
    """Not trimmed by default: the pattern is the contract, spaces included."""

    def __init__(self, regex, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(regex, **kwargs)


# A ModelSerializer whose text fields take only strings (see StrictStringMixin). A comment, not a
# docstring: drf-spectacular would show a docstring as the description of every subclass.
class StrictModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.EmailField: StrictEmailField,
    }


AMOUNT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
POSITIVE_AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]+)?$"


@extend_schema_field(
    {"type": "string", "pattern": AMOUNT_PATTERN, "maxLength": 30, "example": "150.00"}
)
class AmountField(serializers.Field):
    """A decimal amount as a JSON string ("150.00"); a JSON number is refused (it is read as a
    binary float). Zero, negative amounts and too many decimals for the currency are the
    domain's to refuse (422), never rounded here."""

    pattern = re.compile(AMOUNT_PATTERN)
    default_error_messages = {
        "invalid": gettext_lazy('Give the amount as a string with a decimal point, e.g. "150.00".'),
    }

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > 30 or not self.pattern.match(data):
            self.fail("invalid")
        return Decimal(data)

    def to_representation(self, value):
        return format(value, "f")


@extend_schema_field(
    {"type": "string", "pattern": POSITIVE_AMOUNT_PATTERN, "maxLength": 30, "example": "350.00"}
)
class PositiveAmountField(AmountField):
    """An :class:`AmountField` whose schema already refuses a sign (filters, bank lines)."""

    pattern = re.compile(POSITIVE_AMOUNT_PATTERN)


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        """A page_size that is not a whole number from 1 to 500 is an error, not ignored."""
        raw = request.query_params.getlist(self.page_size_query_param)
        if not raw:
            return self.page_size
        value = raw[-1]
        if (
            len(raw) > 1
            or not value.isascii()
            or not value.isdigit()
            or not (1 <= int(value) <= self.max_page_size)
        ):
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        _("Give a whole number from 1 to %(max)d.") % {"max": self.max_page_size}
                    ]
                }
            )
        return int(value)

    def get_page_number(self, request, paginator):
        """A page that is given must be a whole number from 1 (or "last"); an empty or malformed
        one is an error, not page 1."""
        raw = request.query_params.getlist(self.page_query_param)
        if not raw:
            return 1
        value = raw[-1]
        if value in self.last_page_strings:
            return paginator.num_pages
        if len(raw) > 1 or not value.isascii() or not value.isdigit() or int(value) < 1:
            raise exceptions.ValidationError(
                {self.page_query_param: [_("Give a whole number from 1.")]}
            )
        return int(value)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


def _flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error structure as a flat list of {field, message, code}."""
    errors: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            field = f"{prefix}.{name}" if prefix and name else (name or prefix)
            errors.extend(_flatten_errors(value, field))
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                errors.extend(_flatten_errors(value, f"{prefix}[{index}]"))
            else:
                errors.extend(_flatten_errors(value, prefix))
    else:
        errors.append(
            {
                "field": prefix,
                "message": str(detail),
                "code": getattr(detail, "code", "invalid") or "invalid",
            }
        )
    return errors


def problem_response(
    status_code: int,
    title: str,
    detail: str = "",
    *,
    problem_type: str = "about:blank",
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    json_response: bool = False,
    **extra: Any,
):
    body: dict[str, Any] = {"type": problem_type, "title": title, "status": status_code}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    if json_response:
        response = JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)
        for key, value in (headers or {}).items():
            response[key] = value
        return response
    return Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE, headers=headers)


# One table for both uses: problem titles (translated per request) and the schema's response
# descriptions (rendered in the language the schema is generated in).
_TITLES = {
    400: gettext_lazy("Invalid request"),
    401: gettext_lazy("Not authenticated"),
    403: gettext_lazy("Permission denied"),
    404: gettext_lazy("Not found"),
    405: gettext_lazy("Method not allowed"),
    406: gettext_lazy("Not acceptable"),
    409: gettext_lazy("Conflict"),
    415: gettext_lazy("Unsupported media type"),
    422: gettext_lazy("Unprocessable content"),
    429: gettext_lazy("Too many requests"),
}


def _title(status_code: int) -> str:
    return str(_TITLES.get(status_code, gettext_lazy("Error")))


class UnprocessableContent(exceptions.ValidationError):
    """Input that matches the schema but that a domain rule refuses (a phone number that does not
    exist, SMS chosen without a phone): 422. Input that does not match the schema is a 400."""

    status_code = 422
    default_code = "unprocessable"


# Serializer errors about values the schema allows but the server cannot represent, e.g. a
# `date-time` of 0001-01-01T00:00:00+00:04, which is before year 1 in UTC: 422, not 400.
UNREPRESENTABLE_CODES = frozenset({"overflow", "make_aware"})


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler: every error as application/problem+json with translated text.

    Serializer errors (the request does not match the schema) are 400; a Django ValidationError
    raised by a service or a model's full_clean (it does, but the domain refuses it) is 422, and
    so is a serializer error that only says a value is out of the server's range.
    """
    if isinstance(exc, DjangoValidationError):
        exc = UnprocessableContent(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    status_code = response.status_code
    headers = {
        k: v for k, v in response.items() if k in {"WWW-Authenticate", "Retry-After", "Allow"}
    }
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten_errors(exc.detail)
        if errors and all(e["code"] in UNREPRESENTABLE_CODES for e in errors):
            status_code = 422
        detail = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
        )
        return problem_response(
            status_code,
            _title(status_code),
            detail,
            problem_type=PROBLEM_TYPE_BASE + "validation",
            errors=errors,
            headers=headers,
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    code = getattr(exc, "default_code", "error")
    if isinstance(detail, dict | list):
        errors = _flatten_errors(detail)
        detail_text = "; ".join(e["message"] for e in errors)
    else:
        errors = None
        detail_text = str(detail)
        code = getattr(detail, "code", code)
    return problem_response(
        status_code,
        _title(status_code),
        detail_text,
        problem_type=PROBLEM_TYPE_BASE + str(code).replace("_", "-"),
        errors=errors,
        headers=headers,
    )


class ProblemErrorSerializer(serializers.Serializer):
    field = serializers.CharField()
    message = serializers.CharField()
    code = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every API error is returned."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(required=False)
    errors = ProblemErrorSerializer(many=True, required=False)


def problem_api_view_response(request, status_code: int, detail: str = ""):
    """Plain-Django views (404/500 handlers) answering under /api/ with problem+json."""
    return problem_response(status_code, _title(status_code), detail, json_response=True)


PROBLEM_STATUSES = (400, 401, 403, 404, 405, 406, 409, 415, 422, 429)


def add_problem_responses(result: dict, generator, request, public: bool) -> dict:
    """drf-spectacular postprocessing hook: declare problem+json errors on every operation."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "Problem",
        {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "code": {"type": "string"},
                        },
                        "required": ["field", "message", "code"],
                    },
                },
            },
            "required": ["type", "title", "status"],
        },
    )
    problem = {
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    }
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code in PROBLEM_STATUSES:
                responses.setdefault(str(code), {"description": str(_TITLES[code]), **problem})
    return result


# A character str.strip() keeps, i.e. not str.isspace(), spelled out: JSON Schema's `\S` follows
# ECMA-262, which counts U+FEFF as a space and U+001C-U+001F and U+0085 as not.
NOT_A_SPACE_PATTERN = (
    "[^\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000]"
)


class TrimmedCharFieldExtension(OpenApiSerializerFieldExtension):
    """DRF trims a CharField before it checks the value is not blank, so "  " is refused although
    it satisfies `minLength: 1`. Request schemas say so: the text needs a character that is not a
    space. Fields with a pattern or a format (e-mail, URL) already exclude blank text.

    drf-spectacular registers an extension when its module is imported; this one is, by the
    middleware and every app's api.py, long before a schema is generated."""

    target_class = "rest_framework.fields.CharField"
    match_subclasses = True
    priority = -1  # any more specific extension wins

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        schema = auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        if (
            direction == "request"
            and field.trim_whitespace
            and not field.allow_blank
            and schema.get("type") == "string"
            and "pattern" not in schema
            and "format" not in schema
            and not any(
                isinstance(v, RegexValidator | EmailValidator | URLValidator)
                for v in field.validators
            )
        ):
            schema["pattern"] = NOT_A_SPACE_PATTERN
        return schema


FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_EMPTY_FORM_VALUE = {"type": "string", "maxLength": 0}


def _takes_empty_string(prop: dict) -> bool:
    if _EMPTY_FORM_VALUE in prop.get("oneOf", ()):
        return True
    return prop.get("type") == "string" and not prop.get("minLength") and "pattern" not in prop


def document_empty_form_values(result: dict, generator, request, public: bool) -> dict:
    """drf-spectacular postprocessing hook: in a form-encoded body DRF reads an empty value of an
    optional field as "not sent" (`Field.get_value`), so `date=` is accepted where JSON's
    `"date": ""` is refused. Say so in the form bodies' schemas: each optional property there
    also takes "". A component that JSON bodies use too is copied as <name>Form first."""
    components = result.get("components", {}).get("schemas", {})
    json_refs = set()
    form_media = []
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue  # path-level "parameters"
            content = (operation.get("requestBody") or {}).get("content", {})
            for media_type, media in content.items():
                if media_type in FORM_MEDIA_TYPES:
                    form_media.append(media)
                else:
                    json_refs.add(media.get("schema", {}).get("$ref"))
    for media in form_media:
        schema = media.get("schema", {})
        ref = schema.get("$ref")
        name = ref.rsplit("/", 1)[-1] if ref else None
        if name and ref in json_refs:
            components[f"{name}Form"] = copy.deepcopy(components[name])
            name = f"{name}Form"
            media["schema"] = {"$ref": f"#/components/schemas/{name}"}
        target = components.get(name) if name else schema
        if not target or target.get("type") != "object":
            continue
        required = set(target.get("required", ()))
        for prop_name, prop in target.get("properties", {}).items():
            if prop_name in required or prop.get("readOnly") or prop.get("type") == "array":
                continue  # required values are never "not sent"; lists are read differently
            if _takes_empty_string(prop):
                continue
            description = prop.pop("description", None)
            target["properties"][prop_name] = {
                "oneOf": [prop, _EMPTY_FORM_VALUE],
                **({"description": description} if description else {}),
            }
    return result


__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "Pagination",
    "ProblemSerializer",
    "StrictCharField",
    "StrictEmailField",
    "StrictModelSerializer",
    "StrictRegexField",
    "UnprocessableContent",
    "add_problem_responses",
    "document_empty_form_values",
    "problem_exception_handler",
    "problem_response",
]


def query_params(serializer_class, request) -> dict:
    """Query parameters through a serializer; one given empty (`?status=`) is an error, not
    "not given"."""
    serializer = serializer_class(data=request.query_params)
    empty = {
        name: [_("Give a value or leave the parameter out.")]
        for name in serializer.fields
        if name in request.query_params and not request.query_params.get(name, "").strip()
    }
    if empty:
        raise exceptions.ValidationError(empty)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
