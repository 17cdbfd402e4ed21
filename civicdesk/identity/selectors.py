from __future__ import annotations

from django.contrib.sessions.models import Session
from django.utils import timezone

from civicdesk.identity.models import User, UserSession


def sessions_for(*, user: User) -> list[UserSession]:
    """The user's live sessions, newest activity first (ended ones are left out)."""
    rows = list(UserSession.objects.filter(user=user))
    live = set(
        Session.objects.filter(
            session_key__in=[r.session_key for r in rows], expire_date__gt=timezone.now()
        ).values_list("session_key", flat=True)
    )
    return [r for r in rows if r.session_key in live]
