"""The resident's balance and transactions page: what is owed or in credit, filters, paging,
what each payment paid; another resident's account is 404."""

from datetime import date

import pytest

from civicdesk.ledger import services
from civicdesk.ledger.models import LedgerAccount
from civicdesk.ledger.services import ChargeLine
from civicdesk.registry import services as registry_services
from civicdesk.registry.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident(client, make_user, operator):
    user = make_user()
    client.force_login(user)
    return user


@pytest.fixture
def account(resident):
    account = factories.account()
    registry_services.link_by_staff(user=resident, account=account, role="owner")
    water = factories.provider("water", name="Water Co", services=("cold_water",))
    gateway = services.system_account(LedgerAccount.Kind.GATEWAY_CLEARING, "ZAR", key="sandbox")
    for month in range(1, 31):
        day = date(2024 + (month - 1) // 12, (month - 1) % 12 + 1, 28)
        services.charge_post(
            account=account,
            lines=[ChargeLine(12_345, "cold_water", water)],
            currency="ZAR",
            value_date=day,
            reference=f"INV-{day:%Y-%m}",
        )
    services.payment_post(
        account=account,
        amount_minor=20_000,
        currency="ZAR",
        value_date=date(2026, 6, 30),
        source=gateway,
        reference="PAY-LAST",
    )
    return account


def test_balance_and_latest_transactions(client, account):
    page = client.get(f"/accounts/{account.number}/money/").content.decode()
    assert "You owe R\xa03,503.50." in page  # 30 × 123.45 − 200.00
    assert "Water Co" in page and "Page 1 of 2" in page
    assert "INV-2026-06" in page and "INV-2024-01" not in page
    # The payment paid the oldest bill and part of the next.
    assert "Charge 2024/01/28: R\xa0123.45" in page or "Charge 01/28/2024: R\xa0123.45" in page


def test_filters_and_paging(client, account):
    url = f"/accounts/{account.number}/money/"
    page = client.get(url, {"date_from": "2024-01-01", "date_to": "2024-03-31"}).content.decode()
    assert "INV-2024-02" in page and "INV-2024-04" not in page
    older = client.get(url, {"page": 2}).content.decode()
    assert "INV-2024-01" in older
    bad = client.get(url, {"date_from": "2024-05-01", "date_to": "2024-01-01"}).content.decode()
    assert "The end date is before the start date." in bad


def test_the_page_speaks_the_residents_language(client, account, resident):
    resident.preferred_language = "af"
    resident.save()
    page = client.get(f"/accounts/{account.number}/money/").content.decode()
    assert 'lang="af"' in page and "Saldo" in page


def test_another_residents_account_is_404(client, resident, operator):
    other = factories.account()
    assert client.get(f"/accounts/{other.number}/money/").status_code == 404


def test_staff_360_shows_balance_and_recent_transactions(client, account, make_user, totp_code):
    agent = make_user(role="call_centre_agent")
    client.force_login(agent)
    assert client.post("/mfa/", {"code": totp_code()}).status_code == 302
    page = client.get(f"/staff/customers/account/{account.number}/").content.decode()
    assert "Balance and transactions" in page
    assert "owes R\xa03,503.50" in page and "INV-2026-06" in page
