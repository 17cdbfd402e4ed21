"""The resident's bill pages: the list of bills (paid or open), one bill with every line
explained per provider, its QR code, the PDF, links to pay and to dispute a line, and the
statement of account with its chart and downloads; another resident's bill or account is
404; a bad range is refused with an error in the resident's language."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from django.utils import timezone

from civicdesk.billing.documents.testing import pdf_text
from civicdesk.billing.models import Invoice
from civicdesk.billing.runs import billing_run_execute, billing_run_start
from civicdesk.billing.tests import support
from civicdesk.ledger import services as ledger
from civicdesk.ledger.models import LedgerAccount
from civicdesk.registry.models import Provider
from civicdesk.registry.services import link_by_staff

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def town(client, make_user, operator):
    """Two billed accounts; the signed-in resident holds the first, a neighbour the second."""
    mine, theirs = support.town(2)
    Provider.objects.filter(code="power").update(
        bank_name="ABSA", bank_account="4098765432", bank_code="632005"
    )
    billing_run_execute(billing_run_start(period=support.PERIOD))
    resident = make_user()
    link_by_staff(user=resident, account=mine, role="owner")
    link_by_staff(user=make_user(), account=theirs, role="owner")
    client.force_login(resident)
    return {
        "resident": resident,
        "account": mine,
        "other": theirs,
        "invoice": Invoice.objects.get(account=mine),
        "other_invoice": Invoice.objects.get(account=theirs),
    }


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_the_account_page_links_to_the_bills(client, town):
    html = page(client, f"/accounts/{town['account'].number}/")
    assert f'href="/accounts/{town["account"].number}/bills/"' in html


def test_the_list_shows_each_bill_with_its_amount_due_date_and_status(client, town):
    account, invoice = town["account"], town["invoice"]
    html = page(client, f"/accounts/{account.number}/bills/")
    assert f'href="/accounts/{account.number}/bills/{invoice.public_id}/"' in html
    assert "August 2025" in html
    assert f"to pay R{NBSP}2,451.90 by Sept. 21, 2025" in html
    assert 'data-status="open"' in html
    gateway = ledger.system_account(LedgerAccount.Kind.GATEWAY_CLEARING, "ZAR", key="sandbox")
    ledger.payment_post(
        account=account,
        amount_minor=245_190,
        currency="ZAR",
        value_date=date(2025, 9, 10),
        source=gateway,
        reference="PAY-1",
    )
    assert 'data-status="paid"' in page(client, f"/accounts/{account.number}/bills/")


def test_the_bill_page_explains_every_line_and_links_to_pay_and_dispute(client, town):
    account, invoice = town["account"], town["invoice"]
    html = page(client, f"/accounts/{account.number}/bills/{invoice.public_id}/")
    for expected in (
        invoice.number,
        "City Power",
        "Water Utility",
        "Electricity</strong> · 436 kWh",
        "100 kWh × R2.50 + 300 kWh × R3.00 + 36 kWh × R3.50; R150.00",
        "60.5 m² × R10.00",
        f'Total for City Power</th><td class="num">R{NBSP}1,639.90',
        f"<strong>R{NBSP}2,451.90</strong>",  # the amount to pay
        f'href="/accounts/{account.number}/pay/"',
        f'href="/accounts/{account.number}/bills/{invoice.public_id}/pdf/"',
        f'href="/requests/new/?category=invoice-dispute&amp;invoice={invoice.public_id}&amp;line=2',
    ):
        assert expected in html, expected
    qr = html.split('data-testid="qr">', 1)[1]
    assert qr.lstrip().startswith("<svg")


def test_the_pdf_download_is_the_bill_in_the_residents_language(client, town):
    account, invoice = town["account"], town["invoice"]
    town["resident"].preferred_language = "uk"
    town["resident"].save()
    response = client.get(f"/accounts/{account.number}/bills/{invoice.public_id}/pdf/")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    text = pdf_text(response.content)
    assert invoice.number in text and "Номер особового рахунку" in text


def test_another_residents_bills_and_statement_are_not_found(client, town):
    mine, theirs = town["account"].number, town["other"].number
    other_bill = town["other_invoice"].public_id
    for url in (
        f"/accounts/{theirs}/bills/",
        f"/accounts/{theirs}/bills/{other_bill}/",
        f"/accounts/{mine}/bills/{other_bill}/",  # their bill under my account
        f"/accounts/{mine}/bills/{other_bill}/pdf/",
        f"/accounts/{theirs}/statement/",
        f"/accounts/{theirs}/statement/csv/",
    ):
        assert client.get(url).status_code == 404, url


def test_the_statement_defaults_to_36_months_with_a_chart(client, town):
    account = town["account"]
    html = page(client, f"/accounts/{account.number}/statement/")
    today = timezone.localdate()
    assert f'value="{today.isoformat()}"' in html  # the range is shown in the form
    assert town["invoice"].number[:24] in html
    svg = html[html.index("<svg", html.index('id="flows"')) :]
    svg = svg[: svg.index("</svg>") + 6]
    root = ET.fromstring(svg)
    groups = root.findall(f"{SVG}g")
    months = {g.get("data-period") for g in groups if g.get("data-period")}
    assert len(months) == 36
    drawn = [
        g
        for g in groups
        if "charged" in (g.get("class") or "") and g.find(f"{SVG}rect") is not None
    ]
    assert [g.get("data-period") for g in drawn] == ["2025-08"]


def test_the_statement_over_a_chosen_range_and_its_downloads(client, town):
    account = town["account"]
    query = "date_from=2025-01-01&date_to=2025-12-31"
    html = page(client, f"/accounts/{account.number}/statement/?{query}")
    assert f'data-testid="closing">R{NBSP}2,451.90' in html
    csv_response = client.get(f"/accounts/{account.number}/statement/csv/?{query}")
    rows = list(csv.DictReader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert [row["Kind"] for row in rows] == ["opening", "charge", "closing"]
    assert rows[-1]["Balance"] == "2451.90"
    pdf = client.get(f"/accounts/{account.number}/statement/pdf/?{query}")
    assert pdf["Content-Type"] == "application/pdf"
    assert account.number in pdf_text(pdf.content)


def test_a_bad_range_is_refused_in_the_residents_language(client, town):
    account = town["account"]
    url = f"/accounts/{account.number}/statement/"
    html = page(client, f"{url}?date_from=2025-08-01&date_to=2025-07-01")
    assert "The end date is before the start date." in html
    assert 'data-testid="closing"' not in html
    html = page(client, f"{url}?date_from=2010-01-01&date_to=2025-07-01")
    assert "Choose a range of at most 10 years." in html
    town["resident"].preferred_language = "ru"
    town["resident"].save()
    html = page(client, f"{url}?date_from=2025-08-01&date_to=2025-07-01")
    assert "Дата окончания раньше даты начала." in html
    html = page(client, f"{url}?date_from=2025-13-45")
    assert "Укажите дату в формате ГГГГ-ММ-ДД." in html
    # A download with a bad range goes back to the page, which says what is wrong.
    response = client.get(f"{url}csv/?date_from=2025-08-01&date_to=2025-07-01")
    assert response.status_code == 302
    assert response["Location"] == f"{url}?date_from=2025-08-01&date_to=2025-07-01"
