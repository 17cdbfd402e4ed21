"""An officer matches an unmatched bank line: the money moves suspense → receivable exactly
once; refusals post nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.ledger import banking, banking_selectors, selectors, services
from civicdesk.ledger.models import BankLine, LedgerAccount, Posting, Transaction
from civicdesk.ledger.services import ChargeLine
from civicdesk.ledger.tests.banking_support import camt_file, camt_format, csv_file, csv_format
from civicdesk.registry.tests import factories

DAY = dt.date(2026, 3, 2)


def _suspense(currency: str = "ZAR") -> str:
    return services.system_account(LedgerAccount.Kind.SUSPENSE, currency).code


def _import(rows, fmt=None):
    fmt = fmt or csv_format(code=f"f{BankLine.objects.count()}")
    statement = banking.statement_import(
        bank_format=fmt, data=csv_file(rows), file_name="s.csv", actor=None
    )
    return {line.bank_ref: line for line in statement.lines.all()}


@pytest.fixture
def officer(make_user, operator):
    return make_user(role="revenue_officer")


def test_officer_moves_a_suspense_line_to_an_account_once(officer):
    account = factories.account()
    services.charge_post(
        account=account,
        lines=[ChargeLine(8000)],
        currency="ZAR",
        value_date=dt.date(2026, 2, 1),
        reference="INV-9",
    )
    line = _import([(DAY, "100.00", "for my flat", "M Dlamini", "B1")])["B1"]
    assert line.status == BankLine.Status.SUSPENSE
    assert selectors.balance(_suspense()) == -10000

    matched = banking.bank_line_match(line=line, account=account, actor=officer)

    assert matched.status == BankLine.Status.RESOLVED
    assert matched.account == account
    assert matched.resolved_by == officer
    assert matched.resolved_at is not None
    assert matched.match_reason == "officer"
    txn = matched.resolved_transaction
    assert txn.kind == Transaction.Kind.TRANSFER
    assert txn.reference == "B1"
    assert txn.actor == officer
    assert selectors.balance(_suspense()) == 0
    assert selectors.balance(services.receivable_for(account).code) == 8000 - 10000
    assert services.credit_available(account) == 2000  # 80.00 paid the charge, 20.00 credit

    postings_before = Posting.objects.count()
    with pytest.raises(ValidationError) as caught:
        banking.bank_line_match(line=line, account=account, actor=officer)  # stale object
    assert caught.value.error_dict["line"][0].code == "already_matched"
    assert "already matched to account" in " ".join(caught.value.messages)
    assert Posting.objects.count() == postings_before
    assert selectors.balance(_suspense()) == 0


def test_automatically_matched_and_ignored_lines_cannot_be_matched(officer):
    account = factories.account()
    lines = _import([(DAY, "10.00", account.number, "", "A"), (DAY, "-10.00", "fee", "", "D")])
    for bank_ref in ("A", "D"):
        before = Posting.objects.count()
        with pytest.raises(ValidationError):
            banking.bank_line_match(line=lines[bank_ref], account=account, actor=officer)
        assert Posting.objects.count() == before


def test_closed_account_refused(officer):
    closed = factories.account(status="closed")
    line = _import([(DAY, "10.00", "x", "", "A")])["A"]
    with pytest.raises(ValidationError) as caught:
        banking.bank_line_match(line=line, account=closed, actor=officer)
    assert "account_number" in caught.value.error_dict
    line.refresh_from_db()
    assert line.status == BankLine.Status.SUSPENSE


def test_wrong_currency_line_cannot_go_on_an_account(officer):
    account = factories.account()
    fmt = camt_format()
    data = camt_file(
        [{"amount": "5.00", "booked": DAY, "reference": "x", "ref": "U", "currency": "USD"}]
    )
    line = banking.statement_import(
        bank_format=fmt, data=data, file_name="u", actor=None
    ).lines.get()
    before = Posting.objects.count()
    with pytest.raises(ValidationError) as caught:
        banking.bank_line_match(line=line, account=account, actor=officer)
    assert "USD" in " ".join(caught.value.messages)
    assert Posting.objects.count() == before


def test_line_candidates_and_report_checks(officer, make_user):
    from civicdesk.ledger.tests.banking_support import linked_resident, revenue_queue

    revenue_queue(officer)
    resident, account = linked_resident(make_user)
    other = factories.account()
    line = _import([(DAY, "42.00", "payment", "", "R1")])["R1"]
    report = banking.missing_payment_report(
        account=account,
        reporter=resident,
        paid_on=DAY - dt.timedelta(days=1),
        amount=Decimal("42.00"),
        bank_reference="",
    )
    assert list(banking_selectors.candidate_reports(line)) == [report]
    assert banking_selectors.candidate_lines(report) == [line]
    assert list(banking_selectors.unmatched_lines(amount_minor=4200)) == [line]
    assert list(banking_selectors.unmatched_lines(amount_minor=4201)) == []
    assert list(banking_selectors.unmatched_lines(text="PAYM")) == [line]
    assert list(banking_selectors.unmatched_lines(date_from=DAY + dt.timedelta(days=1))) == []

    before = Posting.objects.count()
    with pytest.raises(ValidationError) as caught:
        banking.bank_line_match(line=line, account=other, actor=officer, report=report)
    assert "another account" in " ".join(caught.value.messages)
    assert Posting.objects.count() == before

    # No report named: the account's open report of that amount is found and answered.
    banking.bank_line_match(line=line, account=account, actor=officer)
    report.refresh_from_db()
    assert report.status == report.Status.MATCHED
    line.refresh_from_db()
    assert line.report == report


def test_report_of_another_amount_refused(officer, make_user):
    from civicdesk.ledger.tests.banking_support import linked_resident, revenue_queue

    revenue_queue(officer)
    resident, account = linked_resident(make_user)
    line = _import([(DAY, "42.00", "payment", "", "R1")])["R1"]
    report = banking.missing_payment_report(
        account=account, reporter=resident, paid_on=DAY, amount=Decimal("40.00"), bank_reference=""
    )
    with pytest.raises(ValidationError) as caught:
        banking.bank_line_match(line=line, account=account, actor=officer, report=report)
    assert "report" in caught.value.error_dict
    # Without naming it, a report of another amount is not touched.
    banking.bank_line_match(line=line, account=account, actor=officer)
    report.refresh_from_db()
    assert report.status == report.Status.OPEN


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plan=st.lists(
        st.tuples(st.integers(min_value=1, max_value=99_999), st.integers(0, 2)),
        min_size=1,
        max_size=8,
    )
)
def test_matching_any_number_of_times_moves_each_line_once(officer, plan):
    """Whatever an officer does (match once, twice, never), suspense holds exactly the lines
    still unmatched and the account exactly the ones matched."""
    account = factories.account()
    fmt = csv_format(code=f"h{account.number}")
    rows = [
        (DAY, f"{minor / 100:.2f}", "x", "", f"{fmt.code}-{i}") for i, (minor, _) in enumerate(plan)
    ]
    suspense_before = selectors.balance(_suspense())
    lines = _import(rows, fmt)
    matched = 0
    for index, (minor, times) in enumerate(plan):
        for attempt in range(times):
            if attempt == 0:
                banking.bank_line_match(
                    line=lines[f"{fmt.code}-{index}"], account=account, actor=officer
                )
                matched += minor
            else:
                with pytest.raises(ValidationError):
                    banking.bank_line_match(
                        line=lines[f"{fmt.code}-{index}"], account=account, actor=officer
                    )
    total = sum(minor for minor, _ in plan)
    assert selectors.balance(_suspense()) - suspense_before == -(total - matched)
    assert selectors.balance(services.receivable_for(account).code) == -matched
