"""The staff side of the banking API against its schema (the project-wide schemathesis run
calls everything as a resident, who gets 403 here): no 500s, statuses, bodies and problem
documents as declared, schema-breaking requests refused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from civicdesk.core.tests.test_schemathesis import generous_throttles, media_root, schema
from civicdesk.identity import services
from civicdesk.ledger.tests.banking_support import csv_file, csv_format

__all__ = ["generous_throttles", "media_root"]  # fixtures, used by name


@pytest.fixture
def officer(make_user, operator):
    """A revenue officer, a bank format and a statement with an unmatched line."""
    import datetime as dt

    from civicdesk.ledger import banking

    user = make_user(role="revenue_officer")
    fmt = csv_format()
    banking.statement_import(
        bank_format=fmt,
        data=csv_file([(dt.date(2026, 3, 2), "10.00", "x", "", "T1")]),
        file_name="s.csv",
        actor=None,
    )
    return user


@pytest.mark.django_db(transaction=True)
@schema.include(path_regex="^/api/v1/bank-").parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_staff_banking_api_conforms_to_its_schema(case, officer, generous_throttles, media_root):
    _token, key = services.token_create(user=officer)
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"})


def test_the_officer_token_reaches_the_endpoints(client, officer):
    """The run above exercises the endpoints themselves, not only their 403."""
    _token, key = services.token_create(user=officer)
    response = client.get("/api/v1/bank-lines", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    assert response.json()["count"] == 1
