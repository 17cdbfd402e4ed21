"""A resident links an account in a real browser: the number with a typo is refused with a
clear message, the code texted to the holder's phone on file links it, the account shows up."""

from __future__ import annotations

import re

import pytest

from civicdesk.notifications import sms
from civicdesk.registry.selectors import accounts_for_user


def _submit(page) -> None:
    with page.expect_navigation():
        page.locator("main form.stack button[type=submit]").click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_resident_links_an_account_with_a_code(browser, live_server, make_user, operator):
    from civicdesk.registry.tests import factories

    user = make_user("linker@example.org")
    account = factories.account(holder_phone="+27825559999")
    typo = account.number[:-1] + str((int(account.number[-1]) + 1) % 10)
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", user.email)
        page.fill("#id_password", user.raw_password)
        _submit(page)

        page.goto(f"{live_server.url}/accounts/")
        assert "No accounts are linked to you yet." in page.content()
        with page.expect_navigation():
            page.get_by_role("link", name="Link an account").click()

        page.fill("#id_account_number", typo)
        page.check("input[name=method][value=code]")
        _submit(page)
        assert "check digit" in page.locator("main").inner_text()

        page.fill("#id_account_number", " ".join([account.number[:4], account.number[4:]]))
        page.check("input[name=method][value=code]")
        _submit(page)
        assert "/accounts/link/" in page.url
        to, body = sms.outbox[-1]
        assert to == "+27825559999"
        page.fill("#id_code", re.search(r"\b(\d{6})\b", body).group(1))
        _submit(page)

        assert page.url.endswith(f"/accounts/{account.number}/")
        assert "The account is linked." in page.locator("main").inner_text()
        assert list(accounts_for_user(user)) == [account]
    finally:
        context.close()
