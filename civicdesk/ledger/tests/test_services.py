"""Posting, reversing and opening balances: worked examples and refusals that write nothing."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from civicdesk.core.models import AppendOnlyError
from civicdesk.ledger import selectors, services
from civicdesk.ledger.models import LedgerAccount, Posting, Transaction
from civicdesk.ledger.postings import Leg
from civicdesk.registry.models import OpeningBalance

DAY = date(2026, 3, 1)


def _charge(code, minor, **extra):
    return services.transaction_post(
        kind="charge",
        legs=[Leg(code, minor), Leg("revenue", -minor)],
        currency="ZAR",
        value_date=DAY,
        reference="INV-1",
        **extra,
    )


def _payment(code, minor):
    return services.transaction_post(
        kind="payment",
        legs=[Leg("bank", minor), Leg(code, -minor)],
        currency="ZAR",
        value_date=DAY,
        reference="BANK-1",
    )


def test_charge_then_part_payment(chart, make_account):
    account = make_account()
    receivable = services.receivable_for(account)
    assert receivable.code == f"receivable:{account.number}"
    assert services.receivable_for(account) == receivable  # get, not create again
    assert receivable.currency == "ZAR"

    txn = _charge(receivable.code, services.money_to_minor(Decimal("812.40"), currency="ZAR"))
    _payment(receivable.code, 50000)

    assert txn.postings.count() == 2
    assert selectors.balance(receivable.code) == 31240
    assert selectors.balance("revenue") == -81240
    assert selectors.balance("bank") == 50000
    assert selectors.account_balance(account) == Decimal("312.40")


def test_overpayment_leaves_credit(chart, make_account):
    account = make_account()
    code = services.receivable_for(account).code
    _charge(code, 10000)
    _payment(code, 15000)
    assert selectors.account_balance(account) == Decimal("-50.00")


def test_account_without_receivable_has_zero_balance(chart, make_account):
    assert selectors.account_balance(make_account()) == Decimal("0.00")
    assert selectors.balance("nowhere") == 0


def _refused(field, **kwargs):
    base = {
        "kind": "charge",
        "legs": [Leg("bank", 100), Leg("revenue", -100)],
        "currency": "ZAR",
        "value_date": DAY,
        "reference": "X",
    }
    base.update(kwargs)
    with pytest.raises(ValidationError) as caught:
        services.transaction_post(**base)
    assert field in caught.value.message_dict, caught.value.message_dict
    assert Transaction.objects.count() == 0
    assert Posting.objects.count() == 0
    return " ".join(caught.value.message_dict[field])


def test_bad_input_is_refused_and_nothing_is_written(chart):
    LedgerAccount.objects.create(code="eur", kind="suspense", name="eur", currency="EUR")
    LedgerAccount.objects.create(
        code="old", kind="suspense", name="old", currency="ZAR", closed_at=timezone.now()
    )
    assert "sum to 1" in _refused("legs", legs=[Leg("bank", 101), Leg("revenue", -100)])
    assert "at least two" in _refused("legs", legs=[Leg("bank", 100)])
    assert "zero" in _refused("legs", legs=[Leg("bank", 0), Leg("revenue", 0)])
    assert "unknown:1" in _refused("legs", legs=[Leg("unknown:1", 100), Leg("revenue", -100)])
    assert "closed" in _refused("legs", legs=[Leg("old", 100), Leg("revenue", -100)])
    assert "EUR" in _refused("currency", legs=[Leg("eur", 100), Leg("revenue", -100)])
    assert "USD" in _refused("currency", currency="USD")
    _refused("currency", currency="rand")
    _refused("kind", kind="gift")


def test_too_many_decimals_are_refused_not_rounded():
    with pytest.raises(ValidationError) as caught:
        services.money_to_minor(Decimal("10.005"), currency="ZAR")
    assert "2 decimal places" in caught.value.message_dict["amount"][0]
    with pytest.raises(ValidationError):
        services.money_to_minor(10.5, currency="ZAR", field="amount")
    assert services.money_to_minor(Decimal("10.50"), currency="ZAR") == 1050


def test_reversal_mirrors_and_is_refused_twice(chart, make_account, make_user):
    code = services.receivable_for(make_account()).code
    original = _charge(code, 81240)
    clerk = make_user()
    reversal = services.transaction_reverse(transaction=original, actor=clerk, reason="Wrong meter")

    assert reversal.kind == "reversal"
    assert reversal.reverses == original
    assert reversal.actor == clerk
    assert sorted(reversal.postings.values_list("amount_minor", flat=True)) == [-81240, 81240]
    assert selectors.balance(code) == 0
    assert selectors.balance("revenue") == 0

    with pytest.raises(ValidationError, match="already been reversed"):
        services.transaction_reverse(transaction=original, actor=clerk, reason="Again")
    with pytest.raises(ValidationError, match="cannot be reversed"):
        services.transaction_reverse(transaction=reversal, actor=clerk, reason="Undo")
    with pytest.raises(ValidationError):
        services.transaction_reverse(transaction=_charge(code, 5), actor=clerk, reason=" ")
    assert Transaction.objects.count() == 3


def test_postings_and_transactions_are_append_only_in_code(chart):
    txn = _charge("bank", 100)
    posting = txn.postings.first()
    posting.amount_minor = 5
    with pytest.raises(AppendOnlyError):
        posting.save()
    with pytest.raises(AppendOnlyError):
        posting.delete()
    with pytest.raises(AppendOnlyError):
        txn.delete()


def test_opening_balances_posted_once(chart, make_account, registry):
    owing, in_credit, quiet = make_account(), make_account(), make_account()
    water = registry.provider("water")
    OpeningBalance.objects.create(account=owing, as_of=DAY, amount_minor=12345, currency="ZAR")
    OpeningBalance.objects.create(
        account=owing, provider=water, as_of=DAY, amount_minor=100, currency="ZAR"
    )
    OpeningBalance.objects.create(account=in_credit, as_of=DAY, amount_minor=-5000, currency="zar")
    OpeningBalance.objects.create(account=quiet, as_of=DAY, amount_minor=0, currency="ZAR")

    assert services.opening_balances_post() == 3
    assert selectors.account_balance(owing) == Decimal("124.45")
    assert selectors.account_balance(in_credit) == Decimal("-50.00")
    assert selectors.account_balance(quiet) == Decimal("0.00")
    assert selectors.balance("opening-equity:ZAR") == -12345 + 5000
    assert selectors.balance("opening-equity:water:ZAR") == -100
    assert not OpeningBalance.objects.filter(posted_at__isnull=True).exists()
    assert set(Transaction.objects.values_list("kind", flat=True)) == {"opening_balance"}

    before = (Transaction.objects.count(), Posting.objects.count())
    assert services.opening_balances_post() == 0
    assert (Transaction.objects.count(), Posting.objects.count()) == before
    assert selectors.account_balance(owing) == Decimal("124.45")


def test_a_bad_opening_balance_posts_none(chart, make_account):
    good, bad = make_account(), make_account()
    OpeningBalance.objects.create(account=good, as_of=DAY, amount_minor=100, currency="ZAR")
    OpeningBalance.objects.create(account=bad, as_of=DAY, amount_minor=100, currency="USD")
    with pytest.raises(ValidationError):
        services.opening_balances_post()
    assert Transaction.objects.count() == 0
    assert OpeningBalance.objects.filter(posted_at__isnull=True).count() == 2
