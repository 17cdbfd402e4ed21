"""Leak signals: high use against the household's median, and continuous night flow."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicdesk.metering import anomaly

D = Decimal


def test_median():
    assert anomaly.median([D(3), D(1), D(2)]) == D(2)
    assert anomaly.median([D(4), D(1), D(2), D(3)]) == D("2.5")
    with pytest.raises(ValueError):
        anomaly.median([])


def test_high_use_worked_example():
    history = [D(10), D(12), D(9), D(40)]  # one earlier leak month barely moves the median
    found = anomaly.high_use(use=D(35), history=history, factor=D(3))
    assert found == anomaly.HighUse(use=D(35), baseline=D(11))
    assert anomaly.high_use(use=D(33), history=history, factor=D(3)) is None


def test_high_use_needs_three_months():
    assert anomaly.high_use(use=D(100), history=[D(1), D(1)], factor=D(3)) is None
    assert anomaly.high_use(use=D(100), history=[D(1)] * 3, factor=D(3)) is not None


def test_high_use_over_several_months_is_per_month():
    assert anomaly.high_use(use=D(60), history=[D(10)] * 3, factor=D(3), months=3) is None


def test_no_baseline_no_signal():
    assert anomaly.high_use(use=D(5), history=[D(0)] * 6, factor=D(3)) is None


@given(
    history=st.lists(st.decimals(min_value=0, max_value=1000, places=3), min_size=3, max_size=12),
    factor=st.decimals(min_value=1, max_value=10, places=2),
    scale=st.decimals(min_value=0, max_value=20, places=2),
)
def test_high_use_iff_above_factor_times_median(history, factor, scale):
    median = anomaly.median(history)
    use = median * scale
    found = anomaly.high_use(use=use, history=history, factor=factor)
    assert (found is not None) == (median > 0 and use > factor * median)


START = datetime(2026, 6, 2, 22, 0)


def hourly(flows, start=START):
    """Cumulative readings on the hour from ``start`` with these hourly flows."""
    value, readings = D(100), [(start, D(100))]
    for i, flow in enumerate(flows, start=1):
        value += D(str(flow))
        readings.append((start + timedelta(hours=i), value))
    return readings


def test_night_flow_worked_example():
    # 22:00 to 07:00: the hours 00-04 all run at least 0.01 m3.
    flows = [5, 3, "0.02", "0.01", "0.02", "0.03", "0.01", 2, 4]
    [found] = anomaly.night_flow(hourly(flows), hours=4)
    assert found.night == START.date() + timedelta(days=1)
    assert found.hours == 5 and found.quantity == D("0.09") and found.lowest == D("0.01")


def test_a_still_hour_breaks_the_run():
    flows = [5, 3, "0.02", "0.01", 0, "0.03", "0.01", 2]
    assert anomaly.night_flow(hourly(flows), hours=3) == []
    assert anomaly.night_flow(hourly(flows), hours=2)[0].hours == 2


def test_evening_and_morning_use_do_not_count():
    flows = [5, 3, 0, 0, 0, 0, 0, 2, 4]
    assert anomaly.night_flow(hourly(flows), hours=1) == []


def test_quarter_hours_add_up_and_gaps_are_left_out():
    start = datetime(2026, 6, 3, 0, 0)
    readings = [(start + timedelta(minutes=15 * i), D(i)) for i in range(0, 17)]  # 4 hours
    [found] = anomaly.night_flow(readings, hours=4)
    assert found.quantity == D(16) and found.lowest == D(4)
    sparse = [
        (start, D(0)),
        (start + timedelta(hours=3), D(9)),
        (start + timedelta(hours=4), D(10)),
    ]
    assert anomaly.night_flow(sparse, hours=1)[0].hours == 1


def test_roll_over_inside_the_night():
    start = datetime(2026, 6, 3, 0, 0)
    readings = [(start, D("99999.5")), (start + timedelta(hours=1), D("0.5"))]
    assert anomaly.hourly_flows(readings, dial=D(100000)) == {start: D(1)}
    assert anomaly.hourly_flows(readings) == {}


@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 1, 4)),
            st.decimals(min_value=0, max_value=1000, places=3),
        ),
        max_size=60,
    ),
    st.integers(min_value=1, max_value=8),
)
def test_night_flow_never_raises_and_respects_the_threshold(readings, hours):
    for found in anomaly.night_flow(readings, hours=hours, dial=D(100000)):
        assert hours <= found.hours <= 5
        assert found.quantity >= found.lowest > 0
