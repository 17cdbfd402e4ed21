"""The staff queue of link requests proved by a document: list, look, download, decide."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from civicdesk.registry import services
from civicdesk.registry.models import AccountHolder, AccountLink, LinkRequest
from civicdesk.registry.tests import factories

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 50


@pytest.fixture
def account(operator):
    account = factories.account()
    AccountHolder.objects.filter(account=account).update(
        full_name="Naledi Mahlangu", id_number="8001015009087"
    )
    return account


@pytest.fixture
def lease_request(make_user, account, document_storage):
    resident = make_user("naledi@example.net", full_name="Naledi Mahlangu")
    return services.link_request_start(
        user=resident,
        account_number=account.number,
        method="document",
        role="tenant",
        # a lying name and browser type: the content decides
        document=SimpleUploadedFile("lease.html", PDF, content_type="text/html"),
        document_kind="lease",
    )


def _text(response) -> str:
    return response.content.decode()


def test_queue_lists_requests_in_review_for_reviewers(client, staff_login, lease_request):
    staff_login("service_centre_admin")
    home = _text(client.get("/staff/"))
    assert 'href="/staff/link-reviews/"' in home
    page = client.get("/staff/link-reviews/")
    assert page.status_code == 200
    html = _text(page)
    assert lease_request.account_number in html and "naledi@example.net" in html
    assert f'href="/staff/link-reviews/{lease_request.id}/"' in html


def test_review_page_shows_the_account_holders_to_compare(client, staff_login, lease_request):
    staff_login("service_centre_admin")
    html = _text(client.get(f"/staff/link-reviews/{lease_request.id}/"))
    assert "Naledi Mahlangu" in html and "8001015009087" in html
    assert f'href="/staff/link-reviews/{lease_request.id}/document/"' in html
    assert "/media/" not in html
    assert 'value="approve"' in html and 'value="reject"' in html


def test_approve_links_the_account_and_tells_the_resident(
    client, staff_login, lease_request, mailoutbox, django_capture_on_commit_callbacks
):
    reviewer = staff_login("service_centre_admin")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/staff/link-reviews/{lease_request.id}/", {"decision": "approve"})
    assert response.status_code == 302 and response["Location"] == "/staff/link-reviews/"
    lease_request.refresh_from_db()
    assert lease_request.status == "confirmed" and lease_request.reviewed_by == reviewer
    link = AccountLink.objects.get(user=lease_request.user)
    assert link.account == lease_request.account and link.role == "tenant"
    assert mailoutbox[-1].to == ["naledi@example.net"]
    assert "Nothing waits for review." in _text(client.get("/staff/link-reviews/"))


def test_reject_needs_a_reason(
    client, staff_login, lease_request, mailoutbox, django_capture_on_commit_callbacks
):
    staff_login("operator_admin")
    url = f"/staff/link-reviews/{lease_request.id}/"
    response = client.post(url, {"decision": "reject", "note": "  "})
    assert response.status_code == 200
    assert 'class="error"' in _text(response)
    lease_request.refresh_from_db()
    assert lease_request.status == "in_review"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"decision": "reject", "note": "The lease names someone else."})
    assert response.status_code == 302
    lease_request.refresh_from_db()
    assert lease_request.status == "rejected"
    assert lease_request.review_note == "The lease names someone else."
    assert not AccountLink.objects.exists()
    assert "The lease names someone else." in mailoutbox[-1].body
    # decided: no more forms, the outcome is shown
    html = _text(client.get(url))
    assert 'value="approve"' not in html and "The lease names someone else." in html
    assert client.post(url, {"decision": "approve"}).status_code == 200
    assert not AccountLink.objects.exists()


def test_unknown_account_cannot_be_approved(
    client, staff_login, make_user, operator, document_storage
):
    from civicdesk.core.identifiers import account_number_make

    request = services.link_request_start(
        user=make_user(),
        account_number=account_number_make(operator.account_number_format, 424242),
        method="document",
        document=SimpleUploadedFile("id.png", PNG),
        document_kind="identity",
    )
    staff_login("service_centre_admin")
    url = f"/staff/link-reviews/{request.id}/"
    html = _text(client.get(url))
    assert "No open account has this number." in html and 'value="approve"' not in html
    assert client.post(url, {"decision": "approve"}).status_code == 200
    assert client.post(url, {"decision": "maybe"}).status_code == 400
    request.refresh_from_db()
    assert request.status == "in_review"


def test_document_is_a_download_with_the_sniffed_type(client, staff_login, lease_request):
    staff_login("service_centre_admin")
    response = client.get(f"/staff/link-reviews/{lease_request.id}/document/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"lease-{lease_request.account_number}.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == PDF


def test_only_reviewers_reach_the_queue_and_documents(
    client, staff_login, make_user, lease_request
):
    urls = (
        "/staff/link-reviews/",
        f"/staff/link-reviews/{lease_request.id}/",
        f"/staff/link-reviews/{lease_request.id}/document/",
    )
    client.force_login(lease_request.user)  # the resident who uploaded it
    assert [client.get(url).status_code for url in urls] == [403, 403, 403]
    client.logout()
    staff_login("call_centre_agent")  # staff without registry.review_linkrequest
    assert [client.get(url).status_code for url in urls] == [403, 403, 403]
    assert client.post(urls[1], {"decision": "approve"}).status_code == 403
    assert LinkRequest.objects.get().status == "in_review"


def test_unknown_request_is_404(client, staff_login, operator):
    staff_login("service_centre_admin")
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"/staff/link-reviews/{missing}/").status_code == 404
    assert client.get(f"/staff/link-reviews/{missing}/document/").status_code == 404
