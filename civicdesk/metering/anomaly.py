"""Leak and anomaly signals: plain values in, a finding (or None) out. No Django import.

Two signals:

- **High use**: a month's use above ``factor`` × the household's own median monthly use, once
  at least ``min_months`` months of history exist. The median, not the mean, so one earlier
  leak or a holiday month does not move the baseline much. A reading that covers several
  months is compared per month.
- **Continuous night flow** (interval data only): water ran in every hour of a run of
  ``hours`` consecutive hours between 00:00 and 05:00 local time. Taps are closed at night in a
  sleeping home; a meter that never stands still is the classic sign of a running toilet or a
  burst pipe.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

ZERO = Decimal("0")
MIN_HISTORY_MONTHS = 3
NIGHT_START_HOUR = 0
NIGHT_END_HOUR = 5  # exclusive: the hours 00, 01, 02, 03 and 04


def median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of nothing")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class HighUse:
    use: Decimal  # per month
    baseline: Decimal  # the median month


def high_use(
    *,
    use: Decimal,
    history: Sequence[Decimal],
    factor: Decimal,
    months: int = 1,
    min_months: int = MIN_HISTORY_MONTHS,
) -> HighUse | None:
    """A finding when ``use`` (over ``months`` months) is above ``factor`` × the median of
    ``history`` (monthly use, any order); None otherwise or with too little history."""
    if len(history) < max(1, min_months):
        return None
    baseline = median(history)
    per_month = use / max(1, months)
    if baseline <= ZERO or per_month <= factor * baseline:
        return None
    return HighUse(use=per_month, baseline=baseline)


@dataclass(frozen=True)
class NightFlow:
    night: date  # the local date the night's hours belong to
    hours: int  # the longest run of hours with flow
    quantity: Decimal  # what flowed during that run
    lowest: Decimal  # the smallest hourly flow in it: what never stopped running


def hourly_flows(
    readings: Iterable[tuple[datetime, Decimal]], *, dial: Decimal | None = None
) -> dict[datetime, Decimal]:
    """Flow per clock hour from cumulative interval readings ``(local time, value)``: the
    advance between consecutive readings counts for the hour the interval starts in. An
    interval longer than an hour cannot be split into hours and is left out; a value lower
    than the one before counts as a roll-over when ``dial`` is given, else it is left out."""
    flows: dict[datetime, Decimal] = {}
    previous = None
    for moment, value in sorted(readings, key=lambda item: item[0]):
        if previous is not None:
            start, last = previous
            step = value - last
            if step < 0 and dial is not None:
                step += dial
            span = moment - start
            if step >= 0 and timedelta(0) < span <= timedelta(hours=1):
                hour = start.replace(minute=0, second=0, microsecond=0)
                flows[hour] = flows.get(hour, ZERO) + step
        previous = (moment, value)
    return flows


def night_flow(
    readings: Iterable[tuple[datetime, Decimal]],
    *,
    hours: int,
    dial: Decimal | None = None,
) -> list[NightFlow]:
    """Nights on which water flowed in every hour of a run of at least ``hours`` consecutive
    night hours, one finding per night (its longest run), oldest first. ``readings`` are
    cumulative values at local times (naive or aware, all alike)."""
    flows = hourly_flows(readings, dial=dial)
    nights: dict[date, list[datetime]] = {}
    for hour in flows:
        if NIGHT_START_HOUR <= hour.hour < NIGHT_END_HOUR:
            nights.setdefault(hour.date(), []).append(hour)
    found = []
    for night in sorted(nights):
        best: tuple[int, Decimal, Decimal] | None = None
        run: list[Decimal] = []
        for h in range(NIGHT_START_HOUR, NIGHT_END_HOUR):
            hour = next((x for x in nights[night] if x.hour == h), None)
            flow = flows.get(hour) if hour is not None else None
            if flow is not None and flow > ZERO:
                run.append(flow)
                if best is None or len(run) > best[0]:
                    best = (len(run), sum(run, ZERO), min(run))
            else:
                run = []
        if best is not None and best[0] >= hours:
            found.append(NightFlow(night=night, hours=best[0], quantity=best[1], lowest=best[2]))
    return found
