"""Small bar and line charts rendered as SVG text on the server (pure: no Django).

No JavaScript and no CDN: the page embeds the returned markup. Each chart is an accessible
image: ``role="img"`` with a ``<title>`` and ``<desc>`` the ``aria-labelledby`` points at,
and every bar or point carries its own ``<title>`` ("label: value") that browsers show on
hover and screen readers can reach. The tables next to the charts remain the primary,
complete record; a chart is a picture of one of them.

Layout is for phones first: a bar chart puts each label on its own line above its bar, so the
drawing can be narrow (the ``viewBox`` scales it to the width of its container) and long
category names need no truncation beyond ``MAX_LABEL`` characters. Colours come from CSS
classes (``chart-bar``, ``chart-line``, ``chart-point``, ``chart-axis``, ``chart-text``) with
inline fallbacks, so a chart stays legible without the stylesheet.

Every text (labels, titles) is escaped here: the result is safe to mark as safe markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape, quoteattr

SVG_NS = "http://www.w3.org/2000/svg"
MAX_LABEL = 48

Number = int | float
Formatter = Callable[[Number], str]


def _number(value: Number) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}".replace(",", "\u202f")
    return f"{value:.1f}"


def _coord(value: float) -> str:
    """Coordinates with at most two decimals and no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def _clip(label: str) -> str:
    label = " ".join(str(label).split())
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is at least `value` (1 for nothing)."""
    if value <= 0 or not math.isfinite(value):
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return candidate
    return 10 ** (exponent + 1)  # pragma: no cover (the loop always returns)


def _open(chart_id: str, width: int, height: int, title: str, description: str) -> list[str]:
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    return [
        f'<svg xmlns="{SVG_NS}" class="chart" id={quoteattr(chart_id)} role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{title_id} {desc_id}">',
        f"<title id={quoteattr(title_id)}>{escape(title)}</title>",
        f"<desc id={quoteattr(desc_id)}>{escape(description or title)}</desc>",
    ]


def bar_chart(
    items: Sequence[tuple[str, Number]],
    *,
    title: str,
    description: str = "",
    chart_id: str = "chart",
    width: int = 360,
    bar_height: int = 14,
    empty_text: str = "—",
    value_format: Formatter = _number,
) -> str:
    """Horizontal bars, one per (label, value), in the given order; values are non-negative."""
    font, gap, value_room = 13, 10, 64
    row = font + 4 + bar_height + gap
    height = max(row * len(items), 2 * font) + 4
    parts = _open(chart_id, width, height, title, description)
    if not items:
        parts.append(
            f'<text class="chart-text" x="0" y="{font + 2}" font-size="{font}" '
            f'fill="#4a5563">{escape(empty_text)}</text>'
        )
        parts.append("</svg>")
        return "\n".join(parts)
    top = max((max(float(v), 0.0) for _, v in items), default=0.0) or 1.0
    span = width - value_room
    for index, (label, value) in enumerate(items):
        value = max(float(value), 0.0)
        y = index * row
        length = span * value / top
        shown = value_format(int(value) if value.is_integer() else value)
        parts.append(f'<g class="chart-row" transform="translate(0 {_coord(y)})">')
        parts.append(f"<title>{escape(str(label))}: {escape(shown)}</title>")
        parts.append(
            f'<text class="chart-text" x="0" y="{font}" font-size="{font}" '
            f'fill="#1b1f24">{escape(_clip(label))}</text>'
        )
        parts.append(
            f'<rect class="chart-bar bar" x="0" y="{font + 4}" width="{_coord(max(length, 1))}" '
            f'height="{bar_height}" fill="#0b5394"/>'
        )
        parts.append(
            f'<text class="chart-text chart-value" x="{_coord(length + 6)}" '
            f'y="{font + 4 + bar_height - 2}" font-size="{font - 1}" '
            f'fill="#1b1f24">{escape(shown)}</text>'
        )
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def line_chart(
    points: Sequence[tuple[str, Number]],
    *,
    title: str,
    description: str = "",
    chart_id: str = "chart",
    width: int = 360,
    height: int = 180,
    empty_text: str = "—",
    value_format: Formatter = _number,
) -> str:
    """A line through (label, value) points spaced evenly left to right, from zero up to a
    round maximum; the axis shows 0 and that maximum, and the first and last labels."""
    font = 12
    left, right, top, bottom = 44, 12, 10, 2 * font + 6
    parts = _open(chart_id, width, height, title, description)
    if not points:
        parts.append(
            f'<text class="chart-text" x="0" y="{font + 2}" font-size="{font}" '
            f'fill="#4a5563">{escape(empty_text)}</text>'
        )
        parts.append("</svg>")
        return "\n".join(parts)
    ceiling = nice_ceiling(max(max(float(v), 0.0) for _, v in points))
    plot_w, plot_h = width - left - right, height - top - bottom

    def x_of(i: int) -> float:
        return left + (plot_w * i / (len(points) - 1) if len(points) > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return top + plot_h - plot_h * max(float(v), 0.0) / ceiling

    base = top + plot_h
    parts.append(
        f'<g class="chart-axis" stroke="#c9d1da" stroke-width="1">'
        f'<line x1="{left}" y1="{_coord(base)}" x2="{width - right}" y2="{_coord(base)}"/>'
        f'<line x1="{left}" y1="{top}" x2="{width - right}" y2="{top}" stroke-dasharray="3 3"/>'
        "</g>"
    )
    for value, y in ((0, base), (ceiling, top)):
        parts.append(
            f'<text class="chart-text" x="{left - 6}" y="{_coord(y + font / 3)}" '
            f'font-size="{font}" text-anchor="end" fill="#4a5563">'
            f"{escape(value_format(int(value) if float(value).is_integer() else value))}</text>"
        )
    shown_labels = {0, len(points) - 1}
    for i in sorted(shown_labels):
        anchor = "start" if i == 0 and len(points) > 1 else "end" if i else "middle"
        parts.append(
            f'<text class="chart-text" x="{_coord(x_of(i))}" y="{_coord(base + font + 6)}" '
            f'font-size="{font}" text-anchor="{anchor}" fill="#4a5563">'
            f"{escape(_clip(points[i][0]))}</text>"
        )
    path = " ".join(f"{_coord(x_of(i))},{_coord(y_of(v))}" for i, (_, v) in enumerate(points))
    parts.append(
        f'<polyline class="chart-line" fill="none" stroke="#0b5394" stroke-width="2" '
        f'points="{path}"/>'
    )
    for i, (label, value) in enumerate(points):
        shown = value_format(value)
        parts.append(
            f'<circle class="chart-point point" cx="{_coord(x_of(i))}" cy="{_coord(y_of(value))}" '
            f'r="3" fill="#0b5394"><title>{escape(str(label))}: {escape(shown)}</title></circle>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
