"""The consumption chart's geometry: any series stays inside the viewBox with no negative
sizes, heights are proportional to the quantities, the axis steps are round, negative
(true-up) months hang below the zero line; and worked examples one can check by hand."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicdesk.metering import chart

EPS = 1e-6
D = Decimal


def months(start: date, count: int) -> list[date]:
    out, year, month = [], start.year, start.month
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = year + month // 12, month % 12 + 1
    return out


quantities = st.one_of(
    st.none(),
    st.decimals(
        min_value=D("-100000"),
        max_value=D("1000000000"),
        places=3,
        allow_nan=False,
        allow_infinity=False,
    ),
    st.integers(min_value=0, max_value=50).map(D),  # plenty of small whole numbers and zeros
)


def _dated(rows):
    periods = months(date(2023, 1, 1), len(rows))
    return [(p, q, e) for p, (q, e) in zip(periods, rows, strict=True)]


series_strategy = st.lists(st.tuples(quantities, st.booleans()), max_size=60).map(_dated)


def _assert_inside(c: chart.Chart) -> None:
    for bar in c.bars:
        assert bar.width > 0 and bar.height >= 0
        assert bar.x >= -EPS and bar.x + bar.width <= c.width + EPS
        assert bar.y >= -EPS and bar.y + bar.height <= c.height + EPS
        assert c.plot_top - EPS <= bar.y and bar.y + bar.height <= c.plot_bottom + EPS
    for tick in c.y_ticks:
        assert c.plot_top - EPS <= tick.y <= c.plot_bottom + EPS
        # The label's glyphs (about 0.8 of the font size tall) are not cut at the top.
        assert tick.text_y - 0.8 * c.font_size >= -EPS
    for tick in c.x_ticks:
        left, right = chart.tick_extent(tick)
        assert left >= -EPS and right <= c.width + EPS
    assert c.plot_right <= c.width and c.plot_bottom < c.month_label_y <= c.height - 2


@settings(max_examples=300, deadline=None)
@given(series_strategy)
def test_any_series_fits_the_view_box_with_proportional_heights(series):
    c = chart.monthly_bars(series)
    assert len(c.bars) == len(series)
    _assert_inside(c)

    # One scale for every bar: height = |quantity| × plot height / span.
    span = float(c.top - c.bottom)
    for bar, (_, quantity, estimated) in zip(c.bars, series, strict=True):
        assert bar.estimated is estimated
        if quantity is None:
            assert bar.missing and bar.height == 0 and bar.value_label == ""
            continue
        expected = float(abs(quantity)) / span * c.plot_height
        assert bar.height == pytest.approx(expected, rel=1e-9, abs=1e-9)
        if quantity >= 0:  # standing on the zero line
            assert bar.y + bar.height == pytest.approx(c.zero_y)
        else:  # hanging from it
            assert bar.y == pytest.approx(c.zero_y)

    # Bars run left to right, oldest first, and do not overlap.
    for a, b in itertools.pairwise(c.bars):
        assert a.x + a.width <= b.x + EPS
    # Month labels do not touch; the latest month is always named.
    extents = [chart.tick_extent(t) for t in c.x_ticks]
    for a, b in itertools.pairwise(extents):
        assert a[1] <= b[0]
    if c.bars:
        assert c.x_ticks[-1].label == f"{c.bars[-1].period:%m/%y}"


@settings(max_examples=300, deadline=None)
@given(series_strategy)
def test_the_axis_has_round_steps_from_below_the_lowest_to_above_the_highest(series):
    c = chart.monthly_bars(series)
    known = [q for _, q, _ in series if q is not None]
    values = [t.value for t in c.y_ticks]
    assert values[0] == c.bottom <= min([D(0), *known])
    assert values[-1] == c.top >= max([D(0), *known])
    assert D(0) in values  # the zero line is a tick
    assert 2 <= len(values) <= 7
    assert all(b - a == c.step for a, b in itertools.pairwise(values))
    mantissa = c.step.scaleb(-c.step.adjusted()).normalize()
    assert mantissa in {D(1), D(2), D("2.5"), D(5)}
    # Ticks go up the page as values grow, evenly.
    ys = [t.y for t in c.y_ticks]
    gaps = [a - b for a, b in itertools.pairwise(ys)]
    assert all(g == pytest.approx(gaps[0]) and g > 0 for g in gaps)


# --- worked examples ----------------------------------------------------------------------


def test_worked_example_a_simple_year():
    series = [
        (date(2025, 1, 1), D("10"), False),
        (date(2025, 2, 1), D("20"), False),
        (date(2025, 3, 1), None, False),
        (date(2025, 4, 1), D("5"), True),
    ]
    c = chart.monthly_bars(series)
    # Highest 20, lowest 0: 20 / 4 = 5, a round step; ticks 0, 5, 10, 15, 20.
    assert (c.bottom, c.top, c.step) == (D(0), D(20), D(5))
    assert [t.label for t in c.y_ticks] == ["0", "5", "10", "15", "20"]
    # viewBox 360 × 200; plot from y=8 down to 200 − 21 = 179: 171 units tall.
    assert (c.width, c.height, c.plot_top, c.plot_height, c.zero_y) == (360, 200, 8, 171, 179)
    ten, twenty, missing, five = c.bars
    assert twenty.height == 171 and twenty.y == 8
    assert ten.height == 85.5 and five.height == 42.75
    assert missing.missing and missing.height == 0
    assert five.estimated and c.has_estimates and not c.has_negative
    # Four slots across the 360 − 24 − 4 = 332 wide plot, each bar 72 % of its 83-wide slot.
    assert c.plot_left == 24 and ten.width == pytest.approx(59.76)
    assert ten.x == pytest.approx(24 + (83 - 59.76) / 2)
    assert [t.label for t in c.x_ticks] == ["01/25", "02/25", "03/25", "04/25"]
    assert ten.label == "2025-01" and ten.value_label == "10"
    assert c.first_known == 0
    later = chart.monthly_bars([(date(2024, 12, 1), None, False), *series])
    assert later.first_known == 1


def test_worked_example_a_negative_true_up_month():
    # Three estimated months were too high; the real reading gives back 3 in April.
    series = [
        (date(2025, 1, 1), D("12"), True),
        (date(2025, 2, 1), D("12"), True),
        (date(2025, 3, 1), D("12"), True),
        (date(2025, 4, 1), D("-3"), False),
        (date(2025, 5, 1), D("6.5"), False),
    ]
    c = chart.monthly_bars(series)
    # From −3 to 12 is 15; 15 / 4 = 3.75 → step 5; the axis runs −5 … 15.
    assert (c.bottom, c.top, c.step) == (D(-5), D(15), D(5))
    assert [t.value for t in c.y_ticks] == [D(-5), D(0), D(5), D(10), D(15)]
    # The zero line is a quarter of the way up: 8 + 171 × 15/20.
    assert c.zero_y == pytest.approx(8 + 171 * 0.75)
    april = c.bars[3]
    assert april.negative and april.y == pytest.approx(c.zero_y)
    assert april.height == pytest.approx(171 * 3 / 20)
    assert c.bars[0].height == pytest.approx(171 * 12 / 20)
    assert c.has_negative and c.has_estimates


def test_worked_example_36_months_name_every_sixth_month_on_a_phone():
    periods = months(date(2023, 7, 1), 36)
    c = chart.monthly_bars([(p, D("7.250"), False) for p in periods])
    assert [t.label for t in c.x_ticks] == ["12/23", "06/24", "12/24", "06/25", "12/25", "06/26"]
    assert c.x_ticks[-1].anchor == "end"  # the latest month is pulled inside the right edge
    assert c.step == D(2) and c.top == D(8)  # 7.25 / 4 = 1.81 → 2; ticks 0, 2, 4, 6, 8


@pytest.mark.parametrize(
    ("raw", "step"),
    [
        (D("0.3"), D("0.5")),
        (D("1"), D("1")),
        (D("1.01"), D("2")),
        (D("2.1"), D("2.5")),
        (D("2.6"), D("5")),
        (D("7"), D("10")),
        (D("240"), D("250")),
        (D("0.0001"), D("0.001")),
    ],
)
def test_nice_steps(raw, step):
    assert chart.nice_step(raw) == step


def test_nothing_known_draws_no_bars_but_keeps_the_months():
    c = chart.monthly_bars([(date(2025, 1, 1), None, False), (date(2025, 2, 1), None, True)])
    assert c.empty and not c.has_estimates and c.first_known == 2
    assert (c.bottom, c.top) == (D(0), D(1))
    assert all(bar.height == 0 for bar in c.bars)


def test_an_empty_series_and_all_zero_months():
    empty = chart.monthly_bars([])
    assert empty.bars == () and empty.x_ticks == () and empty.empty
    zeros = chart.monthly_bars([(date(2025, m, 1), D(0), False) for m in range(1, 4)])
    assert not zeros.empty and all(b.height == 0 for b in zeros.bars)
    assert [t.label for t in zeros.y_ticks] == ["0", "1"]


def test_month_use_objects_floats_and_labels_from_the_caller():
    class MonthUse:
        def __init__(self, period, quantity, estimated):
            self.period, self.quantity, self.estimated = period, quantity, estimated

    c = chart.monthly_bars(
        [MonthUse(date(2025, 1, 1), 1.5, False), MonthUse(date(2025, 2, 1), float("nan"), True)],
        label=lambda p: f"month {p.month}",
        tick_label=lambda p: f"M{p.month}",
        value_label=lambda v: f"{v:.2f}".replace(".", ","),
    )
    first, second = c.bars
    assert first.quantity == D("1.5") and first.value_label == "1,50" and first.label == "month 1"
    assert second.missing  # not a number: nothing known
    assert [t.label for t in c.x_ticks] == ["M1", "M2"]
    assert c.y_ticks[-1].label == "1,50"  # 1.5 / 4 → step 0.5


def test_plain_number():
    assert chart.plain_number(D("2.500")) == "2.5"
    assert chart.plain_number(D("1E+2")) == "100"
    assert chart.plain_number(D("0.000")) == "0"
    assert chart.plain_number(D("-0.25")) == "-0.25"
