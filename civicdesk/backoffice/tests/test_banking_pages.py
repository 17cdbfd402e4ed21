"""Back-office pages for bank statements: upload (summary or refusal), the statements, the
unmatched lines queue with matching, missing-payment reports with candidate lines and
rejection. Permissions: revenue officers work, call-centre agents read, residents get 403."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from civicdesk.ledger import banking, services
from civicdesk.ledger.models import BankLine, BankStatement, MissingPaymentReport, Posting
from civicdesk.ledger.tests.banking_support import (
    bad_check_digit,
    csv_file,
    csv_format,
    linked_resident,
    revenue_queue,
)
from civicdesk.registry.tests import factories

DAY = dt.date(2026, 3, 6)
SCREENSHOTS = Path(os.environ.get("CIVICDESK_SCREENSHOT_DIR") or tempfile.gettempdir())


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    with time_machine.travel(dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC), tick=True):
        yield


@pytest.fixture
def officer(staff_login):
    user = staff_login("revenue_officer")
    revenue_queue(user)
    return user


def _line(rows=None, code="fnb"):
    fmt = csv_format(code=code)
    statement = banking.statement_import(
        bank_format=fmt,
        data=csv_file(rows or [(DAY, "350.00", "flat 4", "T Mokoena", "B1")]),
        file_name="s.csv",
        actor=None,
    )
    return statement.lines.order_by("line_no").first()


def test_upload_shows_the_summary_then_refuses_the_same_file(client, officer):
    account = factories.account()
    fmt = csv_format()
    data = csv_file(
        [
            (DAY, "150.00", account.number, "", "T1"),
            (DAY, "20.00", "unknown", "", "T2"),
            (DAY, "-3.00", "fee", "", "T3"),
        ]
    )
    url = reverse("backoffice:bank_statements")
    page = client.get(url)
    assert page.status_code == 200
    assert fmt.name in page.text
    response = client.post(
        url, {"bank_format": fmt.pk, "file": SimpleUploadedFile("march.csv", data)}
    )
    assert response.status_code == 200
    assert 'data-testid="summary-lines">3<' in response.text
    assert "march.csv" in response.text
    assert services.credit_available(account) == 15000

    again = client.post(url, {"bank_format": fmt.pk, "file": SimpleUploadedFile("m2.csv", data)})
    assert again.status_code == 422
    assert "already imported on" in again.text
    assert BankStatement.objects.count() == 1

    statement = BankStatement.objects.get()
    detail = client.get(reverse("backoffice:bank_statement", args=[statement.id]))
    assert detail.status_code == 200
    assert "No account number in the reference" in detail.text


def test_malformed_upload_names_the_line(client, officer):
    fmt = csv_format()
    bad = b"Date,Amount,Description,Payer,Transaction ID\n2026-03-02,1.00,x,,T\n2026-02-30,1,x,,U\n"
    response = client.post(
        reverse("backoffice:bank_statements"),
        {"bank_format": fmt.pk, "file": SimpleUploadedFile("bad.csv", bad)},
    )
    assert response.status_code == 422
    assert "Line 3" in response.text
    assert not BankStatement.objects.exists()


def test_queue_filters_and_match_with_check_digit(client, officer):
    account = factories.account()
    line = _line(
        [
            (DAY, "350.00", "flat 4", "T Mokoena", "B1"),
            (DAY - dt.timedelta(days=9), "7.00", "x", "", "B2"),
        ]
    )
    queue = client.get(reverse("backoffice:bank_lines"))
    assert queue.status_code == 200
    assert "T Mokoena" in queue.text
    filtered = client.get(reverse("backoffice:bank_lines"), {"amount": "7.00"})
    assert "T Mokoena" not in filtered.text
    filtered = client.get(
        reverse("backoffice:bank_lines"), {"q": "mokoena", "date_from": "2026-03-01"}
    )
    assert "T Mokoena" in filtered.text
    assert client.get(reverse("backoffice:bank_lines"), {"date_from": "nope"}).status_code == 400

    url = reverse("backoffice:bank_line", args=[line.id])
    assert client.get(url).status_code == 200
    before = Posting.objects.count()
    wrong = client.post(url, {"account_number": bad_check_digit(account.number)})
    assert wrong.status_code == 400
    assert "check digit" in wrong.text
    nobody = client.post(url, {"account_number": "0000000000"})
    assert nobody.status_code == 400
    assert "No account has this number" in nobody.text
    assert Posting.objects.count() == before

    done = client.post(url, {"account_number": account.number})
    assert done.status_code == 302
    line.refresh_from_db()
    assert line.status == BankLine.Status.RESOLVED
    assert line.resolved_by == officer
    assert services.credit_available(account) == 35000

    twice = client.post(url, {"account_number": account.number})
    assert twice.status_code == 422
    assert "already matched" in twice.text
    assert services.credit_available(account) == 35000


def test_line_page_shows_candidate_reports_and_matches_to_one(client, officer, make_user):
    resident, account = linked_resident(make_user)
    line = _line()
    report = banking.missing_payment_report(
        account=account,
        reporter=resident,
        paid_on=dt.date(2026, 3, 5),
        amount=Decimal("350.00"),
        bank_reference="",
    )
    url = reverse("backoffice:bank_line", args=[line.id])
    page = client.get(url)
    assert report.case.reference in page.text
    response = client.post(url, {"account_number": account.number, "report": str(report.id)})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == MissingPaymentReport.Status.MATCHED
    assert report.case.status == "resolved"


def test_report_page_lists_candidate_lines_matches_and_rejects(client, officer, make_user):
    resident, account = linked_resident(make_user)
    line = _line()
    report = banking.missing_payment_report(
        account=account,
        reporter=resident,
        paid_on=dt.date(2026, 3, 5),
        amount=Decimal("350.00"),
        bank_reference="",
    )
    reports = client.get(reverse("backoffice:missing_reports"))
    assert report.case.reference in reports.text
    page = client.get(reverse("backoffice:missing_report", args=[report.id]))
    assert "T Mokoena" in page.text
    match_url = reverse("backoffice:missing_report_match", args=[report.id, line.id])
    assert match_url in page.text
    assert client.post(match_url).status_code == 302
    report.refresh_from_db()
    assert report.status == MissingPaymentReport.Status.MATCHED
    assert services.credit_available(account) == 35000
    # Matching again: an error message, nothing posted.
    client.post(match_url)
    assert services.credit_available(account) == 35000

    other = banking.missing_payment_report(
        account=account,
        reporter=resident,
        paid_on=dt.date(2026, 3, 1),
        amount=Decimal("12.00"),
        bank_reference="",
    )
    reject_url = reverse("backoffice:missing_report_reject", args=[other.id])
    empty = client.post(reject_url, {"reason": ""})
    assert empty.status_code == 400
    assert client.post(reject_url, {"reason": "No such payment reached us."}).status_code == 302
    other.refresh_from_db()
    assert other.status == MissingPaymentReport.Status.REJECTED


def test_agents_read_but_do_not_work(client, staff_login):
    staff_login("call_centre_agent")
    fmt = csv_format()
    line = _line(code="other")
    assert client.get(reverse("backoffice:bank_statements")).status_code == 200
    assert client.get(reverse("backoffice:bank_lines")).status_code == 200
    assert (
        client.post(
            reverse("backoffice:bank_statements"),
            {"bank_format": fmt.pk, "file": SimpleUploadedFile("x.csv", b"x")},
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("backoffice:bank_line", args=[line.id]), {"account_number": "1"}
        ).status_code
        == 403
    )
    line.refresh_from_db()
    assert line.status == BankLine.Status.SUSPENSE


def test_residents_get_403(client, make_user, operator):
    client.force_login(make_user())
    for name in ("bank_statements", "bank_lines", "missing_reports"):
        assert client.get(reverse(f"backoffice:{name}")).status_code == 403


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_officer_matches_a_line_in_a_browser(browser, live_server, make_user, totp_code, operator):
    officer = make_user(role="revenue_officer")
    revenue_queue(officer)
    resident, account = linked_resident(make_user)
    line = _line()
    report = banking.missing_payment_report(
        account=account,
        reporter=resident,
        paid_on=dt.date(2026, 3, 5),
        amount=Decimal("350.00"),
        bank_reference="",
    )
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", officer.email)
        page.fill("#id_password", officer.raw_password)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.fill("#id_code", totp_code())
        with page.expect_navigation():
            page.keyboard.press("Enter")

        page.goto(f"{live_server.url}/staff/money/bank/lines/")
        assert "T Mokoena" in page.get_by_test_id("unmatched-lines").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "bank-lines-queue.png"), full_page=True)
        with page.expect_navigation():
            page.get_by_role("link", name="Match flat 4").click()
        assert report.case.reference in page.get_by_test_id("candidate-reports").inner_text()
        # A typo in the account number: the check digit catches it.
        page.fill("#id_account_number", bad_check_digit(account.number))
        with page.expect_navigation():
            page.get_by_role("button", name="Match and allocate").click()
        assert "check digit" in page.locator("#id_account_number_error").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "bank-line-match.png"), full_page=True)
        # Use the resident's report: the form is filled in.
        with page.expect_navigation():
            page.get_by_role("link", name="Use this report").click()
        assert page.input_value("#id_account_number") == account.number
        with page.expect_navigation():
            page.get_by_role("button", name="Match and allocate").click()
        assert page.url.endswith("/staff/money/bank/lines/")
        assert "No unmatched lines." in page.get_by_test_id("unmatched-lines").inner_text()
        line.refresh_from_db()
        report.refresh_from_db()
        assert line.status == BankLine.Status.RESOLVED
        assert report.status == MissingPaymentReport.Status.MATCHED
        assert services.credit_available(account) == 35000
    finally:
        context.close()
