"""Property-based API tests: schemathesis drives every operation in the OpenAPI schema in-process
(through the WSGI app) and validates each response with its default checks: no 500s; status
codes, content types, headers and bodies as declared; requests that break the schema refused;
requests that keep it accepted; authentication enforced."""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle
from schemathesis.core.parameters import ParameterLocation

from civicdesk.config.wsgi import application
from civicdesk.identity import services

SCHEMA_URL = "/api/schema/?format=json"
SMS_SECRET_HEADER = "X-Civicdesk-Sms-Secret"

CONFIG = schemathesis.Config.from_dict(
    {
        # Every DRF CharField refuses NUL characters (400, "Null characters are not allowed."),
        # which no schema here states; generating them would only rediscover that.
        "generation": {"allow-x00": False},
        "checks": {
            # A request that matches the schema may still break a rule no schema can state: a
            # phone number that matches the pattern but does not exist, SMS chosen while the
            # profile has no phone. The API answers those 422 (core.api.UnprocessableContent),
            # and only those: a request the serializers refuse is a 400, which stays a failure.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"],
            },
        },
    }
)

# Loaded at collection, through the whole middleware stack. Serving the schema touches no
# database (pytest-django blocks database access outside tests: it would fail loudly if it did).
# schemathesis.pytest.from_fixture() would load it inside the test instead, but schemathesis 4.32
# reads `Function._nodeid`, which pytest 9.2 removed.
schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, application, config=CONFIG)


@pytest.fixture
def generous_throttles(settings, monkeypatch):
    """Hundreds of requests in a few seconds would trip the production rates (the token endpoint
    allows 20/min). Raise them for this test only; throttling itself stays on."""
    rates = dict.fromkeys(("anon", "user", "auth", "sms"), "100000/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    # DRF copies the rates onto the throttle classes when it imports them, so the settings
    # override alone does not reach them.
    for throttle in (AnonRateThrottle, UserRateThrottle, ScopedRateThrottle):
        monkeypatch.setattr(throttle, "THROTTLE_RATES", rates)


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploads the examples make (attachments, link documents) go to a temporary directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def resident(make_user, operator):
    """A resident with a linked account and a case of their own, so the registry's and the
    cases' resident endpoints do real work."""
    from civicdesk.registry.services import link_by_staff
    from civicdesk.registry.tests import factories

    user = make_user("schemathesis@example.org")
    link_by_staff(user=user, account=factories.account(), role="owner")
    _resident_case(user)
    return user


def _resident_case(user):
    """C-2026-000123, the case reference the schema gives as its example, in category
    water-leak, the one of the schema's example report."""
    import datetime as dt

    import time_machine

    from civicdesk.cases.models import ReferenceCounter
    from civicdesk.cases.services import Intake, case_create
    from civicdesk.cases.tests import factories

    category = factories.category(
        "water-leak",
        questions=[{"key": "since", "type": "date", "label": {"en": "Since when?"}}],
    )
    ReferenceCounter.objects.create(year=2026, next=123)
    with time_machine.travel(dt.datetime(2026, 3, 3, 8, tzinfo=dt.UTC), tick=False):
        case_create(Intake(category=category, channel="portal", subject="No water", requester=user))


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
def test_api_conforms_to_its_schema(case, resident, generous_throttles, media_root):
    # A fresh token for every example: DELETE /auth/token revokes the one it is sent with.
    _token, key = services.token_create(user=resident)
    # Random shared secrets only ever reach the 403. Where the headers were generated to be valid,
    # send the real one, so the body is parsed and the SMS dispatched.
    if SMS_SECRET_HEADER in (case.headers or {}) and not (
        case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
    ):
        case.headers[SMS_SECRET_HEADER] = django_settings.SMS_INBOUND_SECRET
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"})
