"""A resident's first visit in a real browser: register, verify the e-mail address with the code
from the message, log out and in again, switch to Ukrainian, edit the profile."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from django.utils import translation

from civicdesk.identity.models import User

EMAIL = "olena@example.org"
PASSWORD = "kyiv-river-lantern-42"
PHONE_TYPED, PHONE_STORED = "+380 67 123 4567", "+380671234567"
SCREENSHOT = (
    Path(os.environ.get("CIVICDESK_SCREENSHOT_DIR") or tempfile.gettempdir()) / "profile-mobile.png"
)
PHONE_VIEWPORT = {"width": 390, "height": 844}


def _submit(page) -> None:
    """Press the page's main form button (the header has its own forms: log out, language)."""
    with page.expect_navigation():
        page.locator("main form.stack button[type=submit]").click()


def _code_from(message) -> str:
    match = re.search(r"\b(\d{6})\b", message.body)
    assert match, message.body
    return match.group(1)


def _ukrainian(text: str) -> str:
    with translation.override("uk"):
        return translation.gettext(text)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_resident_registers_verifies_switches_to_ukrainian_and_edits_profile(
    browser, live_server, mailoutbox
):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        # Register.
        page.goto(f"{live_server.url}/register/")
        page.fill("#id_full_name", "Olena Kovalenko")
        page.fill("#id_email", EMAIL)
        page.select_option("#id_preferred_channel", "email")
        page.fill("#id_password", PASSWORD)
        _submit(page)
        assert page.url.endswith("/verify/")

        # Verify with the 6-digit code from the e-mail.
        sent = [m for m in mailoutbox if EMAIL in m.to]
        assert sent, "no verification e-mail was sent"
        page.fill("#id_code", _code_from(sent[-1]))
        _submit(page)
        assert User.objects.get(email=EMAIL).email_verified
        assert page.locator("header form[action='/logout/'] button").is_visible()

        # Log out, then log in again.
        with page.expect_navigation():
            page.locator("header form[action='/logout/'] button").click()
        assert page.locator("header a[href='/login/']").is_visible()
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", EMAIL)
        page.fill("#id_password", PASSWORD)
        _submit(page)
        assert page.locator("header form[action='/logout/'] button").is_visible()
        assert page.locator("html").get_attribute("lang") == "en"

        # Switch to Ukrainian with the header's language switcher.
        page.select_option("#language-select", "uk")
        with page.expect_navigation():
            page.locator("header form.lang button[type=submit]").click()
        assert page.locator("html").get_attribute("lang") == "uk"
        assert User.objects.get(email=EMAIL).preferred_language == "uk"

        # Edit the profile.
        page.goto(f"{live_server.url}/profile/")
        page.fill("#id_full_name", "Олена Коваленко")
        page.fill("#id_phone", PHONE_TYPED)
        _submit(page)

        assert page.url.endswith("/profile/")
        assert page.locator("html").get_attribute("lang") == "uk"
        assert page.input_value("#id_full_name") == "Олена Коваленко"
        assert page.input_value("#id_phone") == PHONE_STORED
        # The page speaks the Ukrainian catalogue (whatever it says for these messages).
        assert page.locator("main h1").inner_text() == _ukrainian("Your profile")
        assert page.locator(".messages li.success").inner_text() == _ukrainian(
            "Your profile is saved."
        )
        user = User.objects.get(email=EMAIL)
        assert (user.full_name, str(user.phone), user.preferred_language) == (
            "Олена Коваленко",
            PHONE_STORED,
            "uk",
        )

        # The profile page works on a phone: nothing wider than the screen, Save reachable.
        page.set_viewport_size(PHONE_VIEWPORT)
        page.reload()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
        save = page.locator("main form.stack button[type=submit]").bounding_box()
        assert save is not None and save["x"] + save["width"] <= PHONE_VIEWPORT["width"]
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    finally:
        context.close()
