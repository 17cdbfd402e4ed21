"""Missing payments: a resident reports one → a case in the revenue queue → an officer finds
the line and matches it (or the import does) → the report is found, the case resolved and the
resident told. Bad reports are refused with nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from civicdesk.cases.models import Attachment, Case
from civicdesk.ledger import banking, banking_selectors, selectors, services
from civicdesk.ledger.models import BankLine, LedgerAccount, MissingPaymentReport
from civicdesk.ledger.tests.banking_support import (
    PNG,
    csv_file,
    csv_format,
    linked_resident,
    pdf_upload,
    revenue_queue,
)
from civicdesk.notifications.models import Delivery
from civicdesk.registry.tests import factories

TODAY = dt.date(2026, 3, 10)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC), tick=True):
        yield


@pytest.fixture
def officer(make_user, operator):
    return make_user(role="revenue_officer")


@pytest.fixture
def team(officer, document_storage):
    return revenue_queue(officer)


@pytest.fixture
def document_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def resident(make_user, operator):
    return linked_resident(make_user)


def _report(resident, account, **overrides):
    values = {
        "account": account,
        "reporter": resident,
        "paid_on": dt.date(2026, 3, 5),
        "amount": Decimal("350.00"),
        "bank_reference": "FNB 7781",
        "proof": None,
    }
    values.update(overrides)
    return banking.missing_payment_report(**values)


def _import(rows, code="fnb"):
    fmt = csv_format(code=code)
    return banking.statement_import(bank_format=fmt, data=csv_file(rows), file_name="s", actor=None)


def test_report_files_a_case_in_the_revenue_queue_with_its_proof(team, resident):
    user, account = resident
    report = _report(user, account, proof=pdf_upload())
    assert report.status == MissingPaymentReport.Status.OPEN
    assert report.amount_minor == 35000
    assert report.currency == "ZAR"
    assert report.bank_reference == "FNB 7781"
    case = report.case
    assert case.team == team
    assert case.requester == user
    assert case.category.kind == "missing_payment"
    assert account.number in case.description
    assert "FNB 7781" in case.description
    attachment = Attachment.objects.get(case=case)
    assert attachment.content_type == "application/pdf"
    assert Delivery.objects.filter(user=user, template_key="cases/created").exists()


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"paid_on": TODAY + dt.timedelta(days=1)}, "paid_on", "future"),
        ({"paid_on": dt.date(2023, 3, 9)}, "paid_on", "older than 3 years"),
        ({"amount": Decimal("0")}, "amount", "more than zero"),
        ({"amount": Decimal("-5.00")}, "amount", "more than zero"),
        ({"amount": Decimal("1.005")}, "amount", "decimal places"),
        ({"amount": 1.5}, "amount", "number"),
        ({"amount": Decimal("NaN")}, "amount", "number"),
        ({"bank_reference": "x" * 101}, "bank_reference", "100"),
        (
            {
                "proof": SimpleUploadedFile(
                    "proof.pdf", b"just text", content_type="application/pdf"
                )
            },
            "proof",
            "file type",
        ),
        ({"proof": SimpleUploadedFile("empty.png", b"", content_type="image/png")}, "proof", ""),
    ],
)
def test_bad_reports_are_refused_with_nothing_written(team, resident, overrides, field, words):
    user, account = resident
    with pytest.raises(ValidationError) as caught:
        _report(user, account, **overrides)
    assert field in caught.value.error_dict
    assert words in " ".join(caught.value.message_dict[field])
    assert not MissingPaymentReport.objects.exists()
    assert not Case.objects.exists()


def test_the_oldest_day_allowed_is_three_years_back(team, resident):
    user, account = resident
    assert _report(user, account, paid_on=dt.date(2023, 3, 10)).pk


def test_an_image_proof_is_accepted(team, resident):
    user, account = resident
    report = _report(
        user, account, proof=SimpleUploadedFile("p.png", PNG, content_type="image/png")
    )
    assert report.case.attachments.get().content_type == "image/png"


def test_another_residents_account_is_refused(team, resident, make_user):
    user, _account = resident
    stranger_account = factories.account()
    with pytest.raises(ValidationError) as caught:
        _report(user, stranger_account)
    assert "account" in caught.value.error_dict
    assert not Case.objects.exists()


def test_closed_account_is_refused(team, make_user):
    user, account = linked_resident(make_user, factories.account(status="closed"))
    with pytest.raises(ValidationError) as caught:
        _report(user, account)
    assert "closed" in " ".join(caught.value.messages)


def test_the_same_payment_is_not_reported_twice_while_open(team, resident):
    user, account = resident
    first = _report(user, account)
    with pytest.raises(ValidationError) as caught:
        _report(user, account)
    assert first.case.reference in " ".join(caught.value.messages)
    assert MissingPaymentReport.objects.count() == 1


def test_full_journey_officer_finds_the_line_and_matches_it(team, resident, officer):
    user, account = resident
    # The money came in with a reference nobody can read; it waits in suspense.
    statement = _import([(dt.date(2026, 3, 6), "350.00", "flat 4 rates", "T. Mokoena", "FNB 7781")])
    line = statement.lines.get()
    assert line.status == BankLine.Status.SUSPENSE

    # The resident reports it, with proof.
    report = _report(user, account, proof=pdf_upload())
    case = report.case
    assert case.team == team
    assert case.status in ("new", "assigned")

    # The officer finds it among the unmatched lines ...
    assert banking_selectors.candidate_lines(report) == [line]
    assert report in banking_selectors.open_reports()
    # ... and matches it.
    banking.bank_line_match(line=line, account=account, report=report, actor=officer)

    report.refresh_from_db()
    case.refresh_from_db()
    line.refresh_from_db()
    assert report.status == MissingPaymentReport.Status.MATCHED
    assert report.resolved_at is not None
    assert line.status == BankLine.Status.RESOLVED
    assert line.report == report
    assert case.status == "resolved"
    assert case.events.filter(kind="status", public=True, text__contains="We found your payment")
    delivery = Delivery.objects.filter(user=user, template_key="cases/updated").latest("created_at")
    assert "We found your payment" in delivery.body
    assert account.number in delivery.body
    assert services.credit_available(account) == 35000
    assert selectors.balance(services.system_account(LedgerAccount.Kind.SUSPENSE, "ZAR").code) == 0
    assert report not in banking_selectors.open_reports()


def test_resident_is_told_in_their_language(team, make_user, officer):
    user, account = linked_resident(make_user, preferred_language="af")
    line = _import([(dt.date(2026, 3, 6), "350.00", "x", "", "Z1")]).lines.get()
    report = _report(user, account)
    banking.bank_line_match(line=line, account=account, report=report, actor=officer)
    event = report.case.events.get(kind="status", public=True)
    # Written in Afrikaans (the date at least, until the catalogue has the sentence).
    assert "Maart" in event.text
    assert account.number in event.text


def test_import_answers_a_report_that_fits(team, resident):
    user, account = resident
    report = _report(user, account)
    # No account number in the reference, but the amount, the date and the bank reference fit.
    statement = _import([(dt.date(2026, 3, 6), "350.00", "my payment", "", "FNB7781")])
    line = statement.lines.get()
    assert line.status == BankLine.Status.MATCHED
    assert line.match_reason == "missing_payment_report"
    assert line.account == account
    assert line.report == report
    report.refresh_from_db()
    assert report.status == MissingPaymentReport.Status.MATCHED
    assert report.case.status == "resolved"
    assert services.credit_available(account) == 35000


def test_import_by_account_number_also_answers_its_report(team, resident):
    user, account = resident
    report = _report(user, account, bank_reference="")
    _import([(dt.date(2026, 3, 5), "350.00", f"acc {account.number}", "", "Q1")])
    report.refresh_from_db()
    assert report.status == MissingPaymentReport.Status.MATCHED


def test_reject_closes_the_report_and_tells_the_resident(team, resident, officer):
    user, account = resident
    report = _report(user, account)
    for reason in ("", "   "):
        with pytest.raises(ValidationError):
            banking.missing_payment_reject(report=report, actor=officer, reason=reason)
    banking.missing_payment_reject(
        report=report, actor=officer, reason="No payment from your bank reached us; ask your bank."
    )
    report.refresh_from_db()
    assert report.status == MissingPaymentReport.Status.REJECTED
    assert report.case.status == "resolved"
    delivery = Delivery.objects.filter(user=user, template_key="cases/updated").latest("created_at")
    assert "ask your bank" in delivery.body
    with pytest.raises(ValidationError):
        banking.missing_payment_reject(report=report, actor=officer, reason="again")
    line = _import([(dt.date(2026, 3, 6), "350.00", "x", "", "L")]).lines.get()
    with pytest.raises(ValidationError):
        banking.bank_line_match(line=line, account=account, report=report, actor=officer)
    line.refresh_from_db()
    assert line.status == BankLine.Status.SUSPENSE


def test_case_closed_by_hand_still_gets_the_news(
    team, resident, officer, django_capture_on_commit_callbacks
):
    from civicdesk.cases import services as case_services

    user, account = resident
    report = _report(user, account)
    case_services.case_transition(case=report.case, target="resolved", actor=officer, public=False)
    line = _import([(dt.date(2026, 3, 6), "350.00", "x", "", "L")]).lines.get()
    with django_capture_on_commit_callbacks(execute=True):
        banking.bank_line_match(line=line, account=account, report=report, actor=officer)
    delivery = Delivery.objects.get(user=user, template_key="ledger/missing_payment_found")
    assert "We found your payment" in delivery.body
    assert report.case.reference in delivery.body
