"""The registry API: residents see their own accounts by number (anyone else's is 404) and link
themselves; staff create, read, update and filter within their role's permissions."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from civicdesk.notifications import sms
from civicdesk.registry import services
from civicdesk.registry.models import Building, PersonalAccount
from civicdesk.registry.tests import factories

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def resident(api, make_user, operator):
    user = make_user()
    api.force_authenticate(user)
    return user


@pytest.fixture
def staff(make_user, operator):
    def _staff(role):
        client = APIClient()
        client.force_authenticate(make_user(role=role))
        return client

    return _staff


def test_resident_lists_and_reads_only_their_accounts(api, resident, make_user):
    mine, other = factories.account(), factories.account()
    services.link_by_staff(user=resident, account=mine, role="owner")
    services.link_by_staff(user=make_user(), account=other, role="owner")
    body = api.get("/api/v1/accounts").json()
    assert [a["account_number"] for a in body["results"]] == [mine.number]
    detail = api.get(f"/api/v1/accounts/{mine.number}").json()
    assert detail["services"][0]["service_type"] == "electricity"
    assert detail["address"] == mine.premises.address
    for url in (f"/api/v1/accounts/{other.number}", f"/api/v1/accounts/{other.number}/unlink"):
        response = api.get(url) if url.endswith(other.number) else api.post(url)
        assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    response = api.post(
        f"/api/v1/accounts/{other.number}/invite", {"email": "a@example.org", "role": "tenant"}
    )
    assert response.status_code == 404


def test_residents_cannot_write_registry_records(api, resident):
    account = factories.account()
    services.link_by_staff(user=resident, account=account, role="owner")
    assert api.patch(f"/api/v1/accounts/{account.number}", {"status": "closed"}).status_code == 403
    assert api.get("/api/v1/providers").status_code == 403
    assert api.get("/api/v1/buildings").status_code == 403


def test_link_by_code_over_the_api(api, resident, django_capture_on_commit_callbacks):
    account = factories.account(holder_phone="+27825550003")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/account-links", {"account_number": account.number, "method": "code"}
        )
    assert response.status_code == 201
    link = response.json()
    assert link["status"] == "pending" and "contact details on file" in link["message"]
    assert "account" not in link  # never reveals whether the number exists
    wrong = api.post(f"/api/v1/account-links/{link['id']}/confirm", {"code": "000000"})
    assert wrong.status_code == 422 and wrong["Content-Type"] == PROBLEM
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)
    ok = api.post(f"/api/v1/account-links/{link['id']}/confirm", {"code": code})
    assert ok.status_code == 200 and ok.json()["status"] == "confirmed"
    assert api.get(f"/api/v1/accounts/{account.number}").status_code == 200


def test_unknown_number_gets_the_same_answer(api, resident, operator):
    from civicdesk.core.identifiers import account_number_make

    unknown = account_number_make(operator.account_number_format, 777_777)
    response = api.post("/api/v1/account-links", {"account_number": unknown, "method": "code"})
    assert response.status_code == 201
    assert set(response.json()) == {
        "id",
        "account_number",
        "method",
        "role",
        "status",
        "expires_at",
        "created_at",
        "message",
    }


def test_wrong_check_digit_is_a_clear_422(api, resident):
    account = factories.account()
    typo = account.number[:-1] + str((int(account.number[-1]) + 1) % 10)
    response = api.post("/api/v1/account-links", {"account_number": typo, "method": "code"})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "account_number" and "check digit" in error["message"]


def test_link_by_document_upload(api, resident):
    account = factories.account()
    response = api.post(
        "/api/v1/account-links",
        {
            "account_number": account.number,
            "method": "document",
            "role": "tenant",
            "document_kind": "lease",
            "document": SimpleUploadedFile("lease.pdf", b"%PDF-1.7 lease"),
        },
        format="multipart",
    )
    assert response.status_code == 201 and response.json()["status"] == "in_review"
    fake = api.post(
        "/api/v1/account-links",
        {
            "account_number": account.number,
            "method": "document",
            "document_kind": "lease",
            "document": SimpleUploadedFile("lease.pdf", b"#!/bin/sh\nrm -rf /"),
        },
        format="multipart",
    )
    assert fake.status_code == 422 and fake.json()["errors"][0]["field"] == "document"


def test_another_residents_link_request_is_404(api, resident, make_user):
    account = factories.account()
    other_request = services.link_request_start(
        user=make_user(), account_number=account.number, method="last_bill"
    )
    assert api.get(f"/api/v1/account-links/{other_request.id}").status_code == 404
    response = api.post(f"/api/v1/account-links/{other_request.id}/confirm", {"amount": "812.40"})
    assert response.status_code == 404


def test_unlink_over_the_api(api, resident):
    account = factories.account()
    services.link_by_staff(user=resident, account=account, role="owner")
    assert api.post(f"/api/v1/accounts/{account.number}/unlink").status_code == 204
    assert api.get(f"/api/v1/accounts/{account.number}").status_code == 404


def test_staff_create_update_and_filter(staff):
    admin = staff("operator_admin")
    district = admin.post(
        "/api/v1/territories", {"code": "north", "name": "North", "kind": "district"}
    )
    assert district.status_code == 201, district.content
    building = admin.post(
        "/api/v1/buildings",
        {
            "code": "nb-1",
            "address": "1 Long Street",
            "territory": "north",
            "total_area": "500.00",
            "heated_area": "450.00",
            "management_form": "municipal",
        },
    )
    assert building.status_code == 201, building.content
    premises = admin.post(
        "/api/v1/premises",
        {"building": "nb-1", "number": "1", "total_area": "50.00", "heated_area": "50.00"},
    )
    assert premises.status_code == 201
    account = admin.post(
        "/api/v1/accounts", {"premises": premises.json()["id"], "opened_on": "2025-01-01"}
    )
    assert account.status_code == 201, account.content
    number = account.json()["account_number"]
    from civicdesk.core.identifiers import check_digit_valid
    from civicdesk.registry.selectors import operator_get

    assert check_digit_valid(operator_get().account_number_format, number)
    assert admin.patch("/api/v1/buildings/nb-1", {"heated_area": "400.00"}).status_code == 200
    assert Building.objects.get(code="nb-1").history.count() == 2
    assert admin.get("/api/v1/accounts?territory=north").json()["count"] == 1
    assert admin.get("/api/v1/accounts?territory=south").json()["count"] == 0
    assert admin.get("/api/v1/buildings?address__icontains=long").json()["count"] == 1


def test_staff_model_rules_are_422_and_nothing_is_written(staff):
    admin = staff("operator_admin")
    factories.territory("west")
    response = admin.post(
        "/api/v1/buildings",
        {
            "code": "wb-1",
            "address": "2 Long Street",
            "territory": "west",
            "total_area": "100.00",
            "heated_area": "150.00",
            "management_form": "municipal",
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "heated_area"
    assert not Building.objects.filter(code="wb-1").exists()


def test_provider_bank_details_are_validated(staff, operator):
    admin = staff("operator_admin")
    response = admin.post(
        "/api/v1/providers",
        {"code": "w", "name": "Water", "services": ["cold_water"], "tax_number": "0001339051"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "tax_number"


def test_call_centre_reads_but_cannot_write(staff):
    agent = staff("call_centre_agent")
    account = factories.account()
    assert agent.get(f"/api/v1/accounts/{account.number}").status_code == 200
    assert (
        agent.patch(f"/api/v1/accounts/{account.number}", {"status": "closed"}).status_code == 403
    )
    assert PersonalAccount.objects.get(pk=account.pk).status == "open"


def test_territory_locate(staff):
    agent = staff("call_centre_agent")
    district = factories.territory("c", name="Central", boundary=factories.SQUARE)
    factories.territory(
        "c-a",
        name="Arcadia",
        kind="area",
        parent=district,
        boundary={
            "type": "Polygon",
            "coordinates": [
                [[28.0, -26.0], [28.1, -26.0], [28.1, -25.9], [28.0, -25.9], [28.0, -26.0]]
            ],
        },
    )
    assert agent.get("/api/v1/territories/locate?lon=28.05&lat=-25.95").json()["code"] == "c-a"
    assert agent.get("/api/v1/territories/locate?lon=28.4&lat=-25.6").json()["code"] == "c"
    assert agent.get("/api/v1/territories/locate?lon=10&lat=10").status_code == 404
    assert (
        agent.get("/api/v1/territories/locate?address=12 Park St, Arcadia").json()["code"] == "c-a"
    )
    assert agent.get("/api/v1/territories/locate?lon=500&lat=0").status_code == 400
    assert agent.get("/api/v1/territories/locate").status_code == 400
