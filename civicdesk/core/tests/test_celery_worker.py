"""With a broker, tasks go to real Celery workers (make test-pg starts one here)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        not (os.environ.get("CIVICDESK_WORKER_TESTS") and settings.CELERY_BROKER_URL),
        reason="needs CELERY_BROKER_URL and CIVICDESK_WORKER_TESTS=1 (make test-pg)",
    ),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the worker shares the PostgreSQL test database"
    ),
]


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker(tmp_path):
    """A real worker process on the test database, writing e-mail to files in tmp_path."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "DATABASE_URL": _database_url(),
        "CIVICDESK_ENV": "development",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    env["EMAIL_FILE_PATH"] = str(tmp_path)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "civicdesk",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield process, tmp_path
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.django_db(transaction=True)
def test_a_notification_is_delivered_by_a_real_worker(worker, make_user):
    from civicdesk.notifications.models import Delivery
    from civicdesk.notifications.services import notify

    process, outbox = worker
    user = make_user(email="worker@example.org")
    delivery = notify(user, "identity/verify_email", {"code": "123456", "minutes": 15})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status == Delivery.Status.SENT:
            break
        assert process.poll() is None, process.stdout.read().decode()
        time.sleep(0.2)
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 1
    written = "".join(p.read_text() for p in outbox.glob("*.log"))
    assert "worker@example.org" in written and "123456" in written
