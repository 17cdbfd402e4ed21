"""Charges and payments per month: the monthly sums add up, and the bars' geometry stays inside
the viewBox with heights in proportion, whatever the series (pure: no database)."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicdesk.billing.chart import CHARGED, CREDITED, MonthFlow, flow_bars, monthly_flows
from civicdesk.metering.chart import tick_extent

EPSILON = 1e-6


def test_worked_example_three_months():
    months = monthly_flows(
        [
            (date(2025, 6, 30), Decimal("100.00")),  # the June bill
            (date(2025, 7, 5), Decimal("-100.00")),  # paid
            (date(2025, 7, 31), Decimal("120.00")),
            (date(2025, 8, 10), Decimal("-50.00")),
            (date(2025, 8, 11), Decimal("-20.00")),  # a credit
            (date(2025, 9, 1), Decimal("999.00")),  # after the range: left out
        ],
        date(2025, 6, 15),
        date(2025, 8, 31),
    )
    assert months == [
        MonthFlow(date(2025, 6, 1), Decimal("100.00"), Decimal(0)),
        MonthFlow(date(2025, 7, 1), Decimal("120.00"), Decimal("100.00")),
        MonthFlow(date(2025, 8, 1), Decimal(0), Decimal("70.00")),
    ]
    chart = flow_bars(months)
    # Ticks 0, 50, 100, 150 (step 50 over a top of 120): the top tick is 150.
    assert (chart.step, chart.top) == (Decimal(50), Decimal(150))
    assert [tick.label for tick in chart.y_ticks] == ["0", "50", "100", "150"]
    july_charged = chart.bars[2]
    assert (july_charged.kind, july_charged.value) == (CHARGED, Decimal("120.00"))
    assert july_charged.height == pytest.approx(chart.plot_height * 120 / 150)
    assert july_charged.y + july_charged.height == pytest.approx(chart.zero_y)
    august_charged, august_paid = chart.bars[4], chart.bars[5]
    assert august_charged.height == 0
    assert august_paid.kind == CREDITED and august_paid.x == pytest.approx(
        august_charged.x + august_charged.width
    )
    assert chart.x_ticks[-1].label == "08/25"
    assert not chart.empty


def test_nothing_moved_is_an_empty_chart():
    chart = flow_bars(monthly_flows([], date(2024, 1, 1), date(2024, 12, 31)))
    assert chart.empty and len(chart.bars) == 24


def test_negative_sums_are_refused():
    with pytest.raises(ValueError):
        flow_bars([MonthFlow(date(2025, 1, 1), Decimal(-1), Decimal(0))])
    with pytest.raises(ValueError):
        monthly_flows([], date(2025, 2, 1), date(2025, 1, 1))


MOVEMENT = st.tuples(
    st.dates(min_value=date(2015, 1, 1), max_value=date(2026, 12, 31)),
    st.decimals(min_value=Decimal("-99999.99"), max_value=Decimal("99999.99"), places=2),
)


@settings(max_examples=200, deadline=None)
@given(
    movements=st.lists(MOVEMENT, max_size=60),
    first=st.dates(min_value=date(2015, 1, 1), max_value=date(2026, 12, 31)),
    months=st.integers(min_value=1, max_value=130),
)
def test_monthly_sums_add_up_to_the_movements(movements, first, months):
    index = first.year * 12 + first.month - 1 + months - 1
    last = date(index // 12, index % 12 + 1, 28)
    flows = monthly_flows(movements, first, last)
    assert len(flows) == months
    assert flows[0].period == first.replace(day=1)
    assert all(flow.charged >= 0 and flow.credited >= 0 for flow in flows)
    inside = [a for d, a in movements if flows[0].period <= d.replace(day=1) <= flows[-1].period]
    assert sum(f.charged - f.credited for f in flows) == sum(inside, Decimal(0))


FLOW = st.builds(
    MonthFlow,
    period=st.just(date(2025, 1, 1)),
    charged=st.decimals(min_value=0, max_value=Decimal("9999999.99"), places=2),
    credited=st.decimals(min_value=0, max_value=Decimal("9999999.99"), places=2),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(FLOW, min_size=1, max_size=120))
def test_bars_stay_inside_and_are_in_proportion(flows):
    months = [
        MonthFlow(date(2015 + n // 12, n % 12 + 1, 1), f.charged, f.credited)
        for n, f in enumerate(flows)
    ]
    chart = flow_bars(months)
    assert len(chart.bars) == 2 * len(months)
    for bar in chart.bars:
        assert bar.width > 0 and bar.height >= 0
        assert chart.plot_left - EPSILON <= bar.x
        assert bar.x + bar.width <= chart.plot_right + EPSILON
        assert chart.plot_top - EPSILON <= bar.y
        assert bar.y + bar.height == pytest.approx(chart.zero_y)
        assert bar.height == pytest.approx(
            float(bar.value / chart.top) * chart.plot_height, abs=1e-6
        )
    # A month's two bars never reach into the next month's slot.
    for left, right in zip(chart.bars[1::2], chart.bars[2::2], strict=False):
        assert left.x + left.width <= right.x + EPSILON
    assert max(max(m.charged, m.credited) for m in months) <= chart.top
    extents = [tick_extent(tick) for tick in chart.x_ticks]
    assert all(a >= -EPSILON and b <= chart.width + EPSILON for a, b in extents)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(extents))
    assert chart.x_ticks[-1].label == f"{months[-1].period:%m/%y}"
