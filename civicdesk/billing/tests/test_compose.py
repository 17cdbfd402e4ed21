"""The pure rules of a bill: periods, minor units, digests, and recompute-and-diff."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicdesk.billing import compose
from civicdesk.billing.compose import Billed, ServiceCharge


def test_periods():
    assert compose.period_start(date(2025, 8, 17)) == date(2025, 8, 1)
    assert compose.period_end(date(2024, 2, 1)) == date(2024, 2, 29)
    assert compose.next_period(date(2025, 12, 1)) == date(2026, 1, 1)
    assert compose.previous_period(date(2025, 1, 1)) == date(2024, 12, 1)
    assert compose.issue_date(date(2025, 8, 1)) == date(2025, 9, 1)
    assert compose.due_date(date(2025, 8, 1), 9) == date(2025, 9, 10)  # Russia: the 10th
    assert compose.parse_period("2025-08") == date(2025, 8, 1)
    for bad in ("2025-8", "2025/08", "August", "", "2025-13", "abcd-ef"):
        with pytest.raises(ValueError):
            compose.parse_period(bad)


def test_minor_units_are_exact():
    assert compose.minor(Decimal("1639.90")) == 163990
    assert compose.minor(Decimal("-0.05")) == -5
    assert compose.minor(Decimal("12"), 0) == 12
    with pytest.raises(ValueError):
        compose.minor(Decimal("0.005"))


def charge(service="electricity", provider=1, amount=100, tax=0, quantity=None, version=1):
    return ServiceCharge(
        service=service,
        provider_id=provider,
        amount_minor=amount,
        tax_minor=tax,
        tariff_code="t",
        tariff_version=version,
        quantity=quantity,
    )


def test_the_digest_ignores_order_and_wording_but_not_amounts():
    a, b = charge(amount=100), charge(service="cold_water", amount=50)
    assert compose.digest([a, b]) == compose.digest([b, a])
    worded = dataclasses.replace(a, explanation="other words", detail="[]")
    assert compose.digest([worded, b]) == compose.digest([a, b])
    assert compose.digest([charge(amount=101), b]) != compose.digest([a, b])
    assert compose.digest([charge(version=2), b]) != compose.digest([a, b])
    assert compose.digest([charge(quantity=Decimal("5")), b]) != compose.digest([a, b])


def test_differences_worked_example():
    billed = {
        ("electricity", 1): Billed(163990, 21390, Decimal("436")),
        ("maintenance", 2): Billed(60500, 0, None),
    }
    new = [
        charge(amount=189750, tax=24750, quantity=Decimal("500")),
        charge(service="cold_water", provider=2, amount=20700, tax=2700),
    ]
    out = {c.key: c for c in compose.differences(billed, new)}
    assert out[("electricity", 1)].amount_minor == 25760
    assert out[("electricity", 1)].tax_minor == 3360
    assert out[("electricity", 1)].quantity == Decimal("64")
    assert out[("maintenance", 2)].amount_minor == -60500  # no longer billed: reversed
    assert out[("cold_water", 2)].amount_minor == 20700  # new service
    unchanged = [charge(amount=163990, tax=21390, quantity=Decimal("436"))]
    assert [c.key for c in compose.differences(billed, unchanged)] == [("maintenance", 2)]


keys = st.tuples(st.sampled_from(["electricity", "cold_water", "heating"]), st.integers(1, 3))
amounts = st.integers(-(10**9), 10**9)


@settings(max_examples=200)
@given(
    billed=st.dictionaries(keys, st.tuples(amounts, amounts), max_size=6),
    new=st.dictionaries(keys, st.tuples(amounts, amounts), max_size=6),
)
def test_billed_plus_differences_is_the_new_bill(billed, new):
    before = {key: Billed(a, t) for key, (a, t) in billed.items()}
    charges = [charge(service=k[0], provider=k[1], amount=a, tax=t) for k, (a, t) in new.items()]
    adjustments = compose.differences(before, charges)
    totals = {key: [b.amount_minor, b.tax_minor] for key, b in before.items()}
    for adjustment in adjustments:
        assert adjustment.amount_minor or adjustment.tax_minor  # nothing empty is written
        total = totals.setdefault(adjustment.key, [0, 0])
        total[0] += adjustment.amount_minor
        total[1] += adjustment.tax_minor
    expected = {key: [a, t] for key, (a, t) in new.items()}
    for key in set(totals) | set(expected):
        assert totals.get(key, [0, 0]) == expected.get(key, [0, 0])
    # And a second diff against the result finds nothing.
    after = {key: Billed(*values) for key, values in totals.items()}
    assert compose.differences(after, charges) == []


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6))
def test_closing_is_opening_plus_charges_less_payments_plus_adjustments(o, c, p, a):
    assert compose.Totals(o, c, p, a).closing_minor == o + c - p + a
