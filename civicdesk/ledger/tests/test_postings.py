"""The pure double-entry rules: balance checks and exact Decimal ↔ minor-unit conversion."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicdesk.ledger.postings import Leg, PostingError, check_balanced, from_minor, to_minor

nonzero = st.integers(min_value=-(10**15), max_value=10**15).filter(bool)


def test_a_charge_balances():
    legs = check_balanced([Leg("receivable:1", 81240), Leg("revenue", -81240)])
    assert [leg.amount_minor for leg in legs] == [81240, -81240]


@pytest.mark.parametrize(
    ("legs", "code"),
    [
        ([Leg("a", 100), Leg("b", -99)], "unbalanced"),
        ([Leg("a", 0), Leg("b", 0)], "zero_leg"),
        ([Leg("a", 100), Leg("b", 0), Leg("c", -100)], "zero_leg"),
        ([Leg("a", 0)], "too_few_legs"),
        ([], "too_few_legs"),
        ([Leg("a", 1.0), Leg("b", -1.0)], "not_integer"),
        ([Leg("a", True), Leg("b", -1)], "not_integer"),
        ([Leg("", 5), Leg("b", -5)], "no_account"),
    ],
)
def test_bad_legs_are_refused_with_a_code(legs, code):
    with pytest.raises(PostingError) as caught:
        check_balanced(legs)
    assert caught.value.code == code


@given(st.lists(nonzero, min_size=1, max_size=8))
def test_legs_completed_to_zero_balance(amounts):
    remainder = -sum(amounts)
    legs = [Leg(f"a{i}", a) for i, a in enumerate(amounts)]
    if remainder:
        legs.append(Leg("balancing", remainder))
    if len(legs) < 2:  # a single leg can only balance at zero, which is itself refused
        with pytest.raises(PostingError):
            check_balanced(legs)
        return
    assert sum(leg.amount_minor for leg in check_balanced(legs)) == 0


@given(st.lists(nonzero, min_size=2, max_size=8), nonzero)
def test_any_imbalance_is_refused(amounts, skew):
    legs = [Leg(f"a{i}", a) for i, a in enumerate(amounts)]
    legs.append(Leg("skewed", -sum(amounts) + skew))
    with pytest.raises(PostingError) as caught:
        check_balanced(legs)
    assert caught.value.code in {"unbalanced", "zero_leg"}


def test_to_minor_examples():
    assert to_minor(Decimal("812.40")) == 81240
    assert to_minor(Decimal("-0.01")) == -1
    assert to_minor(Decimal("1E+3")) == 100000
    assert to_minor(Decimal("5"), 0) == 5
    assert to_minor(Decimal("1.234"), 3) == 1234
    assert from_minor(81240) == Decimal("812.40")
    assert str(from_minor(5)) == "0.05"


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (Decimal("0.001"), "too_many_decimals"),
        (Decimal("812.405"), "too_many_decimals"),
        (0.1, "not_decimal"),
        ("1.00", "not_decimal"),
        (Decimal("NaN"), "not_finite"),
        (Decimal("Infinity"), "not_finite"),
    ],
)
def test_to_minor_refuses_rather_than_rounds(amount, code):
    with pytest.raises(PostingError) as caught:
        to_minor(amount)
    assert caught.value.code == code


@given(st.integers(min_value=-(10**15), max_value=10**15), st.integers(min_value=0, max_value=4))
def test_minor_round_trip(minor, exponent):
    amount = from_minor(minor, exponent)
    assert to_minor(amount, exponent) == minor
    assert -amount.as_tuple().exponent == exponent or minor == 0


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=6, min_value=-(10**9), max_value=10**9
    ),
    st.integers(min_value=0, max_value=4),
)
def test_to_minor_is_exact_or_refuses(amount, exponent):
    try:
        minor = to_minor(amount, exponent)
    except PostingError as exc:
        assert exc.code == "too_many_decimals"
        assert amount.scaleb(exponent) != amount.scaleb(exponent).to_integral_value()
    else:
        assert from_minor(minor, exponent) == amount
