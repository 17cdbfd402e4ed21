"""Session timeouts, the user's language, staff MFA enforcement and session tracking."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.messages import info
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from civicdesk.core.api import problem_api_view_response

SESSION_LOGIN_AT = "civicdesk_login_at"
SESSION_SEEN_AT = "civicdesk_seen_at"
SESSION_TRACKED = "civicdesk_tracked_key"


class SessionTimeoutMiddleware:
    """Ends a session after SESSION_IDLE_TIMEOUT idle or SESSION_ABSOLUTE_TIMEOUT in all."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        if session.get("_auth_user_id"):
            now = int(time.time())
            login_at = session.get(SESSION_LOGIN_AT, now)
            seen_at = session.get(SESSION_SEEN_AT, now)
            if (
                now - seen_at > settings.SESSION_IDLE_TIMEOUT
                or now - login_at > settings.SESSION_ABSOLUTE_TIMEOUT
            ):
                session.flush()
                request.session_expired = True
            else:
                session.setdefault(SESSION_LOGIN_AT, now)
                if now - seen_at >= 30 or SESSION_SEEN_AT not in session:
                    session[SESSION_SEEN_AT] = now
        response = self.get_response(request)
        if getattr(request, "session_expired", False) and hasattr(request, "_messages"):
            info(request, _("Your session has ended. Please log in again."))
        return response


class UserLanguageMiddleware:
    """A signed-in user's chosen language wins over the browser's Accept-Language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.preferred_language:
            translation.activate(user.preferred_language)
            request.LANGUAGE_CODE = user.preferred_language
        return self.get_response(request)


MFA_EXEMPT_PREFIXES = ("/static/", "/i18n/", "/healthz", "/mfa/", "/logout/", "/media/")


class StaffMFAMiddleware:
    """Staff who have not passed their second factor in this session reach only the MFA pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and not user.is_verified()
            and not request.path.startswith(MFA_EXEMPT_PREFIXES)
        ):
            if request.path.startswith("/api/"):
                # Bearer-token requests authenticate later, in DRF; only session users land here.
                if not request.headers.get("Authorization"):
                    return problem_api_view_response(
                        request, 403, _("Complete two-factor authentication first.")
                    )
            else:
                return redirect(f"{reverse('identity:mfa')}?next={request.get_full_path()}")
        return self.get_response(request)


class SessionTrackingMiddleware:
    """Keeps each signed-in session on the 'your sessions' page: created at login, renamed when
    Django cycles the key (e.g. after a password change), last-seen refreshed every 30 s."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        key = session.session_key if session is not None else None
        if user is None or not user.is_authenticated or not key:
            return response
        from civicdesk.core.audit import client_ip
        from civicdesk.identity.models import UserSession
        from civicdesk.identity.services import session_track

        tracked = session.get(SESSION_TRACKED)
        if tracked != key:
            if tracked:
                UserSession.objects.filter(session_key=tracked).delete()
            session_track(
                user=user,
                session_key=key,
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
            session[SESSION_TRACKED] = key
        elif session.get(SESSION_SEEN_AT) == int(time.time()):
            UserSession.objects.filter(session_key=key).update(last_seen_at=timezone.now())
        return response
