"""Estimation: the average, then the norm; worked examples with each jurisdiction's defaults,
and properties over random histories."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicdesk.metering import estimation
from civicdesk.metering.estimation import Norm, Rules
from civicdesk.metering.jurisdictions import defaults_for

D = Decimal


def rules_for(jurisdiction: str, resource: str) -> Rules:
    d = defaults_for(jurisdiction)
    return Rules(
        average_months=d["estimate_average_months"],
        min_months=d["estimate_min_months"],
        max_periods=d["estimate_max_periods"],
        norm=Norm.from_setting(d["norms"].get(resource)),
    )


HISTORY = [D("5.1"), D("6.0"), D("4.9"), D("5.5"), D("6.2"), D("5.8"), D("9.0")]


def test_russia_average_of_six_months_for_three_periods():
    rules = rules_for("ru", "cold_water")
    for periods in range(3):
        found = estimation.estimate(
            history=HISTORY, estimated_periods=periods, rules=rules, occupants=2
        )
        # The last six months: 6.0 + 4.9 + 5.5 + 6.2 + 5.8 + 9.0 = 37.4 → 6.2333…
        assert found.quantity == D("6.233") and found.basis == estimation.AVERAGE
        assert found.explanation[0] == ("average", {"months": 6, "average": D("6.233")})


def test_russia_norm_from_the_fourth_period():
    found = estimation.estimate(
        history=HISTORY, estimated_periods=3, rules=rules_for("ru", "cold_water"), occupants=3
    )
    assert found.quantity == D("20.805") and found.basis == estimation.NORM  # 3 × 6.935
    assert found.explanation == (
        ("limit_reached", {"periods": 3}),
        ("norm_per_occupant", {"norm": D("6.935"), "occupants": 3}),
    )


def test_russia_norm_at_once_with_less_than_three_months():
    found = estimation.estimate(
        history=[D(5), D(6)], estimated_periods=0, rules=rules_for("ru", "hot_water"), occupants=2
    )
    assert found.quantity == D("9.490") and found.basis == estimation.NORM  # 2 × 4.745
    assert found.explanation[0] == ("too_little_history", {"months": 2, "needed": 3})


def test_russia_heat_norm_per_square_metre():
    found = estimation.estimate(
        history=[], estimated_periods=0, rules=rules_for("ru", "heat"), area=D("60.5")
    )
    assert found.quantity == D("0.968") and found.explanation[1][0] == "norm_per_m2"


def test_ukraine_electricity_norm():
    found = estimation.estimate(
        history=[], estimated_periods=0, rules=rules_for("ua", "electricity"), occupants=2
    )
    assert found.quantity == D("140.000")


def test_south_africa_average_of_three_goes_on_without_a_norm():
    rules = rules_for("za", "cold_water")
    for periods in (0, 3, 12):
        found = estimation.estimate(history=HISTORY, estimated_periods=periods, rules=rules)
        # The last three months: (6.2 + 5.8 + 9.0) / 3 = 7
        assert found.quantity == D("7.000") and found.basis == estimation.AVERAGE
    assert found.explanation[1] == ("average_continues", {"periods": 3})


def test_south_africa_one_month_is_enough():
    found = estimation.estimate(
        history=[D("12.4")], estimated_periods=0, rules=rules_for("za", "electricity")
    )
    assert found.quantity == D("12.400")


def test_nothing_to_estimate_from():
    assert (
        estimation.estimate(history=[], estimated_periods=0, rules=rules_for("za", "gas")) is None
    )
    # A building meter has neither occupants nor its own area: no norm.
    assert (
        estimation.estimate(history=[], estimated_periods=0, rules=rules_for("ru", "cold_water"))
        is None
    )


def test_negative_average_estimates_zero():
    found = estimation.estimate(
        history=[D(5), D(-20), D(5)], estimated_periods=0, rules=Rules(min_months=3)
    )
    assert found.quantity == D("0.000")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"per_occupant": "6.935"}, Norm(per_occupant=D("6.935"))),
        ({"per_m2": 0.016}, Norm(per_m2=D("0.016"))),
        ({}, None),
        (None, None),
        ({"per_occupant": "lots"}, None),
        ({"per_occupant": "-1"}, None),
        ("6.9", None),
    ],
)
def test_norm_from_setting(raw, expected):
    assert Norm.from_setting(raw) == expected


histories = st.lists(st.decimals(min_value=0, max_value=10**5, places=3), max_size=24)
rule_sets = st.builds(
    Rules,
    average_months=st.integers(min_value=1, max_value=12),
    min_months=st.integers(min_value=1, max_value=12),
    max_periods=st.integers(min_value=0, max_value=24),
    norm=st.one_of(
        st.none(),
        st.builds(Norm, per_occupant=st.decimals(min_value=0, max_value=500, places=3)),
    ),
)


@given(
    history=histories,
    periods=st.integers(min_value=0, max_value=30),
    rules=rule_sets,
    occupants=st.integers(min_value=0, max_value=20),
)
def test_estimate_properties(history, periods, rules, occupants):
    found = estimation.estimate(
        history=history, estimated_periods=periods, rules=rules, occupants=occupants
    )
    months = history[-rules.average_months :]
    enough = len(months) >= rules.min_months
    if found is None:
        assert not enough and rules.norm is None
        return
    assert found.quantity >= 0 and found.quantity == found.quantity.quantize(D("0.001"))
    if found.basis == estimation.AVERAGE:
        assert enough and (periods < rules.max_periods or rules.norm is None)
        assert min(months) - D("0.001") <= found.quantity <= max(months) + D("0.001")
    else:
        assert rules.norm is not None
        assert found.quantity == (rules.norm.per_occupant * occupants).quantize(D("0.001"))
        assert not enough or periods >= rules.max_periods
