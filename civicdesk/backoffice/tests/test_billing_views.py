"""Back-office billing pages: who may see and start runs, starting a run from the console (the
invoices exist afterwards), the live progress fragment, the run report's numbers against the
invoice lines, the exception queue (an account whose service has no tariff), and the invoice
viewer (search by invoice or account number, the bill with its lines, adjustments, totals and
the PDF link)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Sum

from civicdesk.billing.models import BillingRun, Invoice, InvoiceLine, RunException
from civicdesk.billing.runs import billing_chunk_process, billing_run_execute, billing_run_start
from civicdesk.billing.tests import support
from civicdesk.ledger.templatetags.ledger import minor_money
from civicdesk.metering.models import Reading
from civicdesk.registry.models import AccountService, Provider

pytestmark = pytest.mark.django_db

BASE = "/staff/billing/"
ALL = ("view_billingrun", "run_billing", "view_invoice", "change_invoicedispute")


def grant(user, *codenames: str) -> None:
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", codename__in=codenames)
    )


@pytest.fixture
def accounts(operator):
    return support.town(3)


@pytest.fixture
def officer(staff_login):
    """A revenue officer who may read and start runs and read invoices."""
    user = staff_login("revenue_officer")
    grant(user, *ALL)
    return user


@pytest.fixture
def billed(accounts):
    return billing_run_execute(billing_run_start(period=support.PERIOD, chunk_size=2))


def _text(response) -> str:
    return response.content.decode()


def _run_url(run) -> str:
    return f"{BASE}runs/{run.public_id}/"


# --- permissions ----------------------------------------------------------------------------


def test_residents_anonymous_and_staff_without_billing_rights_are_kept_out(
    client, accounts, billed, make_user, staff_login
):
    invoice = Invoice.objects.first()
    urls = (
        f"{BASE}runs/",
        _run_url(billed),
        f"{_run_url(billed)}progress/",
        f"{BASE}exceptions/",
        f"{BASE}invoices/",
        f"{BASE}invoices/{invoice.number}/",
    )
    assert client.get(urls[0]).status_code == 302  # to the login page
    client.force_login(make_user())
    for url in urls:
        assert client.get(url).status_code == 403, url
    client.logout()
    staff_login("case_specialist")  # staff, but no billing permission
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(f"{BASE}runs/", {"period": "2025-08", "chunk_size": "10"}).status_code == 403


def test_staff_who_may_only_read_runs_get_no_start_form(client, staff_login, accounts):
    staff_login("quality_controller")  # reads runs, starts none
    page = client.get(f"{BASE}runs/")
    assert page.status_code == 200
    assert "Start the run" not in _text(page)
    refused = client.post(f"{BASE}runs/", {"period": "2025-08", "chunk_size": "10"})
    assert refused.status_code == 403
    assert not BillingRun.objects.exists() and not Invoice.objects.exists()


def test_the_landing_page_links_to_the_billing_pages(client, officer):
    html = _text(client.get("/staff/"))
    for url in (f"{BASE}runs/", f"{BASE}exceptions/", f"{BASE}invoices/"):
        assert f'href="{url}"' in html


# --- starting a run -------------------------------------------------------------------------


def test_starting_a_run_bills_every_account(
    client, officer, accounts, django_capture_on_commit_callbacks
):
    form = client.get(f"{BASE}runs/")
    assert form.status_code == 200 and "Start the run" in _text(form)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{BASE}runs/", {"period": "2025-08", "chunk_size": "2"})
    run = BillingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == _run_url(run)
    assert run.started_by == officer and run.period == support.PERIOD
    assert (run.status, run.chunks_total, run.chunks_done) == ("done", 2, 2)
    assert Invoice.objects.filter(period=support.PERIOD).count() == 3
    assert set(Invoice.objects.values_list("account_id", flat=True)) == {a.pk for a in accounts}
    page = client.get(response["Location"])
    html = _text(page)
    assert "The billing run for 2025-08 has started." in html
    assert 'data-status="done"' in html and "3 of 3 accounts" in html
    listing = _text(client.get(f"{BASE}runs/"))
    assert f'href="{_run_url(run)}"' in listing and officer.email in listing


def test_starting_an_open_period_again_continues_its_run(
    client, officer, accounts, django_capture_on_commit_callbacks
):
    open_run = billing_run_start(period=support.PERIOD, chunk_size=2)
    billing_chunk_process(open_run.chunks.order_by("index").first().pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{BASE}runs/", {"period": "2025-08", "chunk_size": "500"}, follow=True
        )
    assert "The open run for 2025-08 continues." in _text(response)
    assert BillingRun.objects.count() == 1
    open_run.refresh_from_db()
    assert open_run.status == "done" and open_run.chunk_size == 2
    assert Invoice.objects.count() == 3


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"period": "August", "chunk_size": "10"},
            "period",
            "The period must be a month written as YYYY-MM, e.g. 2025-08.",
        ),
        (
            {"period": "2025-13", "chunk_size": "10"},
            "period",
            "The period must be a month written as YYYY-MM, e.g. 2025-08.",
        ),
        ({"period": "2025-08", "chunk_size": "0"}, "chunk_size", "greater than or equal to 1"),
    ],
)
def test_bad_input_is_refused_with_the_reason(client, officer, accounts, data, field, message):
    response = client.post(f"{BASE}runs/", data)
    assert response.status_code == 400
    assert message in _text(response)
    assert f'id="id_{field}_error"' in _text(response)
    assert not BillingRun.objects.exists()


# --- live progress --------------------------------------------------------------------------


def test_the_progress_fragment_follows_the_run(client, officer, accounts):
    run = billing_run_start(period=support.PERIOD, chunk_size=2)
    page = _text(client.get(_run_url(run)))
    assert 'hx-trigger="every 2s"' in page and f"{_run_url(run)}progress/?following=1" in page
    fragment = client.get(f"{_run_url(run)}progress/", HTTP_HX_REQUEST="true")
    html = _text(fragment)
    assert fragment.status_code == 200 and "<html" not in html
    assert 'data-status="running"' in html and "0 of 3 accounts" in html
    assert 'value="0"' in html and "HX-Refresh" not in fragment

    billing_chunk_process(run.chunks.order_by("index").first().pk)
    html = _text(client.get(f"{_run_url(run)}progress/?following=1", HTTP_HX_REQUEST="true"))
    assert "2 of 3 accounts" in html and "(66 %)" in html
    assert re.search(r'data-testid="chunks">\s*1 / 2\s*<', html)
    assert 'hx-trigger="every 2s"' in html  # still polling

    billing_run_execute(run)
    done = client.get(f"{_run_url(run)}progress/?following=1", HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"  # the page reloads to show the report
    html = _text(done)
    assert 'data-status="done"' in html and "hx-trigger" not in html
    assert "3 of 3 accounts" in html and "(100 %)" in html


# --- the run report -------------------------------------------------------------------------


def test_the_report_shows_counts_and_totals_per_service_and_provider(client, officer, billed):
    lines = InvoiceLine.objects.values("service", "provider__name").annotate(
        total=Sum("amount_minor")
    )
    expected = {(row["service"], row["provider__name"]): row["total"] for row in lines}
    assert set(expected) == {
        ("electricity", "City Power"),
        ("cold_water", "Water Utility"),
        ("maintenance", "Water Utility"),
    }
    html = _text(client.get(_run_url(billed)))
    report = html[html.index('data-testid="run-report"') :]
    labels = {
        "electricity": "Electricity",
        "cold_water": "Cold water",
        "maintenance": "Maintenance",
    }
    for (service, provider), total in expected.items():
        row = re.search(
            rf"<tr><td>{labels[service]}</td><td>{provider}</td><td class=\"num\">([^<]+)</td>",
            report,
        )
        assert row is not None, (service, provider)
        assert row.group(1) == minor_money(total, "ZAR")
    charged = sum(expected.values())
    assert charged == billed.charged_minor
    assert f"Charged in this run: {minor_money(charged, 'ZAR')}" in report
    counts = html[html.index('data-testid="run-counts"') :]
    assert re.search(r'data-testid="invoices-new">3<', counts)
    assert re.search(r'data-testid="invoices-adjusted">0<', counts)
    assert "No open exceptions from this run." in html


def test_a_rerun_after_a_late_correction_reports_the_adjustment(client, officer, billed):
    first = Invoice.objects.order_by("number").first()
    reading = Reading.objects.get(meter__account=first.account, meter__resource="electricity")
    reading.consumption = Decimal("500")  # was 436
    reading.save()
    rerun = billing_run_execute(billing_run_start(period=support.PERIOD, chunk_size=2))
    assert (rerun.invoices_adjusted, rerun.invoices_unchanged) == (1, 2)
    html = _text(client.get(_run_url(rerun)))
    assert re.search(r'data-testid="invoices-adjusted">1<', html)
    assert re.search(r'data-testid="invoices-unchanged">2<', html)
    # 64 kWh more at the top block, R3.50 + 15% VAT: R257.60
    assert f"Charged in this run: {minor_money(25760, 'ZAR')}" in html
    page = _text(client.get(f"{BASE}invoices/{first.number}/"))
    assert 'data-kind="adjustment"' in page and "adjustment, revision 1" in page


# --- the exception queue --------------------------------------------------------------------


@pytest.fixture
def without_tariff(accounts):
    account = accounts[1]
    AccountService.objects.create(
        account=account,
        service_type="sewerage",
        provider=Provider.objects.get(code="water"),
        tariff_code="no-such-tariff",
        starts_on=date(2020, 1, 1),
    )
    return account


def test_the_exception_queue_shows_an_account_without_a_tariff(client, officer, without_tariff):
    run = billing_run_execute(billing_run_start(period=support.PERIOD))
    assert run.exceptions == 1
    [row] = RunException.objects.all()
    assert (row.account, row.code, row.service) == (without_tariff, "no_tariff", "sewerage")
    assert Invoice.objects.filter(account=without_tariff).exists()  # the rest is billed

    html = _text(client.get(f"{BASE}exceptions/"))
    queue = html[html.index('data-testid="exception-queue"') :]
    assert f'href="/staff/customers/account/{without_tariff.number}/"' in queue
    assert "No tariff no-such-tariff is in force for the period." in queue
    assert "Sewerage" in queue and "2025-08" in queue
    assert "1 open exception" in html

    only = _text(client.get(f"{BASE}exceptions/", {"code": "no_tariff", "run": run.public_id}))
    assert without_tariff.number in only
    other = _text(client.get(f"{BASE}exceptions/", {"code": "pricing"}))
    assert without_tariff.number not in other and "No open exceptions." in other
    assert client.get(f"{BASE}exceptions/", {"run": "not-a-run"}).status_code == 404

    report = _text(client.get(_run_url(run)))
    summary = report[report.index('data-testid="run-exceptions"') :]
    assert "No tariff in force" in summary and re.search(r'class="num">1<', summary)


def test_a_later_run_that_bills_it_clears_the_exception(client, officer, without_tariff):
    billing_run_execute(billing_run_start(period=support.PERIOD))
    for service in AccountService.objects.filter(tariff_code="no-such-tariff"):
        service.tariff_code = "town-levy"
        service.save()  # as the registry's services do: the row is stamped
    billing_run_execute(billing_run_start(period=support.PERIOD))
    html = _text(client.get(f"{BASE}exceptions/"))
    assert without_tariff.number not in html and "No open exceptions." in html


# --- the invoice viewer ---------------------------------------------------------------------


def test_invoice_search_by_invoice_or_account_number(client, officer, billed, accounts):
    invoice = Invoice.objects.get(account=accounts[0])
    page = f"{BASE}invoices/{invoice.number}/"
    empty = client.get(f"{BASE}invoices/")
    assert empty.status_code == 200 and 'role="search"' in _text(empty)
    by_number = client.get(f"{BASE}invoices/", {"q": invoice.number.lower()})
    assert by_number.status_code == 302 and by_number["Location"] == page
    by_account = client.get(f"{BASE}invoices/", {"q": accounts[0].number})
    assert by_account.status_code == 302 and by_account["Location"] == page
    assert "No invoice matches" in _text(client.get(f"{BASE}invoices/", {"q": "INV-000000-0"}))
    assert client.get(f"{BASE}invoices/INV-000000-0/").status_code == 404


def test_an_account_with_several_bills_lists_them_newest_first(client, officer, billed, accounts):
    account = accounts[0]
    july = Invoice.objects.get(account=account)
    Invoice.objects.filter(pk=july.pk).update(period=date(2025, 7, 1), number="INV-202507-X")
    billing_run_execute(billing_run_start(period=support.PERIOD))
    html = _text(client.get(f"{BASE}invoices/", {"q": account.number}))
    results = html[html.index('data-testid="invoice-results"') :]
    assert "2 invoices found" in html
    assert results.index("INV-202508-") < results.index("INV-202507-X")


def test_the_invoice_page_shows_lines_per_provider_totals_and_the_pdf_link(
    client, officer, billed, accounts
):
    invoice = Invoice.objects.get(account=accounts[0])
    html = _text(client.get(f"{BASE}invoices/{invoice.number}/"))
    assert f"<h1>{invoice.number}</h1>" in html
    assert f'href="/staff/customers/account/{accounts[0].number}/"' in html
    assert f'href="/api/v1/invoices/{invoice.public_id}/pdf"' in html
    assert html.index("City Power") < html.index("Water Utility")
    explanation = InvoiceLine.objects.get(invoice=invoice, service="electricity").explanation
    assert explanation and explanation in html
    totals: dict[str, int] = defaultdict(int)
    for line in InvoiceLine.objects.filter(invoice=invoice).select_related("provider"):
        totals[line.provider.name] += line.amount_minor
    for total in totals.values():
        assert f'data-testid="part-total">{minor_money(total, "ZAR")}<' in html
    closing = re.search(r'data-testid="closing"><strong>([^<]+)<', html).group(1)
    assert closing == minor_money(invoice.closing_minor, "ZAR")
    assert invoice.closing_minor == invoice.opening_minor + sum(totals.values())
    assert "No line of this bill is disputed." in html
