"""The bills API: the list and one invoice with its lines per provider, the PDF (a duplicate at
any time), the payment QR code as text and as images, and the statement of account over three
years and more as JSON, CSV and PDF. A resident sees only their own (another's is 404), staff
see every account; bad input is a problem+json naming the field."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from civicdesk.billing.documents.bill import bill_qr
from civicdesk.billing.documents.testing import decode_qr_png, pdf_text
from civicdesk.billing.models import BillingSettings, Invoice
from civicdesk.billing.runs import billing_run_execute, billing_run_start
from civicdesk.billing.tests import support
from civicdesk.identity import roles
from civicdesk.ledger import services as ledger
from civicdesk.ledger.models import LedgerAccount
from civicdesk.registry.models import Provider
from civicdesk.registry.services import link_by_staff

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
MONTHS = 40  # of history before the billed period: 2022-04 .. 2025-07


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _town(make_user, *, history_months: int = 0) -> dict:
    """Two billed accounts, each linked to its own resident. With ``history_months``, the
    first account has that many monthly water charges and payments before the run (all paid
    but the last), so its bill opens with R 100.00 owed."""
    first, second = support.town(2)
    Provider.objects.filter(code="power").update(
        bank_name="ABSA", bank_account="4098765432", bank_code="632005"
    )
    gateway = ledger.system_account(LedgerAccount.Kind.GATEWAY_CLEARING, "ZAR", key="sandbox")
    water = Provider.objects.get(code="water")
    start = 2025 * 12 + 7 - history_months  # months back from July 2025
    for n in range(history_months):
        year, month = (start + n) // 12, (start + n) % 12 + 1
        day = date(year, month, 28)
        ledger.charge_post(
            account=first,
            lines=[ledger.ChargeLine(10_000, "cold_water", water)],
            currency="ZAR",
            value_date=day,
            reference=f"OLD-{year}-{month:02d}",
        )
        if n < history_months - 1:
            ledger.payment_post(
                account=first,
                amount_minor=10_000,
                currency="ZAR",
                value_date=day + timedelta(days=1),
                source=gateway,
                reference=f"PAY-{year}-{month:02d}",
            )
    billing_run_execute(billing_run_start(period=support.PERIOD))
    resident, neighbour = make_user(), make_user()
    link_by_staff(user=resident, account=first, role="owner")
    link_by_staff(user=neighbour, account=second, role="owner")
    return {
        "resident": resident,
        "neighbour": neighbour,
        "account": first,
        "other": second,
        "invoice": Invoice.objects.get(account=first),
        "other_invoice": Invoice.objects.get(account=second),
        "gateway": gateway,
    }


@pytest.fixture
def town(operator, make_user):
    return _town(make_user)


@pytest.fixture
def history(operator, make_user):
    return _town(make_user, history_months=MONTHS)


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


# --- invoices -------------------------------------------------------------------------------


def test_a_resident_lists_only_their_own_bills_with_filters(town):
    client = client_for(town["resident"])
    body = client.get("/api/v1/invoices").json()
    assert body["count"] == 1
    (row,) = body["results"]
    invoice = town["invoice"]
    assert row["id"] == str(invoice.public_id)
    assert row["number"] == invoice.number
    assert row["account_number"] == town["account"].number
    assert row["period"] == "2025-08"
    assert (row["opening_balance"], row["charges"], row["closing_balance"]) == (
        "0.00",
        "2451.90",
        "2451.90",
    )
    assert (row["to_pay"], row["unpaid"]) == ("2451.90", "2451.90")
    assert client.get("/api/v1/invoices?period=2025-07").json()["count"] == 0
    assert client.get("/api/v1/invoices?period=2025-08").json()["count"] == 1
    assert client.get(f"/api/v1/invoices?account={town['other'].number}").json()["count"] == 0
    assert client.get(f"/api/v1/invoices?account={town['account'].number}").json()["count"] == 1


def test_unpaid_follows_the_payments_set_against_the_bill(town):
    client = client_for(town["resident"])
    for amount, left in ((200_000, "451.90"), (45_190, "0.00")):
        ledger.payment_post(
            account=town["account"],
            amount_minor=amount,
            currency="ZAR",
            value_date=date(2025, 9, 5),
            source=town["gateway"],
            reference=f"PAY-{amount}",
        )
        assert client.get("/api/v1/invoices").json()["results"][0]["unpaid"] == left


def test_staff_see_every_bill(town, make_user):
    staff = make_user(role=roles.REVENUE_OFFICER)
    body = client_for(staff).get("/api/v1/invoices?page_size=1").json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    other = town["other_invoice"].public_id
    assert client_for(staff).get(f"/api/v1/invoices/{other}").status_code == 200


def test_bad_filters_are_refused_naming_the_field(town):
    client = client_for(town["resident"])
    for query, field in (
        ("period=2025-13", "period"),
        ("period=", "period"),
        ("account=", "account"),
    ):
        body = problem(client.get(f"/api/v1/invoices?{query}"), 400)
        assert [error["field"] for error in body["errors"]] == [field], query


def test_one_bill_with_its_lines_per_provider(town):
    invoice = town["invoice"]
    body = client_for(town["resident"]).get(f"/api/v1/invoices/{invoice.public_id}").json()
    assert body["number"] == invoice.number
    assert body["holder"] == "Account Holder"
    parts = {part["provider"]["code"]: part for part in body["parts"]}
    assert set(parts) == {"power", "water"}
    assert parts["power"]["total"] == "1639.90"
    assert parts["water"]["total"] == "812.00"
    (electricity,) = parts["power"]["lines"]
    assert electricity == {
        "position": 2,
        "kind": "charge",
        "service": "electricity",
        "service_label": "Electricity",
        "quantity": "436",
        "unit": "kWh",
        "amount": "1639.90",
        "tax": "213.90",
        "explanation": "100 kWh × R2.50 + 300 kWh × R3.00 + 36 kWh × R3.50; R150.00",
        "true_up": None,
        "revision": 0,
    }
    assert sum(Decimal(p["total"]) for p in body["parts"]) == Decimal(body["charges"])
    assert body["payee"]["name"] == "City Power"


def test_another_residents_bill_is_not_found(town):
    client = client_for(town["resident"])
    other = town["other_invoice"].public_id
    for suffix in ("", "/pdf", "/payment-qr", "/payment-qr?image=png"):
        problem(client.get(f"/api/v1/invoices/{other}{suffix}"), 404)
    problem(client.get("/api/v1/invoices/01a20263-04b9-7322-85b5-7648ebdffab6"), 404)


def test_the_pdf_is_the_bill_in_the_chosen_language(town):
    invoice = town["invoice"]
    client = client_for(town["resident"])
    url = f"/api/v1/invoices/{invoice.public_id}/pdf"
    response = client.get(url, HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    assert invoice.number in text and "Account number" in text
    assert "Номер лицевого счёта" in pdf_text(client.get(f"{url}?lang=ru").content)
    assert problem(client.get(f"{url}?lang=xx"), 400)["errors"][0]["field"] == "lang"


def test_the_payment_qr_as_text_and_as_images(town):
    invoice = town["invoice"]
    client = client_for(town["resident"])
    url = f"/api/v1/invoices/{invoice.public_id}/payment-qr"
    payload = bill_qr(invoice)
    assert client.get(url).json() == {"format": "reference", "payload": payload.text}
    assert "Amount: R 2 451.90" in payload.text
    png = client.get(f"{url}?image=png")
    assert png["Content-Type"] == "image/png"
    assert decode_qr_png(png.content) == payload.data
    svg = client.get(f"{url}?image=svg")
    assert svg["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b"<svg")
    assert problem(client.get(f"{url}?image=gif"), 400)["errors"][0]["field"] == "image"
    BillingSettings.objects.filter().update(qr_format="none")
    problem(client.get(url), 404)


# --- the statement of account ---------------------------------------------------------------


def statement_url(account, query: str = "") -> str:
    return f"/api/v1/accounts/{account.number}/statement" + (f"?{query}" if query else "")


def test_the_statement_over_more_than_three_years(history):
    account, client = history["account"], client_for(history["resident"])
    body = client.get(statement_url(account, "from=2022-01-01&to=2025-08-31")).json()
    assert (body["date_from"], body["date_to"]) == ("2022-01-01", "2025-08-31")
    assert body["opening_balance"] == "0.00"
    assert body["closing_balance"] == "2551.90"  # the last water charge and the bill
    entries = body["entries"]
    assert len(entries) == MONTHS + (MONTHS - 1) + 1  # charges, payments, the run's bill
    assert entries[0] == {
        "date": "2022-04-28",
        "kind": "charge",
        "kind_label": "Charge",
        "reference": "OLD-2022-04",
        "description": "",
        "services": ["cold_water"],
        "amount": "100.00",
        "balance": "100.00",
    }
    assert entries[1]["kind"] == "payment" and entries[1]["amount"] == "-100.00"
    assert entries[-1]["reference"] == history["invoice"].number
    assert entries[-1]["balance"] == body["closing_balance"]
    assert Decimal(body["charged"]) - Decimal(body["credited"]) == Decimal("2551.90")
    # A later start: the opening balance is what came before it.
    later = client.get(statement_url(account, "from=2025-08-01")).json()
    assert later["opening_balance"] == "100.00"
    assert [e["reference"] for e in later["entries"]] == [history["invoice"].number]


def test_the_statement_as_csv_sums_to_closing_minus_opening(history):
    account = history["account"]
    response = client_for(history["resident"]).get(
        statement_url(account, "from=2023-06-15&to=2025-12-31&format=csv")
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="statement-{account.number}-20230615-20251231.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0]["Kind"] == "opening" and rows[-1]["Kind"] == "closing"
    opening, closing = Decimal(rows[0]["Balance"]), Decimal(rows[-1]["Balance"])
    movements = rows[1:-1]
    assert opening == Decimal("0.00")  # every charge before mid-June 2023 was paid
    assert len(movements) == 26 + 25 + 1  # 2023-06..2025-07 charged, all but one paid; the bill
    assert sum(Decimal(row["Amount"]) for row in movements) == closing - opening
    assert closing == Decimal("2551.90")
    assert all(row["Date"] >= "2023-06-15" for row in movements)


def test_the_default_range_is_the_last_36_months(town):
    body = client_for(town["resident"]).get(statement_url(town["account"])).json()
    today = timezone.localdate()
    assert body["date_to"] == today.isoformat()
    start = date.fromisoformat(body["date_from"])
    assert start.day == 1
    assert (today.year * 12 + today.month) - (start.year * 12 + start.month) == 35


def test_the_statement_as_pdf(town):
    account = town["account"]
    response = client_for(town["resident"]).get(
        statement_url(account, "from=2025-01-01&to=2025-08-31&format=pdf")
    )
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content).replace("\u00a0", " ")
    assert account.number in text
    assert town["invoice"].number in text
    assert "Closing balance R 2,451.90" in text


def test_a_bad_range_is_a_422_naming_the_field(town):
    client = client_for(town["resident"])
    for query, field in (
        ("from=2025-08-01&to=2025-07-01", "to"),  # from after to
        ("from=2025-13-01", "from"),
        ("from=01.08.2025", "from"),
        ("to=2025-02-30", "to"),
        ("from=", "from"),
        ("from=2015-01-01&to=2025-01-01", "to"),  # over 10 years
    ):
        body = problem(client.get(statement_url(town["account"], query)), 422)
        assert [error["field"] for error in body["errors"]] == [field], query
    ten_years = client.get(statement_url(town["account"], "from=2015-09-01&to=2025-08-31"))
    assert ten_years.status_code == 200


def test_another_residents_statement_is_not_found_but_staff_read_it(town, make_user):
    other = town["other"]
    problem(client_for(town["resident"]).get(statement_url(other)), 404)
    staff = make_user(role=roles.REVENUE_OFFICER)
    body = client_for(staff).get(statement_url(other, "from=2025-01-01&to=2025-12-31")).json()
    assert body["closing_balance"] == "2451.90"
    bad = client_for(town["resident"]).get(statement_url(town["account"], "format=xml"))
    assert problem(bad, 400)["errors"][0]["field"] == "format"
