"""A resident sends a meter reading from a phone in a real browser: a value lower than the
previous one is refused while typing, a good one shows the use, the reading is sent and
confirmed, and the consumption page draws the chart."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

PHONE_VIEWPORT = {"width": 390, "height": 844}


def _submit(page, selector: str = "main form.stack button[type=submit]") -> None:
    with page.expect_navigation():
        page.locator(selector).first.click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_resident_sends_a_reading_from_a_phone(browser, live_server, make_user, operator):
    from civicdesk.metering import services
    from civicdesk.metering.models import Reading
    from civicdesk.metering.tests import factories
    from civicdesk.registry import services as registry_services
    from civicdesk.registry.tests import factories as registry_factories

    user = make_user("meter-reader@example.org")
    account = registry_factories.account()
    registry_services.link_by_staff(user=user, account=account, role="owner")
    meter = factories.meter(account_=account, serial="CW-7788")
    now = timezone.now()
    for months_ago, value in ((3, "100"), (2, "110"), (1, "120.5")):
        services.readings_submit(
            meter=meter,
            values={"T": value},
            taken_at=now - timedelta(days=30 * months_ago),
            source="staff",
        )

    context = browser.new_context(locale="en-US", viewport=PHONE_VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", user.email)
        page.fill("#id_password", user.raw_password)
        _submit(page)

        # From the account page to the meters.
        page.goto(f"{live_server.url}/accounts/{account.number}/")
        with page.expect_navigation():
            page.get_by_role("link", name="Meter readings and consumption").click()
        card = page.locator("section.meter-card", has_text="CW-7788")
        assert "120.5 m³" in card.inner_text()
        field = card.get_by_label("New reading", exact=True)
        check = card.locator("[data-testid=check]")

        # Lower than the previous reading: refused while typing, before anything is sent.
        field.fill("118")
        check.locator("[data-kind=error]").wait_for()
        assert "lower than the previous one (120.5)" in check.inner_text()

        # A good value: the use since the last reading.
        field.fill("132,5")
        check.locator("[data-kind=ok]").wait_for()
        assert "Use since last reading: 12 m³" in check.inner_text()
        assert not Reading.objects.filter(source="portal").exists()

        # Nothing overflows the phone's width.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE_VIEWPORT["width"], width

        _submit(page, "section.meter-card form.stack button[type=submit]")
        messages = page.locator("ul.messages").inner_text()
        assert "Your reading of meter CW-7788 is accepted." in messages
        reading = Reading.objects.get(source="portal")
        assert reading.value == Decimal("132.5") and reading.submitted_by == user

        # The consumption page draws the chart.
        with page.expect_navigation():
            page.get_by_role("link", name="Your monthly consumption").click()
        chart = page.locator("svg.usage-chart[role=img]").first
        chart.wait_for()
        assert chart.get_attribute("aria-label")
        assert page.locator("svg.usage-chart .usage-bar").count() == 36
        drawn = page.locator("svg.usage-chart rect.bar")
        assert 2 <= drawn.count() <= 3  # 10, 10.5 and 12 m³ (two may share a month)
        box = chart.bounding_box()
        assert box and 0 < box["width"] <= PHONE_VIEWPORT["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    finally:
        context.close()
