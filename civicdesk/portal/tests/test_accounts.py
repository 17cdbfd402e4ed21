"""The resident's account pages: list, link (code, last bill, document), unlink, invite."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from civicdesk.notifications import sms
from civicdesk.registry import services
from civicdesk.registry.models import AccountLink, LinkRequest
from civicdesk.registry.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident(client, make_user, operator):
    user = make_user()
    client.force_login(user)
    return user


def test_lists_only_my_accounts(client, resident, make_user):
    mine = factories.account()
    other = factories.account()
    services.link_by_staff(user=resident, account=mine, role="owner")
    services.link_by_staff(user=make_user(), account=other, role="owner")
    page = client.get("/accounts/").content.decode()
    assert mine.number in page and other.number not in page
    assert client.get(f"/accounts/{mine.number}/").status_code == 200
    assert client.get(f"/accounts/{other.number}/").status_code == 404
    assert client.post(f"/accounts/{other.number}/unlink/").status_code == 404
    assert AccountLink.objects.filter(account=other, revoked_at=None).exists()


def test_link_by_code_through_the_pages(client, resident, django_capture_on_commit_callbacks):
    account = factories.account(holder_phone="+27825550002")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/link/",
            {"account_number": account.number, "role": "owner", "method": "code"},
        )
    assert response.status_code == 302
    confirm_url = response["Location"]
    page = client.get(confirm_url).content.decode()
    assert "we sent a code to the contact details on file" in page
    bad = client.post(confirm_url, {"code": "000000"}).content.decode()
    assert "That code is not right." in bad
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)
    response = client.post(confirm_url, {"code": code})
    assert response["Location"] == f"/accounts/{account.number}/"
    assert client.get("/accounts/").content.decode().count(account.number) >= 1


def test_wrong_check_digit_shows_a_clear_error(client, resident):
    account = factories.account()
    typo = account.number[:-1] + str((int(account.number[-1]) + 1) % 10)
    page = client.post(
        "/accounts/link/", {"account_number": typo, "role": "owner", "method": "code"}
    ).content.decode()
    assert "check digit" in page
    assert not LinkRequest.objects.exists()


def test_link_by_document_waits_for_review(client, resident):
    account = factories.account()
    response = client.post(
        "/accounts/link/",
        {
            "account_number": account.number,
            "role": "tenant",
            "method": "document",
            "document_kind": "lease",
            "document": SimpleUploadedFile(
                "lease.pdf", b"%PDF-1.4 lease", content_type="application/pdf"
            ),
        },
    )
    page = client.get(response["Location"]).content.decode()
    assert "Staff will review your document" in page


def test_someone_elses_link_request_is_404(client, resident, make_user):
    other = make_user()
    account = factories.account()
    request = services.link_request_start(
        user=other, account_number=account.number, method="last_bill"
    )
    assert client.get(f"/accounts/link/{request.id}/").status_code == 404
    assert client.post(f"/accounts/link/{request.id}/", {"amount": "812.40"}).status_code == 404
    assert not AccountLink.objects.exists()


def test_unlink(client, resident):
    account = factories.account()
    services.link_by_staff(user=resident, account=account, role="owner")
    response = client.post(f"/accounts/{account.number}/unlink/")
    assert response["Location"] == "/accounts/"
    assert client.get(f"/accounts/{account.number}/").status_code == 404


def test_invite_a_tenant_through_the_pages(
    client, resident, make_user, mailoutbox, django_capture_on_commit_callbacks
):
    account = factories.account()
    services.link_by_staff(user=resident, account=account, role="owner")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/accounts/{account.number}/", {"email": "tenant@example.org", "role": "tenant"}
        )
    link = re.search(r"http://testserver(/accounts/invitations/\S+/)", mailoutbox[-1].body).group(1)
    tenant = make_user("tenant@example.org")
    client.force_login(tenant)
    assert client.post(link)["Location"] == f"/accounts/{account.number}/"
    assert client.post(link).status_code == 400  # used once
