"""A refund end to end in a real browser: a resident with credit asks for a refund, a revenue
officer approves it and records the payout, the resident sees "Paid out"."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from civicdesk.ledger.models import RefundRequest
from civicdesk.ledger.tests.refund_helpers import balances

pytest_plugins = ["civicdesk.ledger.tests.refund_support"]

SCREENSHOTS = Path(os.environ.get("CIVICDESK_SCREENSHOT_DIR") or tempfile.gettempdir())
PHONE_VIEWPORT = {"width": 390, "height": 844}


def log_in(page, base: str, user, totp_code=None) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", user.raw_password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    if totp_code is not None:
        page.fill("#id_code", totp_code())
        with page.expect_navigation():
            page.keyboard.press("Enter")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_resident_asks_officer_approves_and_pays_resident_sees_paid_out(
    browser, live_server, resident, account_with_credit, officer, totp_code
):
    base = live_server.url
    resident_context = browser.new_context(locale="en-US", viewport=PHONE_VIEWPORT)
    officer_context = browser.new_context(locale="en-US")
    try:
        page = resident_context.new_page()
        page.set_default_timeout(10_000)
        log_in(page, base, resident)
        page.goto(f"{base}/refunds/")
        with page.expect_navigation():
            page.get_by_role(
                "link", name=f"Ask for a refund from account {account_with_credit.number}"
            ).click()
        assert "500.00" in page.get_by_test_id("credit-available").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "refund-ask-mobile.png"), full_page=True)
        page.fill("#id_amount", "150.00")
        page.fill("#id_holder", "Naledi Mahlangu")
        page.fill("#id_bank_account_number", "62000012345")
        page.fill("#id_branch_code", "250655")
        with page.expect_navigation():
            page.get_by_role("button", name="Ask for the refund").click()
        assert page.url.endswith("/refunds/")
        assert page.get_by_test_id("refund-status").first.inner_text() == "Waiting for approval"
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
        refund = RefundRequest.objects.get()
        assert balances(account_with_credit)["payable"] == -15000

        desk = officer_context.new_page()
        desk.set_default_timeout(10_000)
        log_in(desk, base, officer, totp_code)
        desk.goto(f"{base}/staff/money/refunds/")
        with desk.expect_navigation():
            desk.get_by_role(
                "link", name=f"Review the refund from account {account_with_credit.number}"
            ).click()
        desk.screenshot(path=str(SCREENSHOTS / "refund-review.png"), full_page=True)
        desk.fill("#id_note", "Credit checked")
        with desk.expect_navigation():
            desk.get_by_role("button", name="Approve").click()
        with desk.expect_navigation():
            desk.get_by_role(
                "link", name=f"Record the payout to account {account_with_credit.number}"
            ).click()
        desk.fill("#id_payout_reference", "EFT 2026-0001")
        with desk.expect_navigation():
            desk.get_by_role("button", name="Record payout").click()
        assert "payout is recorded" in desk.locator(".messages").inner_text()

        page.reload()
        assert page.get_by_test_id("refund-status").first.inner_text() == "Paid out"
        page.screenshot(path=str(SCREENSHOTS / "refund-paid-mobile.png"), full_page=True)
        assert "EFT 2026-0001" in page.locator("[data-testid=refund-requests]").inner_text()
        assert page.locator(f"[data-refund='{refund.id}'] button").count() == 0  # no Cancel
        refund.refresh_from_db()
        assert refund.status == RefundRequest.Status.PAID
        assert balances(account_with_credit) == {
            "receivable": -35000,
            "payable": 0,
            "payouts": -15000,
        }
    finally:
        resident_context.close()
        officer_context.close()
