"""The demo's bank formats and sample statement, per jurisdiction: the CSV reads back, most
lines are matched, a few wait in suspense and the demo resident's report finds its line."""

from __future__ import annotations

import random

import pytest

from civicdesk.demo import ledger_data
from civicdesk.ledger import banking_selectors
from civicdesk.ledger.models import BankFormat, BankLine, BankStatement
from civicdesk.ledger.tests.banking_support import linked_resident
from civicdesk.registry.models import Operator
from civicdesk.registry.tests import factories

OPERATORS = {"ZA": "ZAR", "UA": "UAH", "RU": "RUB"}


@pytest.mark.parametrize("jurisdiction", sorted(OPERATORS))
def test_demo_statement_per_jurisdiction(db, make_user, settings, tmp_path, jurisdiction):
    settings.MEDIA_ROOT = tmp_path / "media"
    Operator.objects.create(
        name="Demo",
        jurisdiction=jurisdiction,
        currency=OPERATORS[jurisdiction],
        timezone="UTC",
        default_language="en",
        enabled_languages=["en"],
    )
    paid_up = factories.account()
    _resident, owing = linked_resident(make_user)
    for _ in range(5):
        factories.account()

    result = ledger_data.build_banking(
        jurisdiction=jurisdiction,
        currency=OPERATORS[jurisdiction],
        resident_accounts=[paid_up.number, owing.number],
        rng=random.Random(1),
    )
    assert set(result["formats"]) == {
        ledger_data.CSV_FORMATS[jurisdiction].code,
        "iso20022-camt053",
    }
    statement = BankStatement.objects.get()
    summary = banking_selectors.statement_summary(statement)
    assert summary.matched == 6  # the paid-up resident and the five other accounts
    assert summary.suspense == 2  # no number; a mistyped check digit
    assert summary.ignored == 1  # the bank's fee
    reasons = set(statement.lines.filter(status="suspense").values_list("match_reason", flat=True))
    assert reasons == {"no_match", "check_digit"}

    report = owing.missing_payment_reports.get()
    assert result["report"] == report.case.reference
    [candidate] = banking_selectors.candidate_lines(report)
    assert candidate.status == BankLine.Status.SUSPENSE
    assert candidate.amount_minor == report.amount_minor

    again = ledger_data.build_banking(
        jurisdiction=jurisdiction,
        currency=OPERATORS[jurisdiction],
        resident_accounts=[paid_up.number, owing.number],
        rng=random.Random(1),
    )
    assert again["statement"] is None
    assert BankStatement.objects.count() == 1
    assert BankFormat.objects.count() == 2
