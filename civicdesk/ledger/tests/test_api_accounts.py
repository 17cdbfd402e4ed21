"""The balance and transactions API: residents read their own accounts (anyone else's is 404),
staff with ledger access read any; filters by date and service; three years and more."""

from datetime import date

import pytest
from rest_framework.test import APIClient

from civicdesk.ledger import services
from civicdesk.ledger.models import LedgerAccount
from civicdesk.ledger.services import ChargeLine
from civicdesk.registry import services as registry_services

PROBLEM = "application/problem+json"


@pytest.fixture
def history(make_account, registry):
    """An account with four years of monthly water bills and electricity every quarter, paid
    in full except the last month."""
    account = make_account()
    water = registry.provider("water", name="Water Co", services=("cold_water",))
    power = registry.provider("power", name="Power Co", services=("electricity",))
    gateway = services.system_account(LedgerAccount.Kind.GATEWAY_CLEARING, "ZAR", key="sandbox")
    for month in range(48):
        year, m = 2022 + month // 12, month % 12 + 1
        day = date(year, m, 28)
        lines = [ChargeLine(10_000, "cold_water", water)]
        if m % 3 == 0:
            lines.append(ChargeLine(5_000, "electricity", power))
        services.charge_post(
            account=account,
            lines=lines,
            currency="ZAR",
            value_date=day,
            reference=f"INV-{year}-{m:02d}",
        )
        if month < 47:
            amount = sum(line.amount_minor for line in lines)
            services.payment_post(
                account=account,
                amount_minor=amount,
                currency="ZAR",
                value_date=day,
                source=gateway,
                reference=f"PAY-{year}-{m:02d}",
            )
    return account


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_resident_reads_balance_and_open_amounts(history, make_user):
    resident = make_user()
    registry_services.link_by_staff(user=resident, account=history, role="owner")
    body = client_for(resident).get(f"/api/v1/accounts/{history.number}/balance").json()
    assert body == {
        "account_number": history.number,
        "currency": "ZAR",
        "balance": "150.00",
        "owed": "150.00",
        "credit": "0.00",
        "open": [
            {"service": "cold_water", "provider": "Water Co", "amount": "100.00"},
            {"service": "electricity", "provider": "Power Co", "amount": "50.00"},
        ],
    }


def test_transactions_go_back_four_years_with_filters(history, make_user):
    resident = make_user()
    registry_services.link_by_staff(user=resident, account=history, role="owner")
    api = client_for(resident)
    url = f"/api/v1/accounts/{history.number}/transactions"
    everything = api.get(url, {"page_size": 500}).json()
    assert everything["count"] == 48 + 47
    newest = everything["results"][0]
    assert newest["kind"] == "charge" and newest["value_date"] == "2025-12-28"
    assert newest["amount"] == "150.00" and newest["services"] == ["cold_water", "electricity"]
    oldest = everything["results"][-1]
    assert oldest["value_date"] == "2022-01-28"
    payment = next(r for r in everything["results"] if r["reference"] == "PAY-2022-03")
    assert payment["amount"] == "-150.00"
    assert payment["allocations"] == [
        {
            "transaction": payment["allocations"][0]["transaction"],
            "kind": "charge",
            "reference": "INV-2022-03",
            "amount": "150.00",
        }
    ]
    in_2023 = api.get(url, {"date_from": "2023-01-01", "date_to": "2023-12-31"}).json()
    assert in_2023["count"] == 24
    power = api.get(url, {"service": "electricity", "page_size": 500}).json()
    assert power["count"] == 16
    assert all("electricity" in row["services"] for row in power["results"])


@pytest.mark.parametrize(
    "query,field",
    [
        ({"date_from": "2023-13-01"}, "date_from"),
        ({"date_from": "2024-01-02", "date_to": "2024-01-01"}, "date_to"),
        ({"service": "beer"}, "service"),
        ({"page_size": "0"}, "page_size"),
        ({"page": ""}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
    ],
)
def test_bad_filters_are_named(history, make_user, query, field):
    resident = make_user()
    registry_services.link_by_staff(user=resident, account=history, role="owner")
    response = client_for(resident).get(f"/api/v1/accounts/{history.number}/transactions", query)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert field in response.content.decode()


def test_another_residents_account_is_404(history, make_user):
    stranger = client_for(make_user())
    for tail in ("balance", "transactions"):
        response = stranger.get(f"/api/v1/accounts/{history.number}/{tail}")
        assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert client_for(make_user()).get("/api/v1/accounts/0000000000/balance").status_code == 404
    assert APIClient().get(f"/api/v1/accounts/{history.number}/balance").status_code in (401, 403)


def test_staff_with_ledger_access_read_any_account(history, make_user):
    agent = client_for(make_user(role="call_centre_agent"))
    assert agent.get(f"/api/v1/accounts/{history.number}/balance").json()["owed"] == "150.00"
    assert agent.get("/api/v1/accounts/0000000000/balance").status_code == 404


def test_an_account_with_no_ledger_yet_owes_nothing(make_account, make_user):
    account = make_account()
    resident = make_user()
    registry_services.link_by_staff(user=resident, account=account, role="owner")
    api = client_for(resident)
    assert api.get(f"/api/v1/accounts/{account.number}/balance").json()["balance"] == "0.00"
    assert api.get(f"/api/v1/accounts/{account.number}/transactions").json()["count"] == 0
