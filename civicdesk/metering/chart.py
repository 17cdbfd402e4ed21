"""Monthly consumption as bar geometry for a server-rendered SVG chart (pure: no Django).

`monthly_bars(series)` takes a monthly series — items with a period (a date), a quantity (a
number, or None where nothing is known) and an estimated flag — and lays it out in a fixed
``viewBox`` (`WIDTH` × `HEIGHT`): one bar per month, left (oldest) to right, a zero line, y-axis
ticks on a round step (1, 2, 2.5 or 5 × 10ⁿ) and a few month labels under the bars that do not
collide. A template (``portal/meters/_chart.html``) draws it; this module decides only where
things go, so it can be tested without a browser.

- Heights are proportional to the quantity: ``height == |quantity| × plot_height / span``.
- A negative month (a true-up after estimates that were too high) hangs below the zero line.
- A month with no quantity has no bar (``missing``), but keeps its slot and its label.
- Estimated months keep their flag; the template hatches them and adds a legend.
- Every coordinate stays inside the viewBox, and no size is negative, whatever the series.

Labels are produced by callables the caller passes (the portal passes Django's localised month
names and number formats); the defaults are plain ISO-like text.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

WIDTH = 360
HEIGHT = 200
FONT = 11  # font size of tick labels, in viewBox units
CHAR = 6.2  # a generous average glyph width at FONT, for laying out labels
TOP = 8  # room above the plot for the top tick's label
BOTTOM = FONT + 10  # room below the plot for the month labels
RIGHT = 4
MIN_LEFT, MAX_LEFT = 24, 110
BAR_FILL = 0.72  # the share of a month's slot its bar fills
TARGET_INTERVALS = 4  # about this many steps between the lowest and the highest tick
MANTISSAS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
MIN_STEP = Decimal("0.001")  # quantities are recorded in thousandths
MONTH_STRIDES = (1, 2, 3, 4, 6, 12, 24, 36, 60, 120)

Label = Callable[[date], str]
NumberLabel = Callable[[Decimal], str]


@dataclass(frozen=True)
class Bar:
    """One month's bar. ``height`` is 0 (and ``missing`` True) when nothing is known."""

    index: int
    period: date
    quantity: Decimal | None
    estimated: bool
    x: float
    y: float
    width: float
    height: float
    label: str  # the month, in full (for the bar's <title> and the table)
    value_label: str  # the quantity as text ("" when missing)

    @property
    def missing(self) -> bool:
        return self.quantity is None

    @property
    def negative(self) -> bool:
        return self.quantity is not None and self.quantity < 0

    @property
    def cx(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class YTick:
    value: Decimal
    y: float
    label: str

    @property
    def text_y(self) -> float:
        """The label's baseline: its glyphs centred on the tick's line."""
        return self.y + FONT * 0.35


@dataclass(frozen=True)
class XTick:
    x: float
    label: str
    anchor: str  # SVG text-anchor: start, middle or end


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: float
    plot_top: float
    plot_width: float
    plot_height: float
    zero_y: float  # where the zero line runs
    step: Decimal
    bottom: Decimal  # the lowest tick's value (0 unless some month is negative)
    top: Decimal  # the highest tick's value
    bars: tuple[Bar, ...]
    y_ticks: tuple[YTick, ...]
    x_ticks: tuple[XTick, ...]
    font_size: int = FONT

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def empty(self) -> bool:
        """No month has a quantity: nothing to draw."""
        return all(bar.missing for bar in self.bars)

    @property
    def first_known(self) -> int:
        """The index of the first month with a quantity (the number of bars when none has):
        a table can leave out the months before the history begins."""
        return next((bar.index for bar in self.bars if not bar.missing), len(self.bars))

    @property
    def has_estimates(self) -> bool:
        return any(bar.estimated and not bar.missing for bar in self.bars)

    @property
    def has_negative(self) -> bool:
        return any(bar.negative for bar in self.bars)

    @property
    def plot_right(self) -> float:
        return self.plot_left + self.plot_width

    @property
    def plot_bottom(self) -> float:
        return self.plot_top + self.plot_height

    @property
    def tick_label_x(self) -> float:
        return self.plot_left - 4

    @property
    def month_label_y(self) -> float:
        """The month labels' baseline, under the plot."""
        return self.plot_bottom + FONT + 4


# --- numbers ------------------------------------------------------------------------------


def plain_number(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros: 2.50 → "2.5", 1E+2 → "100"."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def _month_label(period: date) -> str:
    return f"{period:%Y-%m}"


def _month_tick(period: date) -> str:
    return f"{period:%m/%y}"


def _decimal(quantity) -> Decimal | None:
    if quantity is None:
        return None
    if isinstance(quantity, Decimal):
        value = quantity
    else:
        try:
            value = Decimal(str(quantity))
        except (InvalidOperation, ValueError):
            return None
    return value if value.is_finite() else None


def _item(item) -> tuple[date, Decimal | None, bool]:
    """(period, quantity, estimated) from a MonthUse-like object or a 2- or 3-tuple."""
    if hasattr(item, "period"):
        return item.period, _decimal(item.quantity), bool(getattr(item, "estimated", False))
    period, quantity, *rest = item
    return period, _decimal(quantity), bool(rest[0]) if rest else False


def nice_step(raw: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ that is at least ``raw`` (and at least MIN_STEP)."""
    if raw <= MIN_STEP:
        return MIN_STEP
    magnitude = Decimal(1).scaleb(raw.adjusted())
    for mantissa in MANTISSAS:
        candidate = mantissa * magnitude
        if candidate >= raw:
            return candidate
    return MANTISSAS[-1] * magnitude  # pragma: no cover (10 × 10ⁿ > raw always)


def scale(values: Iterable[Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    """(bottom, top, step) of the y-axis: zero is always on it, the ends are multiples of a
    round step, and every value lies between them."""
    values = list(values)
    high = max([Decimal(0), *values])
    low = min([Decimal(0), *values])
    if high == low:
        return Decimal(0), Decimal(1), Decimal(1)
    step = nice_step((high - low) / TARGET_INTERVALS)
    top = (high / step).to_integral_value(ROUND_CEILING) * step
    bottom = (low / step).to_integral_value(ROUND_FLOOR) * step
    return bottom, top, step


# --- layout -------------------------------------------------------------------------------


def _text_width(text: str) -> float:
    return len(text) * CHAR


def _place(center: float, name: str, width: int) -> XTick:
    half = _text_width(name) / 2
    if center + half > width:
        return XTick(float(width), name, "end")
    if center - half < 0:
        return XTick(0.0, name, "start")
    return XTick(center, name, "middle")


def tick_extent(tick: XTick) -> tuple[float, float]:
    """The horizontal span a month label takes (estimated from its length)."""
    size = _text_width(tick.label)
    if tick.anchor == "end":
        return tick.x - size, tick.x
    if tick.anchor == "start":
        return tick.x, tick.x + size
    return tick.x - size / 2, tick.x + size / 2


def _x_ticks(bars: Sequence[Bar], names: Sequence[str], width: int) -> tuple[XTick, ...]:
    """Month labels under every k-th bar, counted back from the latest month so the newest is
    always named; a label near an edge is anchored to stay inside the viewBox, and k (1, 2, 3,
    4, 6, 12, … months) grows until no two labels touch."""
    if not bars:
        return ()
    last = len(bars) - 1
    strides = [s for s in MONTH_STRIDES if s <= last] + [max(last, 1)]
    ticks: tuple[XTick, ...] = ()
    for stride in strides:
        ticks = tuple(
            _place(bar.cx, name, width)
            for bar, name in zip(bars, names, strict=True)
            if (last - bar.index) % stride == 0
        )
        extents = [tick_extent(tick) for tick in ticks]
        if all(a[1] + 4 <= b[0] for a, b in itertools.pairwise(extents)):
            return ticks
    return ticks[-1:]  # even two labels do not fit: name the latest month only


def monthly_bars(
    series: Iterable,
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    label: Label = _month_label,
    tick_label: Label = _month_tick,
    value_label: NumberLabel = plain_number,
) -> Chart:
    """Lay out a monthly series (oldest first) as bars in a ``width`` × ``height`` viewBox."""
    items = [_item(item) for item in series]
    known = [quantity for _, quantity, _ in items if quantity is not None]
    bottom, top, step = scale(known)
    span = top - bottom
    y_ticks_values = [bottom + step * k for k in range(int((span / step).to_integral_value()) + 1)]
    tick_texts = [value_label(value) for value in y_ticks_values]
    left = min(MAX_LEFT, max(MIN_LEFT, max(_text_width(t) for t in tick_texts) + 8))
    plot_top = float(TOP)
    plot_width = float(width - left - RIGHT)
    plot_height = float(height - TOP - BOTTOM)

    def y_of(value: Decimal) -> float:
        y = plot_top + float((top - value) / span) * plot_height
        return min(max(y, plot_top), plot_top + plot_height)

    zero_y = y_of(Decimal(0))
    slot = plot_width / len(items) if items else plot_width
    bar_width = slot * BAR_FILL
    bars = []
    tick_names = []
    for index, (period, quantity, estimated) in enumerate(items):
        x = left + slot * index + (slot - bar_width) / 2
        if quantity is None:
            y, bar_height = zero_y, 0.0
        else:
            bar_height = float(abs(quantity) / span) * plot_height
            if quantity >= 0:
                bar_height = min(bar_height, zero_y - plot_top)
                y = zero_y - bar_height
            else:
                bar_height = min(bar_height, plot_top + plot_height - zero_y)
                y = zero_y
        bars.append(
            Bar(
                index=index,
                period=period,
                quantity=quantity,
                estimated=estimated,
                x=x,
                y=y,
                width=bar_width,
                height=bar_height,
                label=label(period),
                value_label="" if quantity is None else value_label(quantity),
            )
        )
        tick_names.append(tick_label(period))
    bars_tuple = tuple(bars)
    return Chart(
        width=width,
        height=height,
        plot_left=float(left),
        plot_top=plot_top,
        plot_width=plot_width,
        plot_height=plot_height,
        zero_y=zero_y,
        step=step,
        bottom=bottom,
        top=top,
        bars=bars_tuple,
        y_ticks=tuple(
            YTick(value, y_of(value), text)
            for value, text in zip(y_ticks_values, tick_texts, strict=True)
        ),
        x_ticks=_x_ticks(bars_tuple, tick_names, width),
    )
