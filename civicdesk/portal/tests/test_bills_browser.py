"""A resident reads their bill on a phone in a real browser: from the account to the bills,
the bill with its total, the PDF downloaded, and the statement with its chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicdesk.billing.documents.testing import pdf_text

PHONE_VIEWPORT = {"width": 390, "height": 844}


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_VIEWPORT["width"], width


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_resident_reads_and_downloads_a_bill_from_a_phone(
    browser, live_server, make_user, operator
):
    from civicdesk.billing.models import Invoice
    from civicdesk.billing.runs import billing_run_execute, billing_run_start
    from civicdesk.billing.tests import support
    from civicdesk.registry import services as registry_services
    from civicdesk.registry.models import Provider

    (account,) = support.town(1)
    Provider.objects.filter(code="power").update(
        bank_name="ABSA", bank_account="4098765432", bank_code="632005"
    )
    billing_run_execute(billing_run_start(period=support.PERIOD))
    invoice = Invoice.objects.get()
    user = make_user("bill-reader@example.org")
    registry_services.link_by_staff(user=user, account=account, role="owner")

    context = browser.new_context(locale="en-US", viewport=PHONE_VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", user.email)
        page.fill("#id_password", user.raw_password)
        with page.expect_navigation():
            page.locator("main form.stack button[type=submit]").first.click()

        # From the account page to the bills, then the bill.
        page.goto(f"{live_server.url}/accounts/{account.number}/")
        with page.expect_navigation():
            page.get_by_role("link", name="Bills and statement").click()
        bills = page.locator("[data-testid=bills] li")
        assert bills.count() == 1
        assert "to pay R\u00a02,451.90" in bills.first.inner_text()
        _fits(page)
        with page.expect_navigation():
            page.get_by_role("link", name="August 2025").click()
        assert page.locator("[data-testid=to-pay]").inner_text().startswith("R\u00a02,451.90")
        assert page.locator("[data-testid=qr] svg").count() == 1
        assert page.get_by_role("link", name="Dispute this line").count() == 3
        _fits(page)

        # The PDF downloads and is the bill.
        with page.expect_download() as download_info:
            page.locator("[data-testid=pdf]").click()
        download = download_info.value
        assert download.suggested_filename == f"{invoice.number}.pdf"
        content = Path(download.path()).read_bytes()
        assert content.startswith(b"%PDF-")
        assert invoice.number in pdf_text(content)

        # The statement of account draws its chart.
        page.goto(f"{live_server.url}/accounts/{account.number}/bills/")
        with page.expect_navigation():
            page.get_by_role("link", name="Statement of account").click()
        chart = page.locator("svg.flows-chart[role=img]")
        chart.wait_for()
        assert page.locator("svg.flows-chart .flow-bar").count() == 2 * 36
        assert page.locator("svg.flows-chart rect.bar").count() == 1  # August's bill
        box = chart.bounding_box()
        assert box and 0 < box["width"] <= PHONE_VIEWPORT["width"]
        _fits(page)
    finally:
        context.close()
