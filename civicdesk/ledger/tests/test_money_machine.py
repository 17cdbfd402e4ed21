"""Random sequences of charges, payments, reversals, allocations and refunds through the
ledger's services. After every step: each transaction sums to zero; every balance equals the
sum of its postings; no allocation exceeds its payment or its charge; a balance is its open
charges less its open credits; no refund exceeds the credit."""

from collections import Counter
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction as db_transaction
from django.db.models import Count, F, Q, Sum
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
from civicdesk.ledger.models import Allocation, LedgerAccount, Posting, Transaction
from civicdesk.ledger.services import ChargeLine

amounts = st.integers(min_value=1, max_value=10**7)
days = st.integers(min_value=0, max_value=400)
START = date(2025, 1, 1)


def _machine(accounts, providers, gateway):
    class MoneyMachine(RuleBasedStateMachine):
        charges = Bundle("charges")
        payments = Bundle("payments")
        refunds = Bundle("refunds")

        def __init__(self):
            super().__init__()
            self._atomic = db_transaction.atomic()
            self._atomic.__enter__()
            self.owed = Counter()  # per account, minor units (negative = credit)
            self.invoices = 0

        def teardown(self):
            db_transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)

        @rule(
            target=charges,
            who=st.sampled_from(range(len(accounts))),
            lines=st.lists(
                st.tuples(amounts, st.sampled_from(range(len(providers)))), min_size=1, max_size=3
            ),
            day=days,
        )
        def charge(self, who, lines, day):
            self.invoices += 1
            txn = services.charge_post(
                account=accounts[who],
                lines=[ChargeLine(a, "cold_water", providers[p]) for a, p in lines],
                currency="ZAR",
                value_date=START + timedelta(days=day),
                reference=f"INV-{self.invoices}",
            )
            self.owed[who] += sum(a for a, _ in lines)
            return (who, txn)

        @rule(
            target=payments,
            who=st.sampled_from(range(len(accounts))),
            minor=amounts,
            day=days,
            name_invoice=st.booleans(),
        )
        def payment(self, who, minor, day, name_invoice):
            invoice = f"INV-{self.invoices}" if name_invoice and self.invoices else None
            txn = services.payment_post(
                account=accounts[who],
                amount_minor=minor,
                currency="ZAR",
                value_date=START + timedelta(days=day),
                source=gateway,
                reference="PAY",
                invoice=invoice,
            )
            self.owed[who] -= minor
            return (who, txn)

        @rule(item=consumes(charges))
        def reverse_charge(self, item):
            who, txn = item
            services.transaction_reverse(transaction=txn, actor=None, reason="wrong bill")
            self.owed[who] -= txn.postings.filter(
                amount_minor__gt=0, account__kind="receivable"
            ).aggregate(s=Sum("amount_minor"))["s"]

        @rule(item=consumes(payments))
        def reverse_payment(self, item):
            who, txn = item
            services.transaction_reverse(transaction=txn, actor=None, reason="bounced")
            self.owed[who] += txn.postings.get(amount_minor__lt=0).amount_minor * -1

        @rule(target=refunds, who=st.sampled_from(range(len(accounts))), share=st.floats(0.01, 1.5))
        def refund(self, who, share):
            credit = services.credit_available(accounts[who])
            assert credit == max(0, -self.owed[who])
            wanted = max(1, int(credit * share))
            before = Posting.objects.count()
            if wanted > credit:
                with pytest.raises(ValidationError):
                    services.refund_reserve(
                        account=accounts[who], amount_minor=wanted, currency="ZAR", reference="R"
                    )
                assert Posting.objects.count() == before
                return None
            txn = services.refund_reserve(
                account=accounts[who], amount_minor=wanted, currency="ZAR", reference="R"
            )
            self.owed[who] += wanted
            return (who, txn)

        @rule(item=consumes(refunds))
        def cancel_refund(self, item):
            if item is None:
                return
            who, txn = item
            services.transaction_reverse(transaction=txn, actor=None, reason="cancelled")
            self.owed[who] -= txn.postings.get(amount_minor__gt=0).amount_minor

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
            for who, account in enumerate(accounts):
                receivable = services.receivable_for(account)
                total = Posting.objects.filter(account=receivable).aggregate(s=Sum("amount_minor"))[
                    "s"
                ]
                assert selectors.balance(receivable.code) == (total or 0) == self.owed[who]
            assert (Posting.objects.aggregate(s=Sum("amount_minor"))["s"] or 0) == 0

        @invariant()
        def no_allocation_exceeds_its_postings(self):
            per_charge = (
                Allocation.objects.values("charge")
                .annotate(total=Sum("amount_minor"), posted=F("charge__amount_minor"))
                .filter(Q(total__lt=0) | Q(total__gt=F("posted")))
            )
            assert not per_charge.exists()
            per_credit = (
                Allocation.objects.values("credit")
                .annotate(total=Sum("amount_minor"), posted=F("credit__amount_minor"))
                .filter(Q(total__lt=0) | Q(total__gt=-F("posted")))
            )
            assert not per_credit.exists()
            assert not Allocation.objects.filter(
                Q(charge__amount_minor__lte=0) | Q(credit__amount_minor__gte=0)
            ).exists()

        @invariant()
        def balance_is_open_charges_less_open_credits(self):
            for who, account in enumerate(accounts):
                charges, credits = services.open_items(services.receivable_for(account))
                open_charges = sum(c.open_minor for c in charges)
                open_credits = sum(c.open_minor for c in credits)
                assert open_charges - open_credits == self.owed[who]
                # Everything that can be allocated is: debt and credit never sit side by side.
                assert not (open_charges and open_credits)
                assert services.credit_available(account) == open_credits

    return MoneyMachine


@pytest.mark.parametrize("rule_name", ["oldest_first", "proportional"])
def test_money_state_machine(operator, make_account, registry, rule_name):
    operator.allocation_rule = rule_name
    operator.save()
    accounts = [make_account() for _ in range(2)]
    providers = [registry.provider("water"), registry.provider("power")]
    gateway = services.system_account(LedgerAccount.Kind.GATEWAY_CLEARING, "ZAR", key="sandbox")
    for account in accounts:
        services.receivable_for(account)
    run_state_machine_as_test(
        _machine(accounts, providers, gateway),
        settings=settings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
