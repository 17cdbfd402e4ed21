"""A resident in a real browser: logs in, reports a water leak with a photo for their linked
account (on a phone-size screen, filling the map point with "Use my location"), sees the
reference, follows a staff note on the timeline and rates the resolution."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from civicdesk.cases import services
from civicdesk.cases.models import Case
from civicdesk.cases.tests import factories as cf
from civicdesk.cases.tests.test_portal import png_bytes
from civicdesk.registry import services as registry_services
from civicdesk.registry.tests import factories as rf

SCREENSHOT_DIR = Path(os.environ.get("CIVICDESK_SCREENSHOT_DIR") or tempfile.gettempdir())
PHONE = {"width": 390, "height": 844}
HERE = {"latitude": -25.746111, "longitude": 28.188056}


def _submit(page, selector: str = "main form.stack button[type=submit]") -> None:
    with page.expect_navigation():
        page.locator(selector).click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_resident_reports_a_leak_follows_it_and_rates_it(
    browser, live_server, make_user, operator, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    resident = make_user("lerato@example.org", full_name="Lerato Dlamini")
    agent = make_user(role="case_specialist", full_name="Agent Smith")
    territory = rf.territory("centurion", name="Centurion")
    account = rf.account(premises_=rf.premises(building_=rf.building(territory_=territory)))
    registry_services.link_by_staff(user=resident, account=account, role="owner")
    leak = cf.category(
        "water-leak",
        kind="leak",
        requires_location=True,
        names={"en": "Water leak", "af": "Waterlek", "uk": "Протікання", "ru": "Протечка"},
        questions=[
            {
                "key": "where",
                "type": "choice",
                "label": {"en": "Where is the water coming out?"},
                "required": True,
                "choices": [
                    {"value": "street", "label": {"en": "In the street"}},
                    {"value": "meter", "label": {"en": "At the meter"}},
                ],
            },
            {"key": "since", "type": "date", "label": {"en": "Since when?"}},
        ],
    )
    cf.rule(cf.team(members=[agent]), category_=leak)

    context = browser.new_context(
        locale="en-US", viewport=PHONE, geolocation=HERE, permissions=["geolocation"]
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", resident.email)
        page.fill("#id_password", resident.raw_password)
        _submit(page)

        # From the account page to the leak form, the account preselected.
        page.goto(f"{live_server.url}/accounts/{account.number}/")
        with page.expect_navigation():
            page.get_by_role("link", name="Report a problem about this account").click()
        with page.expect_navigation():
            page.get_by_role("link", name="Water leak").click()
        assert page.input_value("#id_account") == account.number
        assert page.get_by_text("No open problem of this kind is known here.").is_visible()

        # The form fits a phone screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        send = page.locator("#lodge-form button[type=submit]").bounding_box()
        assert send is not None and send["x"] + send["width"] <= PHONE["width"]
        page.screenshot(path=str(SCREENSHOT_DIR / "cases-lodge-mobile.png"), full_page=True)

        # Sent empty: the errors say what is missing, nothing is created.
        _submit(page, "#lodge-form button[type=submit]")
        assert page.locator(".error-summary").is_visible()
        assert page.locator("#id_subject_error").is_visible()
        assert page.locator("#id_q_where_error").is_visible()
        assert page.input_value("#id_account") == account.number
        assert not Case.objects.exists()
        page.screenshot(path=str(SCREENSHOT_DIR / "cases-lodge-errors-mobile.png"), full_page=True)

        page.fill("#id_subject", "Burst pipe in front of the house")
        page.get_by_label("In the street").check()
        page.fill("#id_q_since", "2026-03-02")
        page.fill("#id_description", "Clean water running into the road.")
        page.get_by_role("button", name="Use my location").click()
        page.wait_for_function("document.querySelector('#id_latitude').value !== ''")
        page.set_input_files(
            "#id_photos",
            files=[{"name": "leak.png", "mimeType": "image/png", "buffer": png_bytes()}],
        )
        _submit(page, "#lodge-form button[type=submit]")

        case = Case.objects.get(requester=resident)
        assert page.url.endswith(f"/requests/{case.reference}/")
        assert page.locator(".reference").inner_text() == case.reference
        assert case.reference in page.locator(".messages").inner_text()
        assert case.answers == {"where": "street", "since": "2026-03-02"}
        assert (float(case.latitude), float(case.longitude)) == (
            HERE["latitude"],
            HERE["longitude"],
        )
        assert case.territory == territory and case.assignee == agent
        assert case.attachments.get().content_type == "image/png"
        assert page.get_by_role("link", name="leak.png").is_visible()

        # Staff add a public note: it shows on the resident's timeline (and not who wrote it).
        services.case_note(case=case, actor=agent, text="A plumber comes tomorrow.", public=True)
        services.case_note(case=case, actor=agent, text="Internal only.", public=False)
        page.reload()
        timeline = page.locator("ol.timeline").inner_text()
        assert "A plumber comes tomorrow." in timeline
        assert "Internal only." not in timeline and "Agent Smith" not in timeline

        # Resolved: the resident rates it.
        services.case_transition(case=case, target="resolved", actor=agent, note="Pipe fixed.")
        page.reload()
        assert "Pipe fixed." in page.locator("ol.timeline").inner_text()
        page.locator("#rate-form label", has_text="5").click()
        page.fill("#id_comment", "Fixed within a day, thank you.")
        _submit(page, "#rate-form button[type=submit]")
        assert "Thank you for your rating." in page.locator(".messages").inner_text()
        case.refresh_from_db()
        assert (case.rating, case.rating_comment) == (5, "Fixed within a day, thank you.")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(SCREENSHOT_DIR / "cases-detail-mobile.png"), full_page=True)
    finally:
        context.close()
