"""The metering API against its schema as staff who read, enter and review readings (the
project-wide schemathesis run calls everything as a resident): no 500s, statuses, bodies and
problem documents as declared, schema-breaking requests refused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from civicdesk.core.tests.test_schemathesis import generous_throttles, media_root, schema
from civicdesk.identity import services
from civicdesk.metering.tests.api_helpers import household

__all__ = ["generous_throttles", "media_root"]  # fixtures, used by name

# This helper's endpoints (sms-preview has its own tests).
METERING_PATHS = (
    r"^/api/v1/(meters|meter-readings(/\{reading_id\}/review)?$"
    r"|accounts/\{account_number\}/consumption)"
)


@pytest.fixture
def officer(make_user, operator):
    """A revenue officer (reads meters, enters and reviews readings) and a household with a
    single-rate and a day/night meter and four months of readings."""
    household(make_user)
    return make_user(role="revenue_officer")


@pytest.mark.django_db(transaction=True)
@schema.include(path_regex=METERING_PATHS).parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_staff_metering_api_conforms_to_its_schema(case, officer, generous_throttles, media_root):
    _token, key = services.token_create(user=officer)
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"})


def test_the_officer_token_reaches_the_endpoints(client, officer):
    """The run above exercises the endpoints themselves, not only their 403."""
    _token, key = services.token_create(user=officer)
    response = client.get("/api/v1/meters", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    assert response.json()["count"] == 2
