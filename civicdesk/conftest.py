"""Fixtures shared by every app's tests."""

from __future__ import annotations

import base64

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache_and_outboxes():
    """Throttle counters and sent SMS must not leak from one test into the next."""
    from civicdesk.notifications import sms

    cache.clear()
    sms.outbox.clear()
    yield
    cache.clear()
    sms.outbox.clear()


@pytest.fixture(autouse=True)
def _celery_mode(request, settings):
    """Tasks run in-process, except in tests marked `worker`, which send them through the real
    broker (make test-pg sets CELERY_BROKER_URL) to a real worker process."""
    from civicdesk.config.celery import app

    previous = app.conf.task_always_eager
    uses_worker = request.node.get_closest_marker("worker") is not None
    app.conf.task_always_eager = not (uses_worker and settings.CELERY_BROKER_URL)
    yield
    app.conf.task_always_eager = previous


DEMO_SECRET = "JBSWY3DPEHPK3PXP"


@pytest.fixture
def totp_code():
    """A function giving the current TOTP code for a base32 secret, as an authenticator app."""
    from django_otp.oath import TOTP

    def _code(secret: str = DEMO_SECRET) -> str:
        return f"{TOTP(base64.b32decode(secret), step=30, t0=0, digits=6).token():06d}"

    return _code


@pytest.fixture
def make_user(db):
    """Create a user: verified resident by default; `role=` gives a role, staff get TOTP."""
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from civicdesk.identity import roles
    from civicdesk.identity.models import User
    from civicdesk.identity.services import user_assign_role

    counter = iter(range(1, 10_000))

    def _make(
        email: str | None = None,
        *,
        password: str = "correct horse battery",
        role: str = roles.RESIDENT,
        verified: bool = True,
        totp: bool = True,
        **extra,
    ) -> User:
        n = next(counter)
        user = User.objects.create_user(
            email=email or f"user{n}@example.org",
            password=password,
            full_name=extra.pop("full_name", f"Test User {n}"),
            email_verified_at=timezone.now() if verified else None,
            **extra,
        )
        user_assign_role(user=user, role_key=role)
        if roles.ROLES[role].staff and totp:
            TOTPDevice.objects.create(
                user=user, name="test", key=base64.b32decode(DEMO_SECRET).hex(), confirmed=True
            )
        user.raw_password = password
        return user

    return _make


@pytest.fixture
def operator(db):
    from civicdesk.registry.models import Operator

    return Operator.objects.create(
        name="Test Metro",
        jurisdiction="ZA",
        currency="ZAR",
        timezone="Africa/Johannesburg",
        default_language="en",
        enabled_languages=["en", "af", "uk", "ru"],
    )
