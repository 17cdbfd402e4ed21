"""Operations: health endpoint, production deploy checks, error pages under /api/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _run(code: str, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**base, "DJANGO_SETTINGS_MODULE": "civicdesk.config.settings", **env},
        timeout=120,
        check=False,
    )


@pytest.mark.django_db
def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["broker"] in {"eager", "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_names_the_database_when_it_is_unreachable():
    # A real unreachable database: nothing listens on port 1.
    result = _run(
        "import django; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz');"
        "print(r.status_code); print(r.content.decode())",
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
        CIVICDESK_ENV="development",
    )
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().split("\n", 1)
    assert status == "503"
    payload = json.loads(body)
    assert payload["status"] == "unavailable"
    assert payload["database"] == "unavailable"
    assert payload["failing"] == "database"


def test_check_deploy_is_clean_in_production():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            "PATH": os.environ["PATH"],
            "CIVICDESK_ENV": "production",
            "SECRET_KEY": "x" * 20 + "a-real-production-secret-key-0123456789",
            "ALLOWED_HOSTS": "civicdesk.example.org",
            "DATABASE_URL": "sqlite:////tmp/civicdesk-deploy-check.sqlite3",
        },
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = _run(
        "import django; django.setup()",
        CIVICDESK_ENV="production",
        SECRET_KEY="",
        ALLOWED_HOSTS="x.example.org",
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_celery_is_eager_without_a_broker_and_distributed_with_one():
    code = (
        "import django; django.setup();"
        "from civicdesk.config.celery import app;"
        "print(app.conf.task_always_eager, app.conf.broker_url)"
    )
    eager = _run(code, CIVICDESK_ENV="development", CELERY_BROKER_URL="")
    assert eager.stdout.split()[0] == "True", eager.stderr
    distributed = _run(
        code, CIVICDESK_ENV="development", CELERY_BROKER_URL="redis://127.0.0.1:6379/15"
    )
    assert distributed.stdout.split() == ["False", "redis://127.0.0.1:6379/15"], distributed.stderr


@pytest.mark.django_db
def test_unknown_api_url_is_a_problem(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {"type": "about:blank", "title": "Not found", "status": 404}


@pytest.mark.django_db
def test_unknown_page_is_a_friendly_page(client):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/auth/token", "/api/v1/me", "/api/v1/sms/inbound"} <= set(paths)
    docs = client.get("/api/docs/").content.decode()
    assert "cdn" not in docs.lower() and "/static/drf_spectacular_sidecar/" in docs
