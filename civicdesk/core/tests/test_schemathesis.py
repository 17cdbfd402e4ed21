"""Property-based API tests: schemathesis drives every operation in the OpenAPI schema in-process
(through the WSGI app) and validates each response with its default checks: no 500s, status
codes, content types, headers and bodies as declared, bad input rejected, good input accepted,
authentication enforced."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.throttling import SimpleRateThrottle

from civicdesk.config.wsgi import application
from civicdesk.identity import services

SCHEMA_URL = "/api/schema/?format=json"


# Loaded at collection, through the full middleware stack. Serving the schema touches no
# database (pytest-django blocks database access outside tests, so it would fail loudly if it did).
# schemathesis.pytest.from_fixture() would defer this to the test, but schemathesis 4.32 reads
# `Function._nodeid`, which pytest 9.2 removed.
schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, application)


@pytest.fixture
def generous_throttles(settings, monkeypatch):
    """Hundreds of requests in a few seconds would trip the production rates (the token endpoint
    allows 20/min). Raise them for this test only; throttling itself stays on."""
    rates = {scope: "100000/min" for scope in ("anon", "user", "auth", "sms")}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    # DRF copies the rates onto the class when rest_framework.throttling is imported, so the
    # settings override alone does not reach it.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    # The resident and the raised throttles are meant to live across all examples of an
    # operation; each example gets its own fresh token below.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case, resident, generous_throttles):
    # A fresh token for every case: DELETE /auth/token revokes the one it is sent with.
    _token, key = services.token_create(user=resident)
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"})
