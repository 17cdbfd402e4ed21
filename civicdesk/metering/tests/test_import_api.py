"""`POST /api/v1/meter-readings/imports` and `GET .../imports[/{id}]`: the report, dry runs,
refusals (422 with the report, the record kept), idempotent retries, permissions, and the
endpoints against their schema."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient

from civicdesk.core.tests.test_schemathesis import generous_throttles, media_root, schema
from civicdesk.identity import services as identity_services
from civicdesk.metering.models import MeterRegister, Reading, ReadingImport
from civicdesk.metering.tests import factories

__all__ = ["generous_throttles", "media_root"]  # fixtures, used by name

pytestmark = pytest.mark.django_db

URL = "/api/v1/meter-readings/imports"
NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
GOOD = b"serial,value,taken_at\nW-1,110,2026-03-10\nW-1,90,2026-03-11\nW-2,5,2026-03-10\n"
BAD = b"serial,value,taken_at\nW-1,110,2026-03-10\nW-9,5,2026-03-10\nW-2,x,2026-03-10\n"


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def meters(operator):
    meter = factories.meter(serial="W-1")
    MeterRegister.objects.create(
        meter=meter,
        register="T",
        last_value=100,
        last_real_value=100,
        last_taken_at=datetime(2026, 2, 15, tzinfo=UTC),
        last_real_taken_at=datetime(2026, 2, 15, tzinfo=UTC),
    )
    factories.meter(serial="W-2")


@pytest.fixture
def officer(make_user, operator, meters):
    return make_user(role="revenue_officer")


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def upload(client, data: bytes, *, key: str | None = None, name="round.csv", **fields):
    return client.post(
        URL,
        {"file": SimpleUploadedFile(name, data, content_type="text/csv"), **fields},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
    )


def test_a_dry_run_is_the_default_and_reports_exact_counts(officer):
    response = upload(client_for(officer), GOOD)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["dry_run"] is True and body["status"] == "checked" and body["written"] is False
    assert (body["rows_read"], body["accepted"], body["flagged"], body["rejected"]) == (3, 2, 0, 1)
    assert body["reasons"] == [
        {
            "code": "lower_than_previous",
            "count": 1,
            "message": "The reading is lower than the previous one.",
        }
    ]
    assert body["errors"] == [] and body["error_count"] == 0
    assert body["started_by"] == officer.email and body["file_name"] == "round.csv"
    assert response["Location"].endswith(f"{URL}/{body['id']}")
    assert Reading.objects.count() == 0


def test_a_real_import_writes_and_can_be_read_back(officer):
    client = client_for(officer)
    response = upload(client, GOOD, dry_run="false")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "done" and body["written"] is True and body["dry_run"] is False
    assert Reading.objects.count() == 3
    again = client.get(f"{URL}/{body['id']}")
    assert again.status_code == 200 and again.json() == body
    listing = client.get(URL).json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]


def test_unreadable_rows_refuse_a_real_import_with_the_report(officer):
    client = client_for(officer)
    response = upload(client, BAD, dry_run="false")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert "2 rows cannot be read" in problem["detail"]
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("serial", "unknown_meter"),
        ("value", "not_a_number"),
    ]
    report = problem["import"]
    assert report["status"] == "refused" and report["written"] is False
    assert [e["line"] for e in report["errors"]] == [3, 4]
    assert report["accepted"] == 1
    assert Reading.objects.count() == 0
    # The record of the refused run is kept.
    assert client.get(f"{URL}/{report['id']}").json()["status"] == "refused"
    assert ReadingImport.objects.filter(status="refused").count() == 1


def test_skip_invalid_imports_the_good_rows(officer):
    response = upload(client_for(officer), BAD, dry_run="false", skip_invalid="true")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "done" and body["error_count"] == 2 and body["accepted"] == 1
    assert Reading.objects.count() == 1


def test_a_dry_run_lists_the_unreadable_rows(officer):
    response = upload(client_for(officer), BAD, dry_run="true")
    assert response.status_code == 201
    assert response.json()["error_count"] == 2 and Reading.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "This is not a CSV text file."),
        (b"name,amount\nA,1\n", "The header lacks the columns serial, value, taken_at"),
        (b"", "The file is empty."),
        (b"serial,value,taken_at\nW-1,\xff,2026-03-10\n", "not UTF-8"),
    ],
)
def test_a_malformed_file_is_refused_with_422(officer, data, text):
    response = upload(client_for(officer), data, dry_run="false")
    assert response.status_code == 422
    assert text in response.json()["detail"]
    assert response.json()["import"]["status"] == "refused"
    assert Reading.objects.count() == 0


def test_a_retry_with_the_same_key_replays_the_answer(officer):
    client = client_for(officer)
    first = upload(client, GOOD, key="round-1", dry_run="false")
    again = upload(client, GOOD, key="round-1", dry_run="false")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert ReadingImport.objects.count() == 1 and Reading.objects.count() == 3
    other = upload(client, BAD, key="round-1", dry_run="false")
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]


def test_the_key_is_required_and_so_is_the_file(officer):
    client = client_for(officer)
    response = client.post(URL, {"file": SimpleUploadedFile("a.csv", GOOD)}, format="multipart")
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["detail"]
    response = client.post(URL, {}, format="multipart", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 422  # no file, or an empty one: the same to Django
    assert response.json()["errors"][0]["field"] == "file"
    empty = client.post(
        URL,
        {"file": SimpleUploadedFile("a.csv", b"")},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="k2",
    )
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "file"


def test_who_may_import_and_read(make_user, operator, meters):
    agent = make_user(role="call_centre_agent")  # reads imports, may not start one
    assert upload(client_for(agent), GOOD).status_code == 403
    assert client_for(agent).get(URL).status_code == 200
    resident = make_user()
    assert upload(client_for(resident), GOOD).status_code == 403
    assert client_for(resident).get(URL).status_code == 403
    assert APIClient().get(URL).status_code in {401, 403}
    assert ReadingImport.objects.count() == 0


def test_an_unknown_import_is_404(officer):
    assert client_for(officer).get(f"{URL}/{uuid.uuid4()}").status_code == 404


# --- the schema -------------------------------------------------------------------------------


@pytest.fixture
def schema_officer(make_user, operator):
    factories.meter(serial="W-1")
    return make_user(role="revenue_officer")


@pytest.mark.django_db(transaction=True)
@schema.include(path_regex=r"^/api/v1/meter-readings/imports").parametrize()
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_import_api_conforms_to_its_schema(
    case, schema_officer, generous_throttles, media_root
):
    _token, key = identity_services.token_create(user=schema_officer)
    headers = {"Authorization": f"Bearer {key}"}
    if case.method == "POST":
        headers["Idempotency-Key"] = str(uuid.uuid4())
    case.call_and_validate(headers=headers)


# --- the back-office page (/staff/metering/imports/) ------------------------------------------

PAGE = "/staff/metering/imports/"


@pytest.fixture
def staff_page(client, make_user, totp_code, operator, meters):
    """`client` signed in (with the second factor) as staff with ``role``."""

    def _login(role: str = "revenue_officer"):
        user = make_user(role=role)
        client.force_login(user)
        assert client.post("/mfa/", {"code": totp_code()}).status_code == 302
        return user

    return _login


def page_upload(client, data: bytes, **fields):
    return client.post(PAGE, {"file": SimpleUploadedFile("round.csv", data), **fields})


def test_the_page_checks_a_file_first_then_imports_it(client, staff_page):
    staff_page()
    page = client.get(PAGE)
    assert page.status_code == 200
    assert 'name="dry_run"' in page.text and "checked" in page.text
    checked = page_upload(client, GOOD, dry_run="on")
    assert checked.status_code == 200
    assert 'data-status="checked"' in checked.text
    assert 'data-testid="accepted">2<' in checked.text
    assert 'data-testid="rejected">1<' in checked.text
    assert "The reading is lower than the previous one." in checked.text
    assert Reading.objects.count() == 0
    done = page_upload(client, GOOD)
    assert 'data-status="done"' in done.text and Reading.objects.count() == 3
    record = ReadingImport.objects.get(status="done")
    detail = client.get(f"{PAGE}{record.public_id}/")
    assert detail.status_code == 200 and 'data-testid="accepted">2<' in detail.text
    assert "round.csv" in client.get(PAGE).text


def test_the_page_lists_the_rows_that_cannot_be_read(client, staff_page):
    staff_page()
    response = page_upload(client, BAD)
    assert response.status_code == 422
    assert 'data-status="refused"' in response.text
    assert "No meter has the serial number W-9." in response.text
    assert "Nothing was written." in response.text
    assert Reading.objects.count() == 0
    response = page_upload(client, BAD, skip_invalid="on")
    assert response.status_code == 200 and Reading.objects.count() == 1


def test_the_page_refuses_a_malformed_file_with_its_reason(client, staff_page):
    staff_page()
    response = page_upload(client, b"PK\x03\x04" + bytes(100))
    assert response.status_code == 422
    assert "This is a spreadsheet, not CSV" in response.text


def test_the_page_needs_a_file(client, staff_page):
    staff_page()
    response = client.post(PAGE, {"dry_run": "on"})
    assert response.status_code == 400 and ReadingImport.objects.count() == 0


def test_who_may_use_the_page(client, staff_page):
    staff_page("call_centre_agent")  # may read imports, not start one
    assert client.get(PAGE).status_code == 200
    assert 'name="file"' not in client.get(PAGE).text
    assert page_upload(client, GOOD).status_code == 403
    assert ReadingImport.objects.count() == 0
