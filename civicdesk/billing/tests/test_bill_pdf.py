"""The PDF bill: in the reader's language (headings, numbers, dates), with every part of a
single payment document, and with a payment QR code that reads back to exactly the payload
the bill built, for South Africa (plain reference), Ukraine (NBU) and Russia (GOST)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.billing import selectors
from civicdesk.billing.documents.bill import (
    bill_language,
    bill_pdf,
    bill_qr,
    payment_details,
    quantity_text,
)
from civicdesk.billing.documents.qr import (
    build_payment_qr,
    parse_gost,
    parse_nbu,
    parse_reference,
)
from civicdesk.billing.documents.testing import pdf_qr_payloads, pdf_text
from civicdesk.billing.models import BillingSettings, Invoice, InvoiceLine
from civicdesk.billing.runs import billing_run_execute, billing_run_start
from civicdesk.billing.tests import support
from civicdesk.ledger.templatetags.ledger import money
from civicdesk.registry.models import Operator, Provider
from civicdesk.registry.tests import factories

NBSP = "\u00a0"

# Headings whose translations the catalogues hold: the bill must show these words.
HEADINGS = {
    "en": ["Invoice", "Account number", "Period", "Opening balance", "Address"],
    "af": ["Faktuur", "Rekeningnommer", "Tydperk", "Openingsaldo", "Adres"],
    "uk": ["Рахунок до сплати", "Номер особового рахунку", "Період", "Вхідний залишок"],
    "ru": ["Квитанция", "Номер лицевого счёта", "Период", "Входящий остаток", "Адрес"],
}
# 2,451.90 = the town's bill: 1,639.90 electricity + 207.00 water + 605.00 levy.
TOTAL = {"en": "R 2,451.90", "af": "R 2451.90", "uk": "R 2 451,90", "ru": "R 2 451,90"}
MONTH = {"en": "August 2025", "af": "Augustus 2025", "uk": "Серпень 2025", "ru": "Август 2025"}


def plain(text: str) -> str:
    """The PDF's words one space apart: where a line breaks depends on the language's words
    (a month may wrap away from its year)."""
    return " ".join(text.replace(NBSP, " ").split())


@pytest.fixture
def za_bill(operator):
    """One account of the test town, billed by a real run; City Power is paid by EFT."""
    support.town(1)
    Provider.objects.filter(code="power").update(
        bank_name="ABSA", bank_account="4098765432", bank_code="632005", tax_number="4123456789"
    )
    billing_run_execute(billing_run_start(period=support.PERIOD))
    return Invoice.objects.get()


def test_the_bill_speaks_each_language_with_its_number_format(za_bill):
    view = selectors.invoice_view(za_bill)
    assert view.to_pay == Decimal("2451.90")
    for language in ("en", "af", "uk", "ru"):
        text = plain(pdf_text(bill_pdf(za_bill, language)))
        for heading in HEADINGS[language]:
            assert heading in text, (language, heading)
        if language != "en":
            assert "Account number" not in text, language
        assert za_bill.number in text
        assert view.account_number in text
        assert MONTH[language] in text, language
        assert TOTAL[language] in text, language
        with translation.override(language):
            for amount in (view.opening, view.charges, view.payments, view.closing, view.to_pay):
                assert plain(money(amount, "ZAR")) in text, (language, amount)
            for part in view.parts:
                assert plain(money(part.total, "ZAR")) in text, (language, part.provider)


def test_the_bill_has_every_part_of_a_single_payment_document(za_bill):
    BillingSettings.objects.update_or_create(
        operator=Operator.objects.get(), defaults={"bulletin": "Water cuts on 3 September."}
    )
    text = plain(pdf_text(bill_pdf(za_bill, "en")))
    for expected in (
        "Test Metro",  # the operator's header
        "Account Holder",
        "Church Street",  # the premises' address
        "Issued on Sept. 1, 2025",
        "Due Sept. 21, 2025",
        "City Power",
        "Water Utility",
        "Electricity 436 kWh R 1,639.90",
        "100 kWh × R2.50 + 300 kWh × R3.00 + 36 kWh × R3.50; R150.00",
        "Of which tax: R 213.90",
        "Cold water 8 kl R 207.00",
        "Total for City Power R 1,639.90",
        "Total for Water Utility R 812.00",
        "Opening balance R 0.00",
        "Payments received R 0.00",
        "Closing balance R 2,451.90",
        "Amount to pay R 2,451.90",
        "Bank account 4098765432",
        "Branch code 632005",
        "Water cuts on 3 September.",
    ):
        assert expected in text, expected


def test_an_adjustment_and_a_true_up_are_marked(za_bill):
    power = Provider.objects.get(code="power")
    InvoiceLine.objects.create(
        invoice=za_bill,
        position=4,
        kind="adjustment",
        service="electricity",
        provider=power,
        quantity=Decimal("12"),
        unit="kWh",
        amount_minor=4830,
        tax_minor=630,
        explanation="12 kWh × R3.50",
        detail=[["block", "12", "kWh", "", "42.00", "12 kWh × R3.50"], ["true_up", "12"]],
        revision=1,
    )
    text = plain(pdf_text(bill_pdf(za_bill, "en")))
    assert "Electricity · Adjustment 12 kWh R 48.30" in text
    assert "Includes a correction of earlier estimates: 12 kWh" in text
    assert "Total for City Power R 1,688.20" in text


def test_the_za_qr_code_reads_back_to_the_plain_payment_reference(za_bill):
    payload = bill_qr(za_bill)
    assert payload is not None and payload.format == "reference"
    assert pdf_qr_payloads(bill_pdf(za_bill, "af")) == [payload.data]
    details = parse_reference(payload.data)["details"]
    assert details["payer_account"] == za_bill.account.number
    assert details["branch_code"] == "632005"
    assert details["amount"] == Decimal("2451.90")


def test_the_holders_language_is_the_default_and_the_operators_otherwise(za_bill, make_user):
    assert bill_language(za_bill) == "en"
    holder = za_bill.account.holders.get()
    holder.user = make_user(preferred_language="ru")
    holder.save()
    assert bill_language(za_bill) == "ru"
    assert "Номер лицевого счёта" in pdf_text(bill_pdf(za_bill))


def test_no_qr_when_the_operator_says_none_or_the_payee_has_no_bank_account(za_bill, caplog):
    BillingSettings.objects.update_or_create(
        operator=Operator.objects.get(), defaults={"qr_format": "none"}
    )
    assert bill_qr(za_bill) is None
    BillingSettings.objects.filter().update(qr_format="")
    Provider.objects.filter(code="power").update(bank_account="")
    assert bill_qr(za_bill) is None  # an invalid payload is logged, the bill still renders
    assert any("no payment QR code" in record.getMessage() for record in caplog.records)
    pdf = bill_pdf(za_bill, "en")
    assert pdf_qr_payloads(pdf) == []
    assert za_bill.number in pdf_text(pdf)


# --- Ukraine and Russia ---------------------------------------------------------------------


def _bill(operator_fields: dict, provider_fields: dict, lines: list[tuple]) -> Invoice:
    """An operator of another jurisdiction and one invoice written as a run would write it."""
    Operator.objects.create(
        timezone="Europe/Moscow", enabled_languages=["en", "af", "uk", "ru"], **operator_fields
    )
    bank = provider_fields.pop("bank")
    provider = factories.provider(**provider_fields)
    Provider.objects.filter(pk=provider.pk).update(**bank)
    account = factories.account()
    now = datetime(2025, 9, 1, tzinfo=UTC)
    charges = sum(amount for _service, amount, _quantity, _unit in lines)
    invoice = Invoice.objects.create(
        number=f"INV-202508-{account.number}",
        account=account,
        period=date(2025, 8, 1),
        currency=operator_fields["currency"],
        issued_on=date(2025, 9, 1),
        due_on=date(2025, 9, 10),
        opening_minor=150_000,
        charges_minor=charges,
        payments_minor=100_000,
        adjustments_minor=0,
        closing_minor=150_000 + charges - 100_000,
        digest="x",
        created_at=now,
        updated_at=now,
    )
    for position, (service, amount, quantity, unit) in enumerate(lines, start=1):
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position,
            service=service,
            provider=provider,
            quantity=quantity,
            unit=unit,
            amount_minor=amount,
            explanation=f"{quantity} {unit}",
        )
    return invoice


@pytest.mark.django_db
def test_ukraine_nbu_code_in_ukrainian():
    invoice = _bill(
        {"name": "КП «Київжитлоспецексплуатація»", "jurisdiction": "UA", "currency": "UAH"},
        {
            "name": "КП «Київводоканал»",
            "services": ["cold_water"],
            "bank": {
                "iban": "UA213223130000026007233566001",
                "tax_number": "03361715",
                "bank_name": "АТ «Ощадбанк»",
            },
        },
        [("cold_water", 57_645, Decimal("7.5"), "m3"), ("heating", 1_234_512, None, "")],
    )
    payload = bill_qr(invoice)
    assert payload is not None and payload.format == "nbu"
    pdf = bill_pdf(invoice, "uk")
    assert pdf_qr_payloads(pdf) == [payload.data]
    details = parse_nbu(payload.data)["details"]
    assert details["amount"] == Decimal("13421.57")  # 1 500 + 12 921.57 − 1 000
    assert details["account"] == "UA213223130000026007233566001"
    assert invoice.account.number in details["purpose"]
    text = plain(pdf_text(pdf))
    assert "₴ 13 421,57" in text
    assert "Вхідний залишок ₴ 1 500,00" in text
    assert "Холодна вода 7,5 m3 ₴ 576,45" in text


@pytest.mark.django_db
def test_russia_gost_code_sum_in_kopecks_equals_what_is_left_to_pay():
    invoice = _bill(
        {"name": "ООО «Расчётный центр»", "jurisdiction": "RU", "currency": "RUB"},
        {
            "name": "ООО «Водоканал»",
            "services": ["cold_water"],
            "bank": {
                "bank_name": "ПАО СБЕРБАНК",
                "bank_account": "40702810138250123017",
                "bank_code": "044525225",
                "correspondent_account": "30101810400000000225",
                "tax_number": "2635012345",
            },
        },
        [("cold_water", 98_765, Decimal("11"), "m3")],
    )
    view = selectors.invoice_view(invoice)
    payload = bill_qr(invoice)
    assert payload is not None and payload.format == "gost_r_56042"
    pdf = bill_pdf(invoice, "ru")
    assert pdf_qr_payloads(pdf) == [payload.data]
    elements = parse_gost(payload.data)["elements"]
    assert int(elements["Sum"]) == int(view.to_pay * 100) == 148_765
    assert elements["PersAcc"] == invoice.account.number
    assert elements["PaymPeriod"] == "082025"
    assert elements["TechCode"] == "02"
    assert (elements["BIC"], elements["PayeeINN"]) == ("044525225", "2635012345")
    text = plain(pdf_text(pdf))
    assert "₽ 1 487,65" in text
    assert "30101810400000000225" in text


# --- properties -----------------------------------------------------------------------------

AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(amount=AMOUNTS)
def test_every_amount_to_pay_reaches_the_payload_exactly(amount):
    Operator.objects.get_or_create(
        name="Test Metro",
        jurisdiction="ZA",
        currency="ZAR",
        timezone="Africa/Johannesburg",
        default_language="en",
        enabled_languages=["en"],
    )
    provider = Provider(
        name="City Power",
        bank_name="ABSA",
        bank_account="4098765432",
        bank_code="632005",
        iban="UA213223130000026007233566001",
        tax_number="03361715",
    )
    view = selectors.InvoiceView(
        invoice=None,
        account_number="1234567897",
        address="1 Church Street",
        holder="A Holder",
        period=date(2025, 8, 1),
        currency="",
        parts=[],
        opening=Decimal(0),
        charges=amount,
        payments=Decimal(0),
        adjustments=Decimal(0),
        closing=amount,
        due_on=date(2025, 9, 21),
        issued_on=date(2025, 9, 1),
        payee=provider,
    )
    details = payment_details(view)
    assert details.amount == amount
    assert parse_reference(build_payment_qr("reference", details).data)["details"]["amount"] == (
        amount
    )
    assert parse_nbu(build_payment_qr("nbu", details).data)["details"]["amount"] == amount


@settings(max_examples=200, deadline=None)
@given(
    value=st.decimals(min_value=Decimal("-999999999"), max_value=Decimal("999999999"), places=6),
    language=st.sampled_from(["en", "af", "uk", "ru"]),
)
def test_quantities_read_back_exactly_in_every_language(value, language):
    with translation.override(language):
        text = quantity_text(value)
    separator = "." if language in ("en", "af") else ","
    grouping = "," if language == "en" else NBSP
    assert "E" not in text
    assert Decimal(text.replace(grouping, "").replace(separator, ".")) == value
