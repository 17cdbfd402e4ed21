"""API: bank statements, bank lines, missing payments. Staff only where money moves; residents
only their own accounts and reports (anyone else's: 404)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from civicdesk.ledger import services
from civicdesk.ledger.models import BankLine, BankStatement, MissingPaymentReport, Posting
from civicdesk.ledger.tests.banking_support import (
    PDF,
    bad_check_digit,
    camt_file,
    camt_format,
    csv_file,
    csv_format,
    linked_resident,
    revenue_queue,
)
from civicdesk.registry.tests import factories

DAY = dt.date(2026, 3, 6)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC), tick=True):
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def officer(make_user, operator):
    user = make_user(role="revenue_officer")
    revenue_queue(user)
    return user


@pytest.fixture
def resident(make_user, operator):
    return linked_resident(make_user)


def _upload(client, fmt, data, name="s.csv", key=None):
    return client.post(
        "/api/v1/bank-statements",
        {"format": fmt.code, "file": SimpleUploadedFile(name, data)},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
    )


def test_upload_csv_and_list(officer):
    account = factories.account()
    fmt = csv_format()
    client = client_for(officer)
    data = csv_file([(DAY, "150.00", account.number, "", "T1"), (DAY, "5.00", "x", "", "T2")])
    response = _upload(client, fmt, data, key="k-1")
    assert response.status_code == 201, response.content
    [body] = response.json()["statements"]
    assert body["format"] == fmt.code
    assert (body["lines"], body["matched"], body["suspense"], body["ignored"]) == (2, 1, 1, 0)
    assert body["total"] == "155.00"
    assert body["imported_by"] == officer.email
    assert services.credit_available(account) == 15000

    # The same request again (a retry) replays the answer: nothing imported twice.
    again = _upload(client, fmt, data, key="k-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert BankStatement.objects.count() == 1
    # A new key: the statement is recognised and refused.
    refused = _upload(client, fmt, data, key="k-2")
    assert refused.status_code == 422
    assert refused["Content-Type"] == "application/problem+json"
    assert "already imported" in refused.json()["detail"]
    assert BankStatement.objects.count() == 1

    listed = client.get("/api/v1/bank-statements")
    assert listed.status_code == 200
    assert listed.json()["results"][0]["id"] == body["id"]


def test_upload_camt(officer):
    account = factories.account()
    data = camt_file([{"amount": "12.50", "booked": DAY, "reference": account.number, "ref": "Q"}])
    response = _upload(client_for(officer), camt_format(), data, name="s.xml")
    assert response.status_code == 201
    assert response.json()["statements"][0]["statement_id"] == "STMT-2026-001"


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"format": "nope", "file": b"x"}, 422, "format"),
        ({"format": "fnb-csv", "file": b"Date,Amount\n"}, 422, "file"),
        ({"format": "fnb-csv"}, 422, "file"),  # no file, or an empty one: the same to Django
        ({"file": b"x"}, 400, "format"),
    ],
)
def test_upload_refusals(officer, payload, status, field):
    csv_format()
    data = dict(payload)
    if "file" in data:
        data["file"] = SimpleUploadedFile("f.csv", data["file"])
    response = client_for(officer).post(
        "/api/v1/bank-statements", data, format="multipart", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    assert response.status_code == status, response.content
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not BankStatement.objects.exists()


def test_upload_needs_an_idempotency_key(officer):
    fmt = csv_format()
    response = client_for(officer).post(
        "/api/v1/bank-statements",
        {"format": fmt.code, "file": SimpleUploadedFile("f.csv", b"x")},
        format="multipart",
    )
    assert response.status_code == 400
    assert not BankStatement.objects.exists()


def test_statements_and_lines_are_for_revenue_staff(make_user, operator, resident):
    agent = make_user(role="call_centre_agent")
    fmt = csv_format()
    user, _account = resident
    for client, listing, upload in (
        (client_for(user), 403, 403),
        (client_for(agent), 200, 403),  # reads the ledger, may not import
        (APIClient(), 401, 401),
    ):
        assert client.get("/api/v1/bank-statements").status_code == listing
        assert client.get("/api/v1/bank-lines").status_code == listing
        assert _upload(client, fmt, b"x").status_code == upload
    assert not BankStatement.objects.exists()


def test_bank_lines_queue_and_match(officer):
    account = factories.account()
    fmt = csv_format()
    client = client_for(officer)
    _upload(
        client,
        fmt,
        csv_file(
            [
                (DAY, "70.00", "no number", "Payer A", "T1"),
                (DAY, "30.00", bad_check_digit(account.number), "Payer B", "T2"),
                (DAY, "10.00", account.number, "", "T3"),
            ]
        ),
    )
    queue = client.get("/api/v1/bank-lines", {"status": "suspense"}).json()["results"]
    assert [line["bank_ref"] for line in queue] == ["T1", "T2"]
    assert queue[1]["match_reason"] == "check_digit"
    assert (
        client.get("/api/v1/bank-lines", {"status": "suspense", "amount": "30.00"}).json()["count"]
        == 1
    )
    assert client.get("/api/v1/bank-lines", {"q": "payer a"}).json()["count"] == 1
    assert client.get("/api/v1/bank-lines", {"status": "bogus"}).status_code == 400
    assert client.get("/api/v1/bank-lines", {"date_from": "not-a-date"}).status_code == 400

    line_id = queue[0]["id"]
    url = f"/api/v1/bank-lines/{line_id}/match"
    bad = client.post(
        url,
        {"account_number": bad_check_digit(account.number)},
        format="json",
        HTTP_IDEMPOTENCY_KEY="m-0",
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "account_number"

    response = client.post(
        url, {"account_number": account.number}, format="json", HTTP_IDEMPOTENCY_KEY="m-1"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    assert response.json()["account_number"] == account.number
    assert response.json()["resolved_by"] == officer.email
    assert services.credit_available(account) == 8000
    postings = Posting.objects.count()
    replay = client.post(
        url, {"account_number": account.number}, format="json", HTTP_IDEMPOTENCY_KEY="m-1"
    )
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    twice = client.post(
        url, {"account_number": account.number}, format="json", HTTP_IDEMPOTENCY_KEY="m-2"
    )
    assert twice.status_code == 422
    assert Posting.objects.count() == postings
    assert services.credit_available(account) == 8000

    missing = client.post(
        f"/api/v1/bank-lines/{uuid.uuid4()}/match",
        {"account_number": account.number},
        format="json",
        HTTP_IDEMPOTENCY_KEY="m-3",
    )
    assert missing.status_code == 404


def test_match_is_for_revenue_officers(make_user, operator):
    agent = make_user(role="call_centre_agent")
    account = factories.account()
    fmt = csv_format()
    from civicdesk.ledger import banking

    line = banking.statement_import(
        bank_format=fmt, data=csv_file([(DAY, "1.00", "x", "", "A")]), file_name="s", actor=None
    ).lines.get()
    response = client_for(agent).post(
        f"/api/v1/bank-lines/{line.id}/match",
        {"account_number": account.number},
        format="json",
        HTTP_IDEMPOTENCY_KEY="a",
    )
    assert response.status_code == 403
    line.refresh_from_db()
    assert line.status == BankLine.Status.SUSPENSE


def test_resident_reports_a_missing_payment_with_proof(officer, resident):
    user, account = resident
    client = client_for(user)
    response = client.post(
        "/api/v1/missing-payments",
        {
            "account_number": account.number,
            "paid_on": "2026-03-05",
            "amount": "350.00",
            "bank_reference": "FNB 7781",
            "proof": SimpleUploadedFile("receipt.pdf", PDF, content_type="application/pdf"),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == "350.00"
    assert body["status"] == "open"
    assert body["case_reference"].startswith("C-2026-")
    report = MissingPaymentReport.objects.get()
    assert report.case.attachments.count() == 1
    assert report.case.channel == "api"

    mine = client.get("/api/v1/missing-payments").json()
    assert [r["id"] for r in mine["results"]] == [body["id"]]
    assert client.get(f"/api/v1/missing-payments/{body['id']}").status_code == 200
    staff_view = client_for(officer).get("/api/v1/missing-payments", {"status": "open"}).json()
    assert staff_view["count"] == 1


def test_json_report_without_proof(officer, resident):
    user, account = resident
    response = client_for(user).post(
        "/api/v1/missing-payments",
        {"account_number": account.number, "paid_on": "2026-03-05", "amount": "10.00"},
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"paid_on": "2026-03-11"}, 422, "paid_on"),
        ({"amount": "0.00"}, 422, "amount"),
        ({"amount": "-5.00"}, 400, "amount"),
        ({"amount": "10.001"}, 422, "amount"),
        ({"amount": 10}, 400, "amount"),
        ({"paid_on": "yesterday"}, 400, "paid_on"),
    ],
)
def test_bad_reports_through_the_api(officer, resident, changes, status, field):
    user, account = resident
    payload = {"account_number": account.number, "paid_on": "2026-03-05", "amount": "10.00"}
    payload.update(changes)
    response = client_for(user).post("/api/v1/missing-payments", payload, format="json")
    assert response.status_code == status, response.content
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not MissingPaymentReport.objects.exists()


def test_proof_that_is_not_a_pdf_or_image(officer, resident):
    user, account = resident
    response = client_for(user).post(
        "/api/v1/missing-payments",
        {
            "account_number": account.number,
            "paid_on": "2026-03-05",
            "amount": "10.00",
            "proof": SimpleUploadedFile("x.pdf", b"MZ\x90\x00 not a pdf"),
        },
        format="multipart",
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "proof"
    assert not MissingPaymentReport.objects.exists()


def test_another_residents_account_and_report_are_404(officer, make_user, resident):
    user, _account = resident
    stranger, stranger_account = linked_resident(make_user)
    response = client_for(user).post(
        "/api/v1/missing-payments",
        {"account_number": stranger_account.number, "paid_on": "2026-03-05", "amount": "1.00"},
        format="json",
    )
    assert response.status_code == 404
    own = client_for(stranger).post(
        "/api/v1/missing-payments",
        {"account_number": stranger_account.number, "paid_on": "2026-03-05", "amount": "1.00"},
        format="json",
    )
    report_id = own.json()["id"]
    assert client_for(user).get(f"/api/v1/missing-payments/{report_id}").status_code == 404
    assert client_for(user).get("/api/v1/missing-payments").json()["count"] == 0
    assert MissingPaymentReport.objects.count() == 1
