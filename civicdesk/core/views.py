"""Operational endpoints and error handlers."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from civicdesk.core.api import problem_api_view_response

log = logging.getLogger(__name__)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        return "eager"
    from civicdesk.config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every part answers; 503 naming the part that does not."""
    body: dict[str, str] = {"status": "ok"}
    failing = []
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            body[name] = check()
        except Exception as exc:
            log.warning("healthz: %s unavailable: %s", name, exc)
            body[name] = "unavailable"
            failing.append(name)
    if failing:
        body["status"] = "unavailable"
        body["failing"] = ", ".join(failing)
    return JsonResponse(body, status=503 if failing else 200)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/open311/"))


def not_found(request: HttpRequest, exception=None):
    if _is_api(request):
        return problem_api_view_response(request, 404)
    return render(request, "errors/404.html", status=404)


def permission_denied(request: HttpRequest, exception=None):
    from civicdesk.core.audit import audit_record
    from civicdesk.core.models import AuditEvent

    audit_record(AuditEvent.Action.PERMISSION_DENIED, request=request, reason=str(exception or ""))
    if _is_api(request):
        return problem_api_view_response(request, 403)
    return render(request, "errors/403.html", status=403)


def bad_request(request: HttpRequest, exception=None):
    if _is_api(request):
        return problem_api_view_response(request, 400)
    return render(request, "errors/400.html", status=400)


def server_error(request: HttpRequest):
    if _is_api(request):
        return problem_api_view_response(request, 500)
    return render(request, "errors/500.html", status=500)
