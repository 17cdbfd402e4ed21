"""A visitor prices a month of electricity on a phone, without logging in: the calculators
page from the footer link, the worked example (436 kWh → 1639.90 with VAT), another tariff's
inputs swapped in by htmx, and nothing wider than the screen."""

from __future__ import annotations

import pytest

from civicdesk.tariffs import services
from civicdesk.tariffs.tests.test_api import EXAMPLE_YAML
from civicdesk.tariffs.tests.test_views import MAINTENANCE_YAML

PHONE_VIEWPORT = {"width": 390, "height": 844}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_visitor_prices_436_kwh_on_a_phone(browser, live_server, operator):
    services.tariffs_load(EXAMPLE_YAML)
    services.tariffs_load(MAINTENANCE_YAML)
    context = browser.new_context(locale="en-US", viewport=PHONE_VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/login/")
        with page.expect_navigation():
            page.get_by_role("link", name="Tariffs and calculators").click()
        assert page.url.endswith("/calculators/")

        form = page.locator("[data-testid=quote-form]")
        # Another tariff: htmx swaps in its input (the area), then back to electricity.
        form.get_by_label("Tariff").select_option("ru-maintenance")
        form.get_by_label("Area of the premises (m²)").wait_for()
        assert form.get_by_label("Consumption in the month (kWh)").count() == 0
        form.get_by_label("Tariff").select_option("example-electricity")
        consumption = form.get_by_label("Consumption in the month (kWh)")
        consumption.wait_for()

        consumption.fill("436")
        form.get_by_label("Month", exact=True).fill("2025-08")
        with page.expect_navigation():
            form.get_by_role("button", name="Calculate").click()
        result = page.locator("[data-testid=quote-result]")
        assert result.locator("[data-testid=total]").inner_text() == "1639.90"
        assert result.locator("[data-testid=tax]").inner_text() == "213.90"
        explanations = result.locator("[data-testid=explanation]").all_inner_texts()
        assert explanations == ["100 kWh × R2.50 + 300 kWh × R3.00 + 36 kWh × R3.50", "R150.00"]

        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE_VIEWPORT["width"], width
    finally:
        context.close()
