"""GeoReport v2 plumbing for DRF: the format comes from the URL's suffix (`.json` or `.xml`),
and errors are the spec's list of `{code, description}`, not problem+json."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from civicdesk.cases.open311 import georeport


class Open311JSONRenderer(JSONRenderer):
    media_type = "application/json"
    format = "json"
    charset = "utf-8"


class Open311XMLRenderer(BaseRenderer):
    """The spec's XML: the view names the root and item elements (`xml_root`, `xml_item`);
    errors are `<errors><error>…`."""

    media_type = "text/xml"
    format = "xml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        context = renderer_context or {}
        response, view = context.get("response"), context.get("view")
        if data is None:
            return b""
        if response is not None and response.status_code >= 400:
            root, item = "errors", "error"
        else:
            root = getattr(view, "xml_root", "response")
            item = getattr(view, "xml_item", "item")
        return georeport.to_xml(data, root, item)


class SuffixNegotiation(DefaultContentNegotiation):
    """The suffix decides, whatever the Accept header says; paths without one (unknown URLs)
    answer JSON unless they end in .xml."""

    def select_renderer(self, request, renderers, format_suffix=None):
        wanted = format_suffix or ("xml" if request.path.endswith(".xml") else "json")
        for renderer in renderers:
            if renderer.format == wanted:
                return renderer, renderer.media_type
        return renderers[0], renderers[0].media_type


class Open311Error(exceptions.APIException):
    """An error in the spec's terms: an HTTP status and one or more descriptions."""

    def __init__(self, status_code: int, *descriptions: str):
        self.status_code = status_code
        self.descriptions = [str(d) for d in descriptions]
        super().__init__("; ".join(self.descriptions))


# Our field names (Intake, case_create's errors) → the GeoReport parameter a client sent.
FIELD_PARAMETERS = {
    "category": "service_code",
    "subject": "description",
    "contact_email": "email",
    "contact_phone": "phone",
    "contact_name": "first_name",
    "address": "lat/long, address_string, address_id",
    "latitude": "lat",
    "longitude": "long",
    "non_field_errors": "",
    "__all__": "",
}


def parameter_name(field: str) -> str:
    if field.startswith("answers."):
        return f"attribute[{field.removeprefix('answers.')}]"
    return FIELD_PARAMETERS.get(field, field)


def described(field: str, message: str) -> str:
    name = parameter_name(field)
    return f"{name}: {message}" if name else str(message)


def _descriptions(detail, field: str = "") -> list[str]:
    """DRF's nested error detail (or a Django ValidationError's dict) as flat descriptions."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            out.extend(_descriptions(value, str(key)))
        return out
    if isinstance(detail, list | tuple):
        out = []
        for value in detail:
            out.extend(_descriptions(value, field))
        return out
    return [described(field, str(detail))]


def errors_response(status_code: int, descriptions: list[str], headers=None) -> Response:
    body = [{"code": status_code, "description": description} for description in descriptions]
    return Response(body, status=status_code, headers=headers)


def open311_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every error as `[{"code": …, "description": …}]`; the transaction is rolled back."""
    headers = {}
    if isinstance(exc, Open311Error):
        status_code, descriptions = exc.status_code, exc.descriptions
    elif isinstance(exc, DjangoValidationError):
        status_code = 400
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        descriptions = _descriptions(detail)
    elif isinstance(exc, exceptions.ValidationError):
        status_code, descriptions = 400, _descriptions(exc.detail)
    elif isinstance(exc, Http404 | exceptions.NotFound):
        status_code, descriptions = 404, [_("Not found.")]
    elif isinstance(exc, PermissionDenied):
        status_code, descriptions = 403, [_("Permission denied.")]
    elif isinstance(exc, exceptions.APIException):
        status_code, descriptions = exc.status_code, _descriptions(exc.detail)
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait))
    else:
        return None
    set_rollback()
    return errors_response(status_code, descriptions or [_("Error")], headers=headers)
