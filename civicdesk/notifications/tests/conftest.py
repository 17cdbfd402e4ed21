"""Fixtures shared by the notifications tests."""

from __future__ import annotations

import copy
import itertools
import socket
import threading

import pytest
from django.utils import timezone

from civicdesk.notifications import sms

_numbers = itertools.count(1)


@pytest.fixture
def make_user(db):
    """Create a user; `verified_phone` gives them a phone verified now."""
    from civicdesk.identity.models import User

    def make(
        *,
        language: str = "en",
        channel: str = "email",
        phone: str = "",
        verified_phone: bool = False,
        full_name: str = "Thandi Nkosi",
        email: str | None = None,
    ) -> User:
        n = next(_numbers)
        return User.objects.create_user(
            email=email or f"resident{n}@example.org",
            password=None,
            full_name=full_name,
            phone=phone,
            preferred_language=language,
            preferred_channel=channel,
            phone_verified_at=timezone.now() if verified_phone else None,
        )

    return make


@pytest.fixture
def make_operator(db):
    """Create the installation's operator, "Karoo Water", with the given default language."""
    from civicdesk.registry.models import Operator

    def make(language: str = "en", name: str = "Karoo Water") -> Operator:
        return Operator.objects.create(
            name=name,
            jurisdiction="ZA",
            currency="ZAR",
            timezone="Africa/Johannesburg",
            default_language=language,
            enabled_languages=["en", "af", "uk", "ru"],
        )

    return make


@pytest.fixture
def operator(make_operator):
    return make_operator()


@pytest.fixture
def sms_outbox(settings):
    """Outbound SMS kept in memory (LocmemSmsBackend); returns its outbox, emptied."""
    settings.SMS_BACKEND = "civicdesk.notifications.sms.LocmemSmsBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def retry_countdowns(monkeypatch):
    """The countdowns (seconds) the deliver task asked Celery to wait before each retry."""
    from civicdesk.notifications.tasks import deliver

    seen: list[int] = []
    retry = deliver.retry

    def spy(*args, **kwargs):
        seen.append(kwargs["countdown"])
        return retry(*args, **kwargs)

    monkeypatch.setattr(deliver, "retry", spy)
    return seen


@pytest.fixture
def extra_templates(settings):
    """Serve the given in-memory templates ahead of the app's own ones."""

    def install(templates: dict[str, str]) -> None:
        engine = copy.deepcopy(settings.TEMPLATES[0])
        engine["APP_DIRS"] = False
        engine["OPTIONS"]["loaders"] = [
            ("django.template.loaders.locmem.Loader", templates),
            "django.template.loaders.filesystem.Loader",
            "django.template.loaders.app_directories.Loader",
        ]
        settings.TEMPLATES = [engine]

    return install


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Every local server a test starts is stopped and its thread joined by the end of the test."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
