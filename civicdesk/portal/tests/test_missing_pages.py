"""Portal pages for missing payments: the form, the confirmation with the case reference, the
list of one's reports; another resident's account or report is 404."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from civicdesk.ledger.models import MissingPaymentReport
from civicdesk.ledger.tests.banking_support import PDF, linked_resident, revenue_queue

TODAY = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
SCREENSHOTS = Path(os.environ.get("CIVICDESK_SCREENSHOT_DIR") or tempfile.gettempdir())


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path, operator, make_user):
    settings.MEDIA_ROOT = tmp_path / "media"
    revenue_queue(make_user(role="revenue_officer"))
    with time_machine.travel(TODAY, tick=True):
        yield


@pytest.fixture
def resident(client, make_user):
    user, account = linked_resident(make_user)
    client.force_login(user)
    return user, account


def _form(**changes):
    data = {"paid_on": "2026-03-05", "amount": "350.00", "bank_reference": "FNB 7781"}
    data.update(changes)
    return data


def test_form_files_a_report_and_confirms_with_the_case_reference(client, resident):
    _user, account = resident
    url = reverse("portal:missing_new", args=[account.number])
    page = client.get(url)
    assert page.status_code == 200
    assert "A payment does not show" in page.text
    proof = SimpleUploadedFile("receipt.pdf", PDF, content_type="application/pdf")
    response = client.post(url, _form(proof=proof))
    report = MissingPaymentReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:missing_detail", args=[report.id])
    confirmation = client.get(response["Location"])
    assert report.case.reference in confirmation.text
    assert "R\u00a0350.00" in confirmation.text
    assert report.case.attachments.count() == 1

    listing = client.get(reverse("portal:missing_list"))
    assert report.case.reference in listing.text
    assert "Being looked for" in listing.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"paid_on": "2026-03-11"}, "cannot be in the future"),
        ({"paid_on": "2020-01-01"}, "older than 3 years"),
        ({"amount": "-10"}, "more than zero"),
        ({"amount": "0"}, "more than zero"),
        ({"amount": "10.005"}, "decimal places"),
        ({"amount": "ten"}, "Enter a number"),
        ({"paid_on": ""}, "This field is required"),
    ],
)
def test_bad_input_is_shown_on_the_form(client, resident, changes, message):
    _user, account = resident
    response = client.post(reverse("portal:missing_new", args=[account.number]), _form(**changes))
    assert response.status_code == 400
    assert message in response.text
    assert not MissingPaymentReport.objects.exists()


def test_proof_that_is_not_an_image_or_pdf(client, resident):
    _user, account = resident
    bad = SimpleUploadedFile("receipt.pdf", b"<html>hi</html>", content_type="application/pdf")
    response = client.post(reverse("portal:missing_new", args=[account.number]), _form(proof=bad))
    assert response.status_code == 400
    assert "This file type is not accepted" in response.text
    assert not MissingPaymentReport.objects.exists()


def test_another_residents_account_and_report_are_404(client, resident, make_user):
    _user, _account = resident
    stranger, stranger_account = linked_resident(make_user)
    assert (
        client.get(reverse("portal:missing_new", args=[stranger_account.number])).status_code == 404
    )
    assert (
        client.post(
            reverse("portal:missing_new", args=[stranger_account.number]), _form()
        ).status_code
        == 404
    )
    from decimal import Decimal

    from civicdesk.ledger import banking

    theirs = banking.missing_payment_report(
        account=stranger_account,
        reporter=stranger,
        paid_on=dt.date(2026, 3, 1),
        amount=Decimal("5.00"),
        bank_reference="",
    )
    assert client.get(reverse("portal:missing_detail", args=[theirs.id])).status_code == 404
    assert theirs.case.reference not in client.get(reverse("portal:missing_list")).text


def test_pages_need_a_login(client, operator):
    response = client.get(reverse("portal:missing_list"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_resident_reports_a_missing_payment_in_a_browser(browser, live_server, make_user, tmp_path):
    user, account = linked_resident(make_user)
    proof = tmp_path / "receipt.pdf"
    proof.write_bytes(PDF)
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", user.email)
        page.fill("#id_password", user.raw_password)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.goto(f"{live_server.url}/accounts/{account.number}/")
        with page.expect_navigation():
            page.get_by_role("link", name="A payment does not show").click()
        assert page.url.endswith(f"/accounts/{account.number}/missing-payment/")
        # A mistake first: a date in the future.
        page.fill("#id_paid_on", "2026-03-20")
        page.fill("#id_amount", "350.00")
        page.fill("#id_bank_reference", "FNB 7781")
        page.set_input_files("#id_proof", str(proof))
        with page.expect_navigation():
            page.get_by_role("button", name="Send the report").click()
        assert page.locator("#id_paid_on_error").inner_text() == (
            "The date you paid cannot be in the future."
        )
        page.screenshot(path=str(SCREENSHOTS / "missing-payment-form-mobile.png"), full_page=True)
        page.fill("#id_paid_on", "2026-03-05")
        page.set_input_files("#id_proof", str(proof))
        with page.expect_navigation():
            page.get_by_role("button", name="Send the report").click()
        report = MissingPaymentReport.objects.get()
        assert page.get_by_test_id("case-reference").inner_text() == report.case.reference
        assert "Being looked for" in page.get_by_test_id("report-status").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "missing-payment-confirmation-mobile.png"))
        page.goto(f"{live_server.url}/payments/missing/")
        assert report.case.reference in page.get_by_test_id("missing-reports").inner_text()
    finally:
        context.close()
