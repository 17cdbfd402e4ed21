"""Staff pages beyond the admin: a landing page per role and the audit log."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from civicdesk.backoffice.selectors import audit_events, landing_for
from civicdesk.core.models import AuditEvent


def staff_required(view):
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("staff only")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


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
