"""The call console in a real browser, driven by the keyboard as an agent with a caller on the
line would: type the number and press Enter to start, the caller's account appears, Enter on
it brings in the caller (htmx), the timer ticks, the case is raised and the call ended.
Screenshots at phone width go to CIVICDESK_SCREENSHOT_DIR (default: the temp directory)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from civicdesk.cases.models import Call, Case
from civicdesk.cases.tests import factories as cf
from civicdesk.registry.models import AccountHolder
from civicdesk.registry.tests import factories as rf

SCREENSHOTS = Path(os.environ.get("CIVICDESK_SCREENSHOT_DIR") or tempfile.gettempdir())
PHONE_VIEWPORT = {"width": 390, "height": 844}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_agent_takes_a_call_with_the_keyboard(browser, live_server, make_user, totp_code):
    from civicdesk.registry.models import Operator

    Operator.objects.create(
        name="Test Metro",
        jurisdiction="ZA",
        currency="ZAR",
        timezone="Africa/Johannesburg",
        default_language="en",
        enabled_languages=["en"],
    )
    account = rf.account(holder_phone="+27821110000")
    AccountHolder.objects.filter(account=account).update(full_name="Naledi Mahlangu")
    cf.category("enquiry", names={"en": "General enquiry"})
    agent = make_user(role="call_centre_agent")
    context = browser.new_context(locale="en-US", viewport=PHONE_VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", agent.email)
        page.fill("#id_password", agent.raw_password)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.fill("#id_code", totp_code())
        with page.expect_navigation():
            page.keyboard.press("Enter")

        page.goto(f"{live_server.url}/staff/cases/console/")
        # the caller's number field has the focus: type and press Enter
        assert page.evaluate("document.activeElement.id") == "id_caller_phone"
        page.keyboard.type("082 111 0000")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        timer = page.locator("#call-timer")
        first = timer.inner_text()
        page.wait_for_function(
            "text => document.getElementById('call-timer').textContent !== text", arg=first
        )
        assert ":" in timer.inner_text()  # m:ss, counted by the inline script
        pick = page.locator("#lookup-results button.pick").first
        assert pick.inner_text() == "Naledi Mahlangu"  # the holder whose phone it is
        assert account.number in page.locator("#lookup-results li").first.inner_text()
        page.screenshot(path=str(SCREENSHOTS / "console-lookup-mobile.png"), full_page=True)

        # Enter on the result brings the caller in without leaving the page
        pick.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("#caller h2:has-text('Naledi Mahlangu')")
        assert page.evaluate("document.activeElement.id") == "caller-title"
        assert "?account=" in page.url  # pushed: a reload shows the same caller
        assert Call.objects.get().account_number == account.number

        page.select_option("#id_case-category", "enquiry")
        page.fill("#id_case-subject", "Asked about the new tariff")
        with page.expect_navigation():
            page.locator("#id_case-subject").press("Enter")
        case = Case.objects.get()
        assert case.channel == "phone" and case.links.get().label == account.number
        assert page.locator(".messages").inner_text().startswith(f"Case {case.reference}")

        # nothing wider than the phone's screen, with the caller, their cases and the forms
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
        page.fill("#id_end-reason", "Tariff question")
        page.screenshot(path=str(SCREENSHOTS / "console-call-mobile.png"), full_page=True)
        with page.expect_navigation():
            page.locator("#id_end-reason").press("Enter")
        call = Call.objects.get()
        assert call.outcome == "case_created" and call.handling_seconds is not None
        assert page.locator("#id_caller_phone").is_visible()
    finally:
        context.close()
