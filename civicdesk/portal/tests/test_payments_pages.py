"""The resident's payment pages: pay an account, off to the gateway, the status page, the list;
another resident's account or payment is 404; and the whole journey in a real browser."""

from __future__ import annotations

from decimal import Decimal

import pytest

from civicdesk.ledger import payments
from civicdesk.ledger.models import Payment, SavedMethod, Transaction
from civicdesk.ledger.tests.payment_helpers import balance_minor, decide, deliver, ledger_counts
from civicdesk.portal.payments_forms import parse_amount
from civicdesk.registry.models import AccountLink
from civicdesk.registry.tests import factories

pytest_plugins = ["civicdesk.ledger.tests.payments_support"]


@pytest.fixture
def resident_client(client, household):
    client.force_login(household.resident)
    return client


def pay_url(household) -> str:
    return f"/accounts/{household.account.number}/pay/"


def test_account_page_links_to_pay(resident_client, household):
    page = resident_client.get(f"/accounts/{household.account.number}/").content.decode()
    assert pay_url(household) in page


def test_pay_page_prefills_what_is_owed_and_offers_the_gateways(resident_client, household):
    response = resident_client.get(pay_url(household))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["amount"] == "150.00"
    assert [value for value, _label in form.fields["gateway"].choices] == ["sandbox"]
    assert "saved_method" not in form.fields  # no saved cards yet
    assert "save_method" in form.fields


def test_paying_redirects_to_the_gateway(resident_client, household):
    response = resident_client.post(
        pay_url(household), {"amount": "150,00", "gateway": "sandbox", "invoice": "INV-2"}
    )
    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/payments/{payment.pk}/go/"
    assert (payment.amount_minor, payment.invoice, payment.channel) == (15_000, "INV-2", "portal")
    go = resident_client.get(response["Location"])
    assert go.status_code == 302 and go["Location"] == f"/pay/sandbox/{payment.gateway_ref}/"


def test_a_post_checkout_renders_an_auto_submitting_form(resident_client, household):
    payment = payments.payment_create(
        account=household.account,
        amount=Decimal("10"),
        gateway="sandbox",
        actor=household.resident,
        channel="portal",
    )
    Payment.objects.filter(pk=payment.pk).update(
        checkout_method="POST",
        checkout_url="https://gateway.example/pay",
        checkout_fields={"data": "abc", "signature": "x<y"},
    )
    page = resident_client.get(f"/payments/{payment.pk}/go/").content.decode()
    assert 'action="https://gateway.example/pay"' in page
    assert 'name="data" value="abc"' in page and 'value="x&lt;y"' in page
    assert ".submit()" in page


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "The amount must be more than zero."),
        ("-5", "The amount must be more than zero."),
        ("10.001", "The amount has more than 2 decimal places."),
        ("ten", "Give the amount as a number, e.g. 150.00."),
        ("", "This field is required."),
    ],
)
def test_bad_amounts_are_shown_on_the_form_and_nothing_written(
    resident_client, household, amount, message
):
    before = (ledger_counts(), Payment.objects.count())
    response = resident_client.post(pay_url(household), {"amount": amount, "gateway": "sandbox"})
    assert response.status_code == 200
    assert message in response.context["form"].errors["amount"]
    assert (ledger_counts(), Payment.objects.count()) == before


def test_an_unknown_gateway_choice_is_refused(resident_client, household):
    response = resident_client.post(pay_url(household), {"amount": "10", "gateway": "paypal"})
    assert "gateway" in response.context["form"].errors
    assert Payment.objects.count() == 0


def test_a_closed_account_cannot_be_paid(client, operator, make_user):
    resident = make_user()
    closed = factories.account(status="closed")
    AccountLink.objects.create(user=resident, account=closed, role="owner", method="code")
    client.force_login(resident)
    page = client.get(f"/accounts/{closed.number}/pay/").content.decode()
    assert "This account is closed" in page
    client.post(f"/accounts/{closed.number}/pay/", {"amount": "10", "gateway": "sandbox"})
    assert Payment.objects.count() == 0


def test_one_click_with_a_saved_card(resident_client, household):
    first = payments.payment_create(
        account=household.account,
        amount=Decimal("1.00"),
        gateway="sandbox",
        actor=household.resident,
        channel="portal",
        save_method=True,
    )
    deliver(decide(first, "success"))
    method = SavedMethod.objects.get()
    form = resident_client.get(pay_url(household)).context["form"]
    assert str(method.pk) in [value for value, _label in form.fields["saved_method"].choices]
    response = resident_client.post(
        pay_url(household), {"amount": "20.00", "gateway": "sandbox", "saved_method": method.pk}
    )
    payment = Payment.objects.exclude(pk=first.pk).get()
    assert response["Location"] == f"/payments/{payment.pk}/"
    assert payment.status == Payment.Status.SUCCEEDED
    assert balance_minor(household.account) == 15_000 - 2_100
    page = resident_client.get(response["Location"]).content.decode()
    assert "Paid" in page


def test_a_saved_card_can_be_removed(resident_client, household, make_user):
    method = SavedMethod.objects.create(
        user=household.resident, gateway="sandbox", token="sbx_tok_a", label="Sandbox ···abcd"
    )
    theirs = SavedMethod.objects.create(user=make_user(), gateway="sandbox", token="sbx_tok_b")
    url = f"/payments/methods/{theirs.pk}/remove/"
    assert resident_client.post(url).status_code == 404
    response = resident_client.post(
        f"/payments/methods/{method.pk}/remove/", {"account": household.account.number}
    )
    assert response["Location"] == pay_url(household)
    method.refresh_from_db()
    theirs.refresh_from_db()
    assert method.revoked_at and theirs.revoked_at is None


def test_status_page_and_list(resident_client, household):
    payment = payments.payment_create(
        account=household.account,
        amount=Decimal("100.00"),
        gateway="sandbox",
        actor=household.resident,
        channel="portal",
    )
    deliver(decide(payment, "success"))
    page = resident_client.get(f"/payments/{payment.pk}/").content.decode()
    assert "Paid" in page and 'data-balance="50.00"' in page
    listing = resident_client.get("/payments/").content.decode()
    assert f"/payments/{payment.pk}/" in listing and "Paid" in listing


def test_another_residents_account_and_payment_are_404(client, household, make_user):
    payment = payments.payment_create(
        account=household.account,
        amount=Decimal("10"),
        gateway="sandbox",
        actor=household.resident,
        channel="portal",
    )
    client.force_login(make_user())
    assert client.get(pay_url(household)).status_code == 404
    assert client.post(pay_url(household), {"amount": "1", "gateway": "sandbox"}).status_code == 404
    assert client.get(f"/payments/{payment.pk}/").status_code == 404
    assert client.get(f"/payments/{payment.pk}/go/").status_code == 404
    assert f"/payments/{payment.pk}/" not in client.get("/payments/").content.decode()
    assert Payment.objects.count() == 1


def test_pages_need_a_login(client, household):
    for url in (pay_url(household), "/payments/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("150.00", "150.00"),
        ("150,5", "150.5"),
        ("1 234,50", "1234.50"),
        ("1,234.50", "1234.50"),
        ("1\u00a0234,50", "1234.50"),
        ("-3", "-3"),
    ],
)
def test_typed_amounts_are_read_exactly(typed, amount):
    assert parse_amount(typed) == Decimal(amount)
    assert str(parse_amount(typed)) == amount


# --- the journey in a real browser ----------------------------------------------------------


def _submit(page) -> None:
    with page.expect_navigation():
        page.locator("main form.stack button[type=submit]").click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_resident_pays_through_the_sandbox_in_a_browser(browser, live_server, household):
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", household.resident.email)
        page.fill("#id_password", household.resident.raw_password)
        _submit(page)

        page.goto(f"{live_server.url}/accounts/{household.account.number}/")
        with page.expect_navigation():
            page.get_by_role("link", name="Pay", exact=True).click()
        assert page.input_value("#id_amount") == "150.00"
        page.fill("#id_amount", "100.00")
        _submit(page)

        # The sandbox's hosted page.
        assert "/pay/sandbox/" in page.url
        assert "Test Metro" in page.locator("main").inner_text()
        with page.expect_navigation():
            page.get_by_role("button", name="Success").click()

        assert "/pay/return/" in page.url
        main = page.locator("main").inner_text()
        assert "Paid" in main
        assert page.locator("[data-balance]").get_attribute("data-balance") == "50.00"
        payment = Payment.objects.get()
        assert payment.status == Payment.Status.SUCCEEDED
        assert Transaction.objects.filter(reference=str(payment.pk)).count() == 1
        assert balance_minor(household.account) == 5_000
    finally:
        context.close()
