"""Importing bank statements: matched lines posted and allocated, the rest to suspense, the
ledger balanced; duplicates and malformed files refused with nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.ledger import banking, banking_selectors, selectors, services
from civicdesk.ledger.models import (
    Allocation,
    BankLine,
    BankStatement,
    LedgerAccount,
    Posting,
    Transaction,
)
from civicdesk.ledger.services import ChargeLine
from civicdesk.ledger.tests.banking_support import (
    CSV_MAPPING,
    bad_check_digit,
    camt_file,
    camt_format,
    csv_file,
    csv_format,
)
from civicdesk.registry.tests import factories

DAY = dt.date(2026, 3, 2)


def _bank(fmt) -> str:
    return services.system_account(LedgerAccount.Kind.BANK_CLEARING, "ZAR", key=fmt.code).code


def _suspense(currency: str = "ZAR") -> str:
    return services.system_account(LedgerAccount.Kind.SUSPENSE, currency).code


def _nothing_written():
    return (
        BankStatement.objects.count(),
        BankLine.objects.count(),
        Transaction.objects.count(),
        Posting.objects.count(),
    )


@pytest.fixture
def accounts(operator):
    return [factories.account() for _ in range(3)]


def test_csv_import_posts_matched_lines_and_parks_the_rest(accounts, make_user):
    officer = make_user(role="revenue_officer")
    fmt = csv_format()
    first, second, _third = accounts
    services.charge_post(
        account=first,
        lines=[ChargeLine(10000)],
        currency="ZAR",
        value_date=dt.date(2026, 2, 1),
        reference="INV-1",
    )
    data = csv_file(
        [
            (DAY, "150.00", f"Rates {first.number}", "J Smith", "T1"),
            (DAY, "99.99", f"acc no {second.number[:4]} {second.number[4:]}", "A Nkosi", "T2"),
            (DAY, "70.00", "no number here", "Someone", "T3"),
            (DAY, "-25.00", "bank fee", "", "T4"),
            (DAY, "12.34", f"{bad_check_digit(first.number)}", "Typo", "T5"),
        ]
    )
    statement = banking.statement_import(
        bank_format=fmt, data=data, file_name="march.csv", actor=officer
    )

    lines = {line.bank_ref: line for line in statement.lines.all()}
    assert lines["T1"].status == BankLine.Status.MATCHED
    assert lines["T1"].account == first
    assert lines["T1"].match_reason == "account_in_reference"
    assert lines["T2"].status == BankLine.Status.MATCHED  # digits split by a space
    assert lines["T2"].account == second
    assert lines["T3"].status == BankLine.Status.SUSPENSE
    assert lines["T3"].match_reason == "no_match"
    assert lines["T4"].status == BankLine.Status.IGNORED
    assert lines["T4"].amount_minor == -2500
    assert lines["T4"].transaction is None
    assert lines["T5"].status == BankLine.Status.SUSPENSE
    assert lines["T5"].match_reason == "check_digit"

    # The ledger: bank clearing holds every credit, suspense the unmatched ones.
    assert selectors.balance(_bank(fmt)) == 15000 + 9999 + 7000 + 1234
    assert selectors.balance(_suspense()) == -(7000 + 1234)
    assert selectors.balance(services.receivable_for(first).code) == 10000 - 15000
    assert selectors.balance(services.receivable_for(second).code) == -9999
    # Allocated: the payment pays the charge; 50.00 stays as credit.
    payment_credit = Posting.objects.get(transaction=lines["T1"].transaction, amount_minor=-15000)
    assert (
        Allocation.objects.filter(credit=payment_credit).aggregate(t=Sum("amount_minor"))["t"]
        == 10000
    )
    assert services.credit_available(first) == 5000
    assert lines["T1"].transaction.reference == "T1"
    assert lines["T1"].transaction.actor == officer

    summary = banking_selectors.statement_summary(statement)
    assert (summary.lines, summary.matched, summary.suspense, summary.ignored) == (5, 2, 2, 1)
    assert summary.total_minor == 15000 + 9999 + 7000 + 1234
    assert statement.matched_count == 2
    assert statement.imported_by == officer
    assert statement.bank_account == "62000000001"
    # Every transaction balances.
    for txn in Transaction.objects.all():
        assert sum(p.amount_minor for p in txn.postings.all()) == 0


def test_camt053_import(accounts):
    fmt = camt_format()
    first, second, _ = accounts
    data = camt_file(
        [
            {"amount": "250.00", "booked": DAY, "reference": f"ACC {first.number}", "ref": "C1"},
            {"amount": "10.00", "booked": DAY, "reference": "unknown", "ref": "C2"},
            {"amount": "5.00", "booked": DAY, "reference": "fee", "ref": "C3", "credit": False},
            {
                "amount": "40.00",
                "booked": DAY,
                "reference": f"{first.number} and {second.number}",
                "ref": "C4",
            },
        ]
    )
    statement = banking.statement_import(bank_format=fmt, data=data, file_name="s.xml", actor=None)
    assert statement.statement_id == "STMT-2026-001"
    assert statement.bank_account == "ZA00BANK0000000001"
    lines = {line.bank_ref: line for line in statement.lines.all()}
    assert lines["C1"].status == BankLine.Status.MATCHED
    assert lines["C2"].status == BankLine.Status.SUSPENSE
    assert lines["C3"].status == BankLine.Status.IGNORED
    assert lines["C4"].status == BankLine.Status.SUSPENSE
    assert lines["C4"].match_reason == "several_accounts"
    assert services.credit_available(first) == 25000
    assert selectors.balance(_bank(fmt)) == 25000 + 1000 + 4000
    assert selectors.balance(_suspense()) == -5000


def test_camt_file_with_several_statements_imports_each(accounts):
    fmt = camt_format()
    data = camt_file(
        [{"amount": "1.00", "booked": DAY, "reference": accounts[0].number, "ref": "X"}],
        statements=2,
    )
    statements = banking.statements_import(
        bank_format=fmt, data=data, file_name="two.xml", actor=None
    )
    assert [s.statement_id for s in statements] == ["STMT-2026-001", "STMT-2026-001-1"]
    assert len({s.digest for s in statements}) == 2
    # The second statement repeats the same bank reference: it is the same money.
    assert statements[1].lines.get().status == BankLine.Status.IGNORED
    assert statements[1].lines.get().match_reason == "already_imported"
    assert services.credit_available(accounts[0]) == 100
    with pytest.raises(ValidationError):
        banking.statements_import(bank_format=fmt, data=data, file_name="again.xml", actor=None)


def test_unknown_and_closed_accounts_go_to_suspense(operator):
    closed = factories.account(status="closed")
    fmt = csv_format()
    # A number with a valid check digit that no account has.
    from civicdesk.core.identifiers import account_number_make

    nobody = account_number_make(operator.account_number_format, 999_999)
    data = csv_file(
        [
            (DAY, "10.00", f"pay {closed.number}", "", "A"),
            (DAY, "11.00", f"pay {nobody}", "", "B"),
        ]
    )
    statement = banking.statement_import(bank_format=fmt, data=data, file_name="x.csv", actor=None)
    reasons = dict(statement.lines.values_list("bank_ref", "match_reason"))
    assert reasons == {"A": "closed_account", "B": "unknown_account"}
    assert not statement.lines.filter(status=BankLine.Status.MATCHED).exists()
    assert selectors.balance(_suspense()) == -2100


def test_wrong_currency_line_goes_to_suspense_in_its_currency(accounts):
    fmt = camt_format()
    data = camt_file(
        [
            {
                "amount": "20.00",
                "booked": DAY,
                "reference": accounts[0].number,
                "ref": "U1",
                "currency": "USD",
            }
        ]
    )
    statement = banking.statement_import(bank_format=fmt, data=data, file_name="u.xml", actor=None)
    line = statement.lines.get()
    assert line.status == BankLine.Status.SUSPENSE
    assert line.match_reason == "currency"
    assert line.currency == "USD"
    assert selectors.balance(_suspense("USD")) == -2000
    assert services.credit_available(accounts[0]) == 0


def test_same_file_refused_naming_the_earlier_import(accounts):
    fmt = csv_format()
    data = csv_file([(DAY, "10.00", accounts[0].number, "", "T1")])
    banking.statement_import(bank_format=fmt, data=data, file_name="a.csv", actor=None)
    before = _nothing_written()
    with pytest.raises(ValidationError) as caught:
        banking.statement_import(bank_format=fmt, data=data, file_name="a-again.csv", actor=None)
    message = " ".join(caught.value.messages)
    assert "already imported on" in message
    assert "a.csv" in message
    assert _nothing_written() == before
    assert services.credit_available(accounts[0]) == 1000


def test_same_statement_id_in_another_file_refused(accounts):
    fmt = camt_format()
    one = camt_file(
        [{"amount": "10.00", "booked": DAY, "reference": accounts[0].number, "ref": "A"}]
    )
    other = camt_file(
        [{"amount": "99.00", "booked": DAY, "reference": accounts[1].number, "ref": "B"}]
    )
    assert one != other
    banking.statement_import(bank_format=fmt, data=one, file_name="one.xml", actor=None)
    before = _nothing_written()
    with pytest.raises(ValidationError) as caught:
        banking.statement_import(bank_format=fmt, data=other, file_name="other.xml", actor=None)
    assert caught.value.error_dict["file"][0].code == "duplicate_statement"
    assert _nothing_written() == before
    assert services.credit_available(accounts[1]) == 0


def test_overlapping_csv_exports_do_not_bring_money_twice(accounts):
    fmt = csv_format()
    first = csv_file([(DAY, "10.00", accounts[0].number, "", "T1")])
    overlap = csv_file(
        [
            (DAY, "10.00", accounts[0].number, "", "T1"),
            (DAY, "20.00", accounts[0].number, "", "T2"),
        ]
    )
    banking.statement_import(bank_format=fmt, data=first, file_name="1.csv", actor=None)
    statement = banking.statement_import(
        bank_format=fmt, data=overlap, file_name="2.csv", actor=None
    )
    statuses = dict(statement.lines.values_list("bank_ref", "status"))
    assert statuses == {"T1": BankLine.Status.IGNORED, "T2": BankLine.Status.MATCHED}
    assert services.credit_available(accounts[0]) == 3000


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"Date,Amount,Description,Payer,Transaction ID\n2026-13-40,1.00,x,,T\n", "Line 2"),
        (b"Date,Amount,Description,Payer,Transaction ID\n2026-03-02,abc,x,,T\n", "Line 2"),
        (b"Date,Amount,Description,Payer,Transaction ID\n2026-03-02,1.001,x,,T\n", "decimals"),
        (b"Datum,Betrag\n2026-03-02,1.00\n", "no column"),
        (b"", "empty"),
        (b"\xff\xfe\x00garbage", "Line"),
    ],
)
def test_malformed_csv_refused_with_nothing_written(operator, data, expected):
    fmt = csv_format()
    before = _nothing_written()
    with pytest.raises(ValidationError) as caught:
        banking.statement_import(bank_format=fmt, data=data, file_name="bad.csv", actor=None)
    assert "file" in caught.value.error_dict
    assert expected.lower() in " ".join(caught.value.messages).lower()
    assert _nothing_written() == before


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<Document><unclosed>", "well-formed"),
        (b"<?xml version='1.0'?><Other/>", "camt.053"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Document/>',
            "DTD",
        ),
    ],
)
def test_malformed_camt_refused(operator, data, expected):
    fmt = camt_format()
    before = _nothing_written()
    with pytest.raises(ValidationError) as caught:
        banking.statement_import(bank_format=fmt, data=data, file_name="bad.xml", actor=None)
    assert expected in " ".join(caught.value.messages)
    assert _nothing_written() == before


def test_bad_mapping_is_an_error_on_the_format(operator):
    fmt = csv_format(mapping={"columns": {"amount": "Amount"}})
    with pytest.raises(ValidationError) as caught:
        banking.statement_import(
            bank_format=fmt, data=b"Amount\n1\n", file_name="x.csv", actor=None
        )
    assert "format" in caught.value.error_dict
    with pytest.raises(ValidationError):
        banking.bank_format_mapping_check({"columns": {"date": "D"}})
    banking.bank_format_mapping_check(CSV_MAPPING)


def test_inactive_format_refused(operator):
    fmt = csv_format(active=False)
    with pytest.raises(ValidationError):
        banking.statement_import(bank_format=fmt, data=b"x", file_name="x.csv", actor=None)


def test_a_bad_line_late_in_the_file_undoes_everything(accounts):
    """The parser reads the whole file before anything is written."""
    fmt = csv_format()
    rows = [(DAY, "10.00", accounts[0].number, "", f"T{i}") for i in range(50)]
    data = csv_file(rows) + b"2026-03-02,not money,x,,LAST\n"
    before = _nothing_written()
    with pytest.raises(ValidationError):
        banking.statement_import(bank_format=fmt, data=data, file_name="x.csv", actor=None)
    assert _nothing_written() == before


def test_command_prints_a_summary(accounts, tmp_path):
    fmt = csv_format()
    path = tmp_path / "march.csv"
    path.write_bytes(
        csv_file(
            [
                (DAY, "10.00", accounts[0].number, "", "T1"),
                (DAY, "5.00", "nothing", "", "T2"),
                (DAY, "-1.00", "fee", "", "T3"),
            ]
        )
    )
    out = StringIO()
    call_command(
        "import_bank_statement", str(path), "--format", fmt.code, stdout=out, stderr=StringIO()
    )
    text = out.getvalue()
    assert "3 lines, 1 matched, 1 in suspense, 1 ignored" in text
    assert "15.00" in text

    with pytest.raises(CommandError, match="already imported"):
        call_command("import_bank_statement", str(path), "--format", fmt.code, stderr=StringIO())
    with pytest.raises(CommandError, match="No bank format"):
        call_command("import_bank_statement", str(path), "--format", "nope")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_bank_statement", str(tmp_path / "missing.csv"), "--format", fmt.code)


def test_command_exit_code_is_one_on_error(accounts, tmp_path, monkeypatch, capsys):
    from django.db import connections

    from civicdesk.ledger.management.commands.import_bank_statement import Command

    fmt = csv_format()
    path = tmp_path / "bad.csv"
    path.write_bytes(b"Date,Amount,Description,Payer,Transaction ID\n2026-03-02,x,y,,T\n")
    # run_from_argv closes the connections at the end; the test's transaction needs its own.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    with pytest.raises(SystemExit) as exit_:
        Command().run_from_argv(
            ["manage.py", "import_bank_statement", str(path), "--format", fmt.code]
        )
    assert exit_.value.code == 1
    assert "Line 2" in capsys.readouterr().err
    assert not BankStatement.objects.exists()


# --- properties ---------------------------------------------------------------------------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amounts=st.lists(
        st.tuples(
            st.integers(min_value=-50_000, max_value=50_000).filter(bool),
            st.sampled_from(["account", "nothing", "typo"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_every_credit_is_either_on_an_account_or_in_suspense(operator, amounts):
    """Money is neither lost nor invented: bank clearing = credits = matched + suspense, and
    each matched line credits exactly its account."""
    account = factories.account()
    fmt = csv_format(code=f"p{BankStatement.objects.count()}-{account.number}")
    rows = []
    for index, (minor, kind) in enumerate(amounts):
        text = {
            "account": f"pay {account.number}",
            "nothing": "hello",
            "typo": bad_check_digit(account.number),
        }[kind]
        rows.append((DAY, str(Decimal(minor).scaleb(-2)), text, "", f"{fmt.code}-{index}"))
    statement = banking.statement_import(
        bank_format=fmt, data=csv_file(rows), file_name="p.csv", actor=None
    )
    credits = sum(minor for minor, _ in amounts if minor > 0)
    matched = sum(minor for minor, kind in amounts if minor > 0 and kind == "account")
    assert selectors.balance(_bank(fmt)) == credits
    assert statement.total_minor == credits
    assert selectors.balance(services.receivable_for(account).code) == -matched
    lines = statement.lines.all()
    assert (
        sum(line.amount_minor for line in lines if line.status == "suspense") == credits - matched
    )
    assert lines.count() == len(amounts)
