"""Random sequences of charges, payments and reversals keep the ledger's invariants.

After every step: each transaction sums to zero with at least two postings; every account's
balance (the selector) equals the sum of its postings and the model's expectation; all
postings together sum to zero. Each example runs inside a savepoint that is rolled back.
"""

from collections import Counter
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction as db_transaction
from django.db.models import Count, Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from civicdesk.ledger import selectors, services
from civicdesk.ledger.models import LedgerAccount, Posting, Transaction
from civicdesk.ledger.postings import Leg, from_minor

amounts = st.integers(min_value=1, max_value=10**9)


def _machine(receivables, personal_accounts, fixed_codes):
    class LedgerMachine(RuleBasedStateMachine):
        posted = Bundle("posted")
        reversed_ = Bundle("reversed")

        def __init__(self):
            super().__init__()
            self._atomic = db_transaction.atomic()
            self._atomic.__enter__()
            self.expected = Counter()

        def teardown(self):
            db_transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)

        def _post(self, kind, legs):
            txn = services.transaction_post(
                kind=kind, legs=legs, currency="ZAR", value_date=date(2026, 3, 1), reference=kind
            )
            for leg in legs:
                self.expected[leg.account_code] += leg.amount_minor
            return txn

        @rule(target=posted, who=st.sampled_from(receivables), minor=amounts)
        def charge(self, who, minor):
            return self._post("charge", [Leg(who, minor), Leg("revenue", -minor)])

        @rule(
            target=posted,
            who=st.sampled_from(receivables),
            minor=amounts,
            via=st.sampled_from(["bank", "gateway"]),
        )
        def payment(self, who, minor, via):
            return self._post("payment", [Leg(via, minor), Leg(who, -minor)])

        @rule(
            target=posted,
            payer=st.sampled_from(receivables),
            payee=st.sampled_from(receivables),
            minor=amounts,
        )
        def transfer(self, payer, payee, minor):
            if payer == payee:
                return self._post("adjustment", [Leg(payer, minor), Leg("suspense", -minor)])
            return self._post("transfer", [Leg(payer, minor), Leg(payee, -minor)])

        @rule(target=reversed_, txn=consumes(posted))
        def reverse(self, txn):
            reversal = services.transaction_reverse(transaction=txn, actor=None, reason="test")
            for code, minor in reversal.postings.values_list("account__code", "amount_minor"):
                self.expected[code] += minor
            return txn

        @rule(txn=reversed_)
        def reverse_again_is_refused(self, txn):
            count = Posting.objects.count()
            with pytest.raises(ValidationError):
                services.transaction_reverse(transaction=txn, actor=None, reason="again")
            assert Posting.objects.count() == count

        @rule(who=st.sampled_from(receivables), minor=amounts, skew=st.integers(-3, 3))
        def unbalanced_is_refused(self, who, minor, skew):
            count = Posting.objects.count()
            legs = [Leg(who, minor), Leg("revenue", -minor + skew)]
            if skew == 0:
                legs = [Leg(who, minor)]
            with pytest.raises(ValidationError):
                services.transaction_post(
                    kind="charge",
                    legs=legs,
                    currency="ZAR",
                    value_date=date(2026, 3, 1),
                    reference="bad",
                )
            assert Posting.objects.count() == count

        @invariant()
        def each_transaction_balances(self):
            bad = (
                Transaction.objects.annotate(
                    n=Count("postings"), total=Sum("postings__amount_minor")
                )
                .exclude(n__gte=2, total=0)
                .count()
            )
            assert bad == 0

        @invariant()
        def balances_are_sums_of_postings(self):
            sums = dict(
                Posting.objects.values_list("account__code").annotate(s=Sum("amount_minor"))
            )
            for code in [*receivables, *fixed_codes]:
                assert selectors.balance(code) == sums.get(code, 0) == self.expected[code]
            for personal_account, code in zip(personal_accounts, receivables, strict=True):
                assert selectors.account_balance(personal_account) == from_minor(
                    self.expected[code]
                )

        @invariant()
        def everything_sums_to_zero(self):
            assert (Posting.objects.aggregate(s=Sum("amount_minor"))["s"] or 0) == 0

    return LedgerMachine


def test_ledger_state_machine(chart, make_account):
    personal_accounts = [make_account() for _ in range(3)]
    receivables = [services.receivable_for(a).code for a in personal_accounts]
    machine = _machine(receivables, personal_accounts, sorted(chart))
    assert LedgerAccount.objects.count() == len(chart) + 3
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
