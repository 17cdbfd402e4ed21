"""Writing the audit log. Call inside the transaction of the action being audited."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from civicdesk.core.models import AuditEvent


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor=None,
    identifier: str = "",
    **data: Any,
) -> AuditEvent:
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    if not identifier and actor is not None:
        identifier = actor.get_username()
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        identifier=identifier[:254],
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request else "")[:300],
        path=(request.path if request else "")[:300],
        data=data,
    )
