"""Staff pages beyond the admin: a landing page per role and the audit log."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from civicdesk.backoffice.selectors import audit_events, landing_for
from civicdesk.core.decorators import staff_required
from civicdesk.core.models import AuditEvent


@staff_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "backoffice/home.html", {"panels": landing_for(request.user)})


@staff_required
@permission_required("core.view_auditevent", raise_exception=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("action", "")
    page = Paginator(audit_events(action=action), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/audit_log.html",
        {"page": page, "actions": AuditEvent.Action.choices, "action": action},
    )
