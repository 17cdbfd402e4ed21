"""Charges and payments per month as grouped bars for a server-rendered SVG chart (pure: no
Django).

:func:`monthly_flows` sums a statement's movements into calendar months (every month of the
range, empty ones included): what was charged (positive movements) and what was paid or
credited (negative movements, shown as positive heights). :func:`flow_bars` lays the months
out in a fixed ``viewBox`` the way :mod:`civicdesk.metering.chart` lays out consumption, and
shares its scale (round steps of 1, 2, 2.5 or 5 × 10ⁿ), its sizes and its label rules:

- each month has a slot; in it, the charged bar (left) and the paid bar (right) side by side;
- heights are proportional: ``height == value × plot_height / top``; zero has no height;
- month labels sit under every k-th slot, counted back from the newest month so the newest
  is always named, with k growing until no two labels touch;
- every coordinate stays inside the viewBox, and no size is negative, whatever the series.

The template ``portal/bills/_flows_chart.html`` draws it. Labels come from callables (the
portal passes Django's localised month names and money formats).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from civicdesk.metering.chart import (
    BOTTOM,
    CHAR,
    FONT,
    HEIGHT,
    MAX_LEFT,
    MIN_LEFT,
    MONTH_STRIDES,
    RIGHT,
    TOP,
    WIDTH,
    XTick,
    YTick,
    plain_number,
    scale,
    tick_extent,
)

GROUP_FILL = 0.8  # the share of a month's slot its two bars fill together
CHARGED, CREDITED = "charged", "credited"

Label = Callable[[date], str]
NumberLabel = Callable[[Decimal], str]


@dataclass(frozen=True)
class MonthFlow:
    """One month: what was charged and what was paid or credited (both zero or more)."""

    period: date  # the first day of the month
    charged: Decimal
    credited: Decimal


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_of(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def monthly_flows(
    movements: Iterable[tuple[date, Decimal]], first: date, last: date
) -> list[MonthFlow]:
    """Every month from ``first``'s to ``last``'s (oldest first) with the sums of the
    movements dated in it: positive amounts are charged, negative ones paid or credited.
    Movements dated outside those months are left out. ``charged − credited`` summed over
    the months equals the sum of the movements in them."""
    start, end = _month_index(first), _month_index(last)
    if end < start:
        raise ValueError("last is before first")
    charged = [Decimal(0)] * (end - start + 1)
    credited = [Decimal(0)] * (end - start + 1)
    for day, amount in movements:
        index = _month_index(day) - start
        if not 0 <= index <= end - start:
            continue
        if amount > 0:
            charged[index] += amount
        else:
            credited[index] -= amount
    return [
        MonthFlow(_month_of(start + n), charged[n], credited[n]) for n in range(end - start + 1)
    ]


@dataclass(frozen=True)
class FlowBar:
    index: int  # the month's position, 0 = oldest
    period: date
    kind: str  # CHARGED or CREDITED
    value: Decimal
    x: float
    y: float
    width: float
    height: float
    label: str  # the month in full, for the bar's <title>
    value_label: str


@dataclass(frozen=True)
class FlowChart:
    width: int
    height: int
    plot_left: float
    plot_top: float
    plot_width: float
    plot_height: float
    step: Decimal
    top: Decimal  # the highest tick's value (the lowest is 0)
    months: tuple[MonthFlow, ...]
    bars: tuple[FlowBar, ...]
    y_ticks: tuple[YTick, ...]
    x_ticks: tuple[XTick, ...]
    font_size: int = FONT

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def empty(self) -> bool:
        """Nothing was charged or paid in any month: nothing to draw."""
        return all(bar.value == 0 for bar in self.bars)

    @property
    def plot_right(self) -> float:
        return self.plot_left + self.plot_width

    @property
    def zero_y(self) -> float:
        return self.plot_top + self.plot_height

    @property
    def tick_label_x(self) -> float:
        return self.plot_left - 4

    @property
    def month_label_y(self) -> float:
        return self.zero_y + FONT + 4


def _place(center: float, name: str, width: int) -> XTick:
    half = len(name) * CHAR / 2
    if center + half > width:
        return XTick(float(width), name, "end")
    if center - half < 0:
        return XTick(0.0, name, "start")
    return XTick(center, name, "middle")


def _x_ticks(centers: Sequence[float], names: Sequence[str], width: int) -> tuple[XTick, ...]:
    if not centers:
        return ()
    last = len(centers) - 1
    ticks: tuple[XTick, ...] = ()
    for stride in [s for s in MONTH_STRIDES if s <= last] + [max(last, 1)]:
        ticks = tuple(
            _place(center, name, width)
            for index, (center, name) in enumerate(zip(centers, names, strict=True))
            if (last - index) % stride == 0
        )
        extents = [tick_extent(tick) for tick in ticks]
        if all(a[1] + 4 <= b[0] for a, b in itertools.pairwise(extents)):
            return ticks
    return ticks[-1:]  # not even two labels fit: name the newest month only


def _month_label(period: date) -> str:
    return f"{period:%Y-%m}"


def _month_tick(period: date) -> str:
    return f"{period:%m/%y}"


def flow_bars(
    months: Sequence[MonthFlow],
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    label: Label = _month_label,
    tick_label: Label = _month_tick,
    value_label: NumberLabel = plain_number,
) -> FlowChart:
    """Lay out months (oldest first) as pairs of bars in a ``width`` × ``height`` viewBox."""
    for month in months:
        if month.charged < 0 or month.credited < 0:
            raise ValueError("charged and credited amounts are never negative")
    _bottom, top, step = scale([v for m in months for v in (m.charged, m.credited)])
    ticks = [step * k for k in range(int((top / step).to_integral_value()) + 1)]
    tick_texts = [value_label(value) for value in ticks]
    left = min(MAX_LEFT, max(MIN_LEFT, max(len(t) * CHAR for t in tick_texts) + 8))
    plot_top = float(TOP)
    plot_width = float(width - left - RIGHT)
    plot_height = float(height - TOP - BOTTOM)
    zero_y = plot_top + plot_height

    def y_of(value: Decimal) -> float:
        return plot_top + float((top - value) / top) * plot_height

    slot = plot_width / len(months) if months else plot_width
    group = slot * GROUP_FILL
    bar_width = group / 2
    bars, centers, names = [], [], []
    for index, month in enumerate(months):
        x = left + slot * index + (slot - group) / 2
        for offset, (kind, value) in enumerate(
            ((CHARGED, month.charged), (CREDITED, month.credited))
        ):
            bar_height = min(float(value / top) * plot_height, plot_height)
            bars.append(
                FlowBar(
                    index=index,
                    period=month.period,
                    kind=kind,
                    value=value,
                    x=x + offset * bar_width,
                    y=zero_y - bar_height,
                    width=bar_width,
                    height=bar_height,
                    label=label(month.period),
                    value_label=value_label(value),
                )
            )
        centers.append(x + bar_width)
        names.append(tick_label(month.period))
    return FlowChart(
        width=width,
        height=height,
        plot_left=float(left),
        plot_top=plot_top,
        plot_width=plot_width,
        plot_height=plot_height,
        step=step,
        top=top,
        months=tuple(months),
        bars=tuple(bars),
        y_ticks=tuple(
            YTick(value, y_of(value), text) for value, text in zip(ticks, tick_texts, strict=True)
        ),
        x_ticks=_x_ticks(centers, names, width),
    )
