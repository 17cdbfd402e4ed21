"""Payments meet charges: oldest first, per provider, named invoices, overpayment as credit,
reversals that give back exactly what they took — through the ledger services."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from civicdesk.ledger import selectors, services
from civicdesk.ledger.models import Allocation, LedgerAccount, Posting
from civicdesk.ledger.services import ChargeLine


@pytest.fixture
def gateway(operator):
    return services.system_account(LedgerAccount.Kind.GATEWAY_CLEARING, "ZAR", key="sandbox")


@pytest.fixture
def water(registry):
    return registry.provider("water", services=("cold_water",))


@pytest.fixture
def power(registry):
    return registry.provider("power", services=("electricity",))


def bill(account, reference, day, *lines):
    return services.charge_post(
        account=account,
        lines=[ChargeLine(amount, service, provider) for amount, service, provider in lines],
        currency="ZAR",
        value_date=day,
        reference=reference,
    )


def pay(account, gateway, amount, day=date(2026, 5, 1), invoice=None):
    return services.payment_post(
        account=account,
        amount_minor=amount,
        currency="ZAR",
        value_date=day,
        source=gateway,
        reference=f"PAY-{amount}",
        invoice=invoice,
    )


def paid_per_charge(txn):
    return dict(
        Allocation.objects.filter(charge__transaction=txn)
        .values_list("charge__provider__code")
        .annotate(total=Sum("amount_minor"))
    )


def open_minor(account):
    receivable = selectors.receivable_of(account)
    charges, credits = services.open_items(receivable)
    return sum(c.open_minor for c in charges), sum(c.open_minor for c in credits)


def test_oldest_bill_is_paid_first_and_overpayment_stays_as_credit(
    make_account, gateway, water, power
):
    account = make_account()
    march = bill(account, "INV-03", date(2026, 3, 31), (10_000, "cold_water", water))
    april = bill(account, "INV-04", date(2026, 4, 30), (20_000, "electricity", power))
    pay(account, gateway, 12_000)
    assert paid_per_charge(march) == {"water": 10_000}
    assert paid_per_charge(april) == {"power": 2_000}
    pay(account, gateway, 25_000)
    assert paid_per_charge(april) == {"power": 20_000}
    assert open_minor(account) == (0, 7_000)
    assert services.credit_available(account) == 7_000
    assert selectors.account_balance(account) == -70  # R70.00 in credit
    # The credit pays the next bill the moment it is posted.
    may = bill(account, "INV-05", date(2026, 5, 31), (5_000, "cold_water", water))
    assert paid_per_charge(may) == {"water": 5_000}
    assert open_minor(account) == (0, 2_000)


def test_named_invoice_is_paid_first(make_account, gateway, water):
    account = make_account()
    older = bill(account, "INV-01", date(2026, 1, 31), (10_000, "cold_water", water))
    newer = bill(account, "INV-02", date(2026, 2, 28), (10_000, "cold_water", water))
    pay(account, gateway, 10_000, invoice="INV-02")
    assert paid_per_charge(newer) == {"water": 10_000}
    assert paid_per_charge(older) == {}


def test_proportional_rule_shares_a_bill_across_its_providers(
    operator, make_account, gateway, water, power
):
    operator.allocation_rule = "proportional"
    operator.save()
    account = make_account()
    both = bill(
        account,
        "INV-07",
        date(2026, 7, 31),
        (30_000, "cold_water", water),
        (10_000, "electricity", power),
    )
    pay(account, gateway, 20_000)
    assert paid_per_charge(both) == {"water": 15_000, "power": 5_000}


def test_provider_priority_decides_within_a_bill(operator, make_account, gateway, water, power):
    operator.allocation_provider_priority = ["power", "water"]
    operator.save()
    account = make_account()
    both = bill(
        account,
        "INV-08",
        date(2026, 8, 31),
        (30_000, "cold_water", water),
        (10_000, "electricity", power),
    )
    pay(account, gateway, 12_000)
    assert paid_per_charge(both) == {"power": 10_000, "water": 2_000}


def test_reversing_a_payment_reopens_what_it_paid(make_account, gateway, water):
    account = make_account()
    march = bill(account, "INV-03", date(2026, 3, 31), (10_000, "cold_water", water))
    payment = pay(account, gateway, 10_000)
    assert open_minor(account) == (0, 0)
    services.transaction_reverse(transaction=payment, actor=None, reason="bounced")
    assert open_minor(account) == (10_000, 0)
    assert paid_per_charge(march) == {"water": 0}
    assert selectors.account_balance(account) == 100


def test_reversing_a_paid_charge_turns_the_payment_into_credit(make_account, gateway, water):
    account = make_account()
    wrong = bill(account, "INV-03", date(2026, 3, 31), (10_000, "cold_water", water))
    pay(account, gateway, 10_000)
    services.transaction_reverse(transaction=wrong, actor=None, reason="billed twice")
    assert open_minor(account) == (0, 10_000)
    assert services.credit_available(account) == 10_000


def test_reversing_a_bill_with_two_identical_lines(make_account, gateway, water):
    """Found by the state machine: lines of equal amount must each meet their own mirror."""
    account = make_account()
    twice = bill(
        account,
        "INV-09",
        date(2026, 9, 30),
        (7_000, "cold_water", water),
        (7_000, "cold_water", water),
    )
    pay(account, gateway, 10_000)
    services.transaction_reverse(transaction=twice, actor=None, reason="wrong")
    assert open_minor(account) == (0, 10_000)
    assert paid_per_charge(twice) == {"water": 14_000}  # each line met by its own mirror


def test_refund_reserve_never_exceeds_the_credit(make_account, gateway, water):
    account = make_account()
    pay(account, gateway, 5_000)
    with pytest.raises(ValidationError) as error:
        services.refund_reserve(
            account=account, amount_minor=5_001, currency="ZAR", reference="R-1"
        )
    assert "exceeds_credit" in str(error.value.error_dict["amount"][0].code)
    postings = Posting.objects.count()
    assert services.credit_available(account) == 5_000
    services.refund_reserve(account=account, amount_minor=5_000, currency="ZAR", reference="R-1")
    assert services.credit_available(account) == 0
    assert open_minor(account) == (0, 0)
    assert Posting.objects.count() == postings + 2
    refunds = services.system_account(LedgerAccount.Kind.REFUNDS_PAYABLE, "ZAR")
    assert selectors.balance(refunds.code) == -5_000


@pytest.mark.parametrize("amount", [0, -1])
def test_zero_or_negative_money_is_refused(make_account, gateway, water, amount):
    account = make_account()
    before = Posting.objects.count()
    with pytest.raises(ValidationError):
        pay(account, gateway, amount)
    with pytest.raises(ValidationError):
        bill(account, "INV-X", date(2026, 1, 1), (amount, "cold_water", water))
    with pytest.raises(ValidationError):
        services.refund_reserve(account=account, amount_minor=amount, currency="ZAR", reference="R")
    assert Posting.objects.count() == before


def test_wrong_currency_is_refused_and_nothing_is_written(make_account, gateway):
    account = make_account()
    before = Posting.objects.count()
    with pytest.raises(ValidationError) as error:
        services.payment_post(
            account=account,
            amount_minor=100,
            currency="UAH",
            value_date=date(2026, 1, 1),
            source=gateway,
            reference="X",
        )
    assert "currency" in error.value.error_dict
    assert Posting.objects.count() == before
