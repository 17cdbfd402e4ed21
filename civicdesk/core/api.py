"""API plumbing shared by every app: RFC 9457 problem details, pagination, schema hooks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
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
    pass


class StrictRegexField(StrictStringMixin, serializers.RegexField):
    pass


class StrictModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose text fields take only strings (see StrictStringMixin)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.EmailField: StrictEmailField,
    }


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


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


_TITLES = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
}


def _title(status_code: int) -> str:
    titles = {
        400: _("Invalid request"),
        401: _("Not authenticated"),
        403: _("Permission denied"),
        404: _("Not found"),
        405: _("Method not allowed"),
        406: _("Not acceptable"),
        409: _("Conflict"),
        415: _("Unsupported media type"),
        422: _("Unprocessable content"),
        429: _("Too many requests"),
    }
    return titles.get(status_code, _("Error"))


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler: every error as application/problem+json with translated text."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
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
                responses.setdefault(str(code), {"description": _TITLES[code], **problem})
    return result


__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "Pagination",
    "ProblemSerializer",
    "StrictCharField",
    "StrictEmailField",
    "StrictModelSerializer",
    "StrictRegexField",
    "add_problem_responses",
    "problem_exception_handler",
    "problem_response",
]
