"""The billing run through its service: bills as priced, re-runs that write only differences,
exceptions, resuming after a crash, and the ledger behind every bill."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from civicdesk.billing import runs
from civicdesk.billing.models import BillingRun, Invoice, InvoiceLine, RunChunk, RunException
from civicdesk.billing.runs import billing_run_execute, billing_run_start
from civicdesk.billing.tests import support
from civicdesk.ledger.models import LedgerAccount, Posting, Transaction
from civicdesk.metering.models import EstimateTrueUp, Meter, Reading
from civicdesk.registry.models import AccountService, PersonalAccount
from civicdesk.registry.services import account_last_bill
from civicdesk.tariffs.services import tariffs_load

pytestmark = pytest.mark.django_db


def bill(period=support.PERIOD, chunk_size=2) -> BillingRun:
    return billing_run_execute(billing_run_start(period=period, chunk_size=chunk_size))


def lines_of(account) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for line in InvoiceLine.objects.filter(invoice__account=account).order_by("position"):
        out.setdefault(line.service, []).append((line.kind, line.amount_minor, line.tax_minor))
    return out


def receivable_balance(account) -> int:
    receivable = LedgerAccount.objects.get(personal_account=account, kind="receivable")
    return receivable.postings.aggregate(total=Sum("amount_minor"))["total"] or 0


def test_every_account_gets_one_invoice_priced_as_the_tariffs_say(operator):
    accounts = support.town(3)
    run = bill()
    assert run.status == BillingRun.Status.DONE
    assert (run.invoices_new, run.accounts_done, run.chunks_done) == (3, 3, 2)
    for account in accounts:
        invoice = Invoice.objects.get(account=account, period=support.PERIOD)
        assert invoice.number == f"INV-202508-{account.number}"
        # 436 kWh: 100 × 2.50 + 300 × 3.00 + 36 × 3.50 + 150 fixed = 1426.00 + 15% VAT
        # 8 kl: 6 × 20 + 2 × 30 = 180.00 + VAT; 60.5 m² × 10.00 = 605.00 (no tax)
        assert lines_of(account) == {
            "electricity": [("charge", 163990, 21390)],
            "cold_water": [("charge", 20700, 2700)],
            "maintenance": [("charge", 60500, 0)],
        }
        assert invoice.charges_minor == 163990 + 20700 + 60500
        assert invoice.closing_minor == invoice.charges_minor
        assert invoice.due_on == date(2025, 9, 21)  # issued 1 September + 20 days (ZA)
        electricity = invoice.lines.get(service="electricity")
        assert electricity.explanation.startswith(
            "100 kWh × R2.50 + 300 kWh × R3.00 + 36 kWh × R3.50"
        )
        assert electricity.quantity == Decimal("436")
        # The ledger: one transaction per invoice; what the resident owes is the bill.
        assert receivable_balance(account) == invoice.closing_minor
        # What a resident quotes to link the account is now this bill's amount.
        assert account_last_bill(account) == Decimal("2451.90")
    assert Posting.objects.aggregate(total=Sum("amount_minor"))["total"] == 0
    assert Transaction.objects.filter(kind="charge").count() == 3
    provider = dict(AccountService.objects.values_list("service_type", "provider_id"))
    assert run.totals == {
        f"cold_water:{provider['cold_water']}": 3 * 20700,
        f"electricity:{provider['electricity']}": 3 * 163990,
        f"maintenance:{provider['maintenance']}": 3 * 60500,
    }


def test_a_second_run_with_nothing_changed_writes_nothing(operator):
    support.town(3)
    first = bill()
    counts = (
        Invoice.objects.count(),
        InvoiceLine.objects.count(),
        Transaction.objects.count(),
        Posting.objects.count(),
    )
    again = bill()
    assert (again.invoices_unchanged, again.invoices_new, again.invoices_adjusted) == (3, 0, 0)
    assert again.charged_minor == 0
    # Its chunks saw the same inputs as the first run's: they were not priced again.
    assert list(again.chunks.values_list("unchanged", flat=True)) == [True, True]
    assert list(again.chunks.values_list("fingerprint", flat=True)) == list(
        first.chunks.values_list("fingerprint", flat=True)
    )
    # A full run prices everything again and still writes nothing.
    full = billing_run_execute(billing_run_start(period=support.PERIOD, chunk_size=2, full=True))
    assert full.invoices_unchanged == 3
    assert not any(full.chunks.values_list("unchanged", flat=True))
    assert counts == (
        Invoice.objects.count(),
        InvoiceLine.objects.count(),
        Transaction.objects.count(),
        Posting.objects.count(),
    )


def test_a_late_reading_is_billed_as_an_adjustment_of_the_difference(operator):
    accounts = support.town(2)
    bill()
    meter = Meter.objects.get(account=accounts[0], resource="electricity")
    support.reading_add(meter, Decimal("64"))  # 436 + 64 = 500 kWh for August
    run = bill()
    assert (run.invoices_adjusted, run.invoices_unchanged) == (1, 1)
    # 500 kWh: 250 + 900 + 100 × 3.50 = 1500 + 150 = 1650 + VAT 247.50 = 1897.50
    assert lines_of(accounts[0])["electricity"] == [
        ("charge", 163990, 21390),
        ("adjustment", 189750 - 163990, 24750 - 21390),
    ]
    invoice = Invoice.objects.get(account=accounts[0])
    assert invoice.revision == 1
    assert invoice.adjustments_minor == 189750 - 163990
    assert invoice.closing_minor == invoice.charges_minor + invoice.adjustments_minor
    assert receivable_balance(accounts[0]) == invoice.closing_minor
    adjustment = Transaction.objects.get(kind="adjustment")
    assert adjustment.reference == invoice.number
    assert lines_of(accounts[1])["electricity"] == [("charge", 163990, 21390)]
    # And once more: nothing new.
    assert bill().invoices_unchanged == 2


def test_a_tariff_correction_is_billed_to_everyone_as_adjustments(operator):
    accounts = support.town(2)
    bill()
    corrected = support.TARIFFS.split("---")[2].replace('rate: "10.00"', 'rate: "9.00"')
    assert tariffs_load(corrected)[0].version == 2
    run = bill()
    assert run.invoices_adjusted == 2
    for account in accounts:
        # 60.5 m² × 1.00 less
        assert lines_of(account)["maintenance"] == [("charge", 60500, 0), ("adjustment", -6050, 0)]
        assert receivable_balance(account) == Invoice.objects.get(account=account).closing_minor
    assert Posting.objects.aggregate(total=Sum("amount_minor"))["total"] == 0


def test_a_service_that_ended_is_reversed_in_full(operator):
    accounts = support.town(1)
    bill()
    service = AccountService.objects.get(account=accounts[0], service_type="maintenance")
    service.ends_on = date(2025, 7, 31)
    service.save()  # as the registry's services do (record_save): the row is stamped
    bill()
    assert lines_of(accounts[0])["maintenance"] == [("charge", 60500, 0), ("adjustment", -60500, 0)]


def test_a_service_started_mid_month_is_prorated(operator):
    accounts = support.town(1)
    AccountService.objects.filter(account=accounts[0], service_type="maintenance").update(
        starts_on=date(2025, 8, 17)
    )
    bill()
    # per m² is not prorated by the engine unless the charge says so: the full month
    line = InvoiceLine.objects.get(invoice__account=accounts[0], service="electricity")
    assert line.amount_minor == 163990


def test_true_ups_of_estimates_are_billed_once(operator):
    accounts = support.town(1)
    meter = Meter.objects.get(account=accounts[0], resource="electricity")
    reading = Reading.objects.filter(meter=meter).first()
    EstimateTrueUp.objects.create(
        meter=meter,
        register="T",
        reading=reading,
        first_period=date(2025, 6, 1),
        last_period=date(2025, 7, 1),
        estimated=Decimal("100"),
        actual=Decimal("164"),
        difference=Decimal("64"),
    )
    bill()
    line = InvoiceLine.objects.get(invoice__account=accounts[0], service="electricity")
    assert line.quantity == Decimal("500")
    assert line.amount_minor == 189750
    assert ["true_up", "64"] in line.detail
    assert EstimateTrueUp.objects.get().billed_period == support.PERIOD
    assert bill().invoices_unchanged == 1  # the same true-up is not billed twice
    for meter in Meter.objects.filter(account=accounts[0]):
        support.reading_add(meter, Decimal("10"), period=date(2025, 9, 1))
    september = bill(period=date(2025, 9, 1))
    assert september.exceptions == 0
    september_line = InvoiceLine.objects.get(
        invoice__period=date(2025, 9, 1), service="electricity"
    )
    assert september_line.quantity == Decimal("10")
    assert not any(part[0] == "true_up" for part in september_line.detail)


def test_an_unknown_tariff_goes_to_the_exception_queue_and_the_rest_is_billed(operator):
    accounts = support.town(2)
    AccountService.objects.filter(account=accounts[0], service_type="cold_water").update(
        tariff_code="no-such-tariff"
    )
    run = bill()
    assert run.exceptions == 1
    exception = RunException.objects.get()
    assert (exception.account_id, exception.service, exception.code) == (
        accounts[0].pk,
        "cold_water",
        "no_tariff",
    )
    assert set(lines_of(accounts[0])) == {"electricity", "maintenance"}
    # Fixed: the next run adds the missing service and closes the exception.
    service = AccountService.objects.get(account=accounts[0], service_type="cold_water")
    service.tariff_code = "town-water"
    service.save()
    again = bill()
    assert again.exceptions == 0 and again.invoices_adjusted == 1
    assert lines_of(accounts[0])["cold_water"] == [("adjustment", 20700, 2700)]
    assert RunException.objects.get().resolved_at is not None


def test_a_tariff_that_cannot_price_an_account_is_an_exception_with_the_reason(operator):
    accounts = support.town(1)
    Reading.objects.filter(meter__account=accounts[0], meter__resource="electricity").delete()
    run = bill()
    assert run.exceptions == 1
    exception = RunException.objects.get()
    assert exception.code == "pricing"
    assert exception.params["tariff"] == "example-electricity"
    assert exception.params["reason"]


def test_a_crash_in_the_middle_loses_nothing_and_duplicates_nothing(operator, monkeypatch):
    accounts = support.town(5)
    calls = {"n": 0}
    real = runs._new_invoice_ids

    def crash_on_the_second_chunk(*args):
        calls["n"] += 1
        if calls["n"] == 2:  # the chunk's invoices and ledger are written, its lines not yet
            raise RuntimeError("power cut")
        return real(*args)

    monkeypatch.setattr(runs, "_new_invoice_ids", crash_on_the_second_chunk)
    run = billing_run_start(period=support.PERIOD, chunk_size=2)
    with pytest.raises(RuntimeError):
        billing_run_execute(run)
    run.refresh_from_db()
    assert run.status == BillingRun.Status.RUNNING
    assert run.chunks_done == 1
    assert Invoice.objects.count() == 2  # the first chunk only: the second rolled back whole
    assert list(run.chunks.values_list("status", flat=True).order_by("index")) == [
        "done",
        "pending",
        "pending",
    ]
    # Started again: the same run resumes at the first unfinished chunk.
    resumed = billing_run_execute(billing_run_start(period=support.PERIOD, chunk_size=2))
    assert resumed.pk == run.pk and resumed.status == BillingRun.Status.DONE
    assert resumed.invoices_new == 5 and resumed.accounts_done == 5
    for account in accounts:
        assert Invoice.objects.filter(account=account).count() == 1
        assert InvoiceLine.objects.filter(invoice__account=account).count() == 3
        assert Transaction.objects.filter(reference__endswith=account.number).count() == 1
        assert receivable_balance(account) == 245190
    assert Posting.objects.aggregate(total=Sum("amount_minor"))["total"] == 0


def test_a_chunk_written_by_another_worker_is_not_written_twice(operator):
    support.town(2)
    run = billing_run_start(period=support.PERIOD, chunk_size=10)
    chunk = run.chunks.get()
    context = runs._Context(run)
    first = runs._Chunk(run, chunk, context).prepare()
    second = runs._Chunk(run, chunk, context).prepare()
    assert runs._write(run, chunk, first, context) == 2
    assert runs._write(run, chunk, second, context) is None
    assert Invoice.objects.count() == 2 and Transaction.objects.count() == 2


def test_a_change_in_one_chunk_prices_only_that_chunk_again(operator):
    accounts = support.town(4)
    bill()
    meter = Meter.objects.get(account=accounts[3], resource="cold_water")
    reading = Reading.objects.get(meter=meter)
    reading.consumption = Decimal("9")  # corrected in place: the sum of consumption shows it
    reading.save()
    run = bill()
    assert list(run.chunks.order_by("index").values_list("unchanged", flat=True)) == [
        True,
        False,
    ]
    assert (run.invoices_unchanged, run.invoices_adjusted) == (3, 1)
    assert lines_of(accounts[3])["cold_water"] == [
        ("charge", 20700, 2700),
        ("adjustment", 3450, 450),  # 1 kl more at R30.00 + VAT
    ]


def test_one_open_run_per_period(operator):
    support.town(1)
    run = billing_run_start(period=date(2025, 8, 17), chunk_size=5)
    assert run.period == support.PERIOD
    assert billing_run_start(period=support.PERIOD).pk == run.pk
    billing_run_execute(run)
    assert billing_run_start(period=support.PERIOD).pk != run.pk  # a new run once done


def test_a_run_without_accounts_finishes_at_once(operator):
    run = billing_run_start(period=support.PERIOD)
    assert run.status == BillingRun.Status.DONE and run.chunks_total == 0


def test_accounts_closed_before_the_period_are_not_billed(operator):
    accounts = support.town(2)
    PersonalAccount.objects.filter(pk=accounts[1].pk).update(
        status="closed", closed_on=date(2025, 7, 15)
    )
    run = bill()
    assert run.invoices_new == 1
    assert not Invoice.objects.filter(account=accounts[1]).exists()


def test_bad_chunk_size_and_no_operator_are_refused(db):
    with pytest.raises(runs.RunRefused) as caught:
        billing_run_start(period=support.PERIOD)
    assert caught.value.code == "no_operator"
    assert "operator" in runs.refusal_message(caught.value)


def test_the_command_bills_and_reports(operator, capsys):
    support.town(2)
    call_command("billing_run", "--period", "2025-08", "--no-progress")
    out = capsys.readouterr().out
    assert "Billing run 2025-08: Done" in out
    assert "New invoices: 2" in out
    assert "Electricity" in out
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("billing_run", "--period", "August", "--no-progress")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("billing_run", "--period", "2025-09", "--chunk-size", "0", "--no-progress")
    assert RunChunk.objects.filter(status="pending").count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_pipelined_run_equals_the_chunk_by_chunk_run(operator):
    """Outside a transaction the run writes in a second thread on its own connection (on
    PostgreSQL here; the test suite's in-memory SQLite goes chunk by chunk, the benchmark
    runs the pipeline on an SQLite file)."""
    from django.db import connection

    accounts = support.town(5)
    run = billing_run_start(period=support.PERIOD, chunk_size=2)
    timings: dict[str, float] = {}
    run = billing_run_execute(run, timings=timings)
    if connection.vendor == "postgresql":
        assert set(timings) == {"prepare", "write", "wait"} and timings["write"] > 0
    assert run.status == "done" and run.invoices_new == 5 and run.chunks_done == 3
    for account in accounts:
        assert lines_of(account) == {
            "electricity": [("charge", 163990, 21390)],
            "cold_water": [("charge", 20700, 2700)],
            "maintenance": [("charge", 60500, 0)],
        }
        assert receivable_balance(account) == 245190
