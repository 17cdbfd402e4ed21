"""SLA clock for cases: due times, pauses and states, in working or calendar time.

Pure domain logic: no Django import; plain values in, plain values out. The calendar is a
:class:`civicdesk.core.calendars.BusinessCalendar`. All datetimes are timezone-aware (any
zone); the computation runs in UTC and due times come back in the timezone of ``created``.

Targets and their budget
    A :class:`Target` is an amount in one unit. Its *unpaused due time* ``d0`` comes from the
    calendar: ``working_hours`` -> ``add_working_time(created, amount h)``; ``working_days`` ->
    ``add_working_days(created, amount)`` (the calendar's rule: same wall-clock time on the
    n-th working day, clamped into that day's opening hours; after hours -> close of business);
    ``calendar_days`` -> ``add_calendar_days(created, amount)`` (same wall-clock time in the
    operator's zone). The *budget* is the time allowed, measured in the unit's own clock:
    working time between ``created`` and ``d0`` for the two working units, elapsed (absolute)
    time for calendar days.

Pauses ("waiting for customer")
    A pause is ``(start, end)`` with ``end=None`` while it is still open. Pausing stops the clock
    and resuming continues it: the clock measures the unit's time minus the paused part of it.
    So a pause shifts the due time by the *paused working time* for ``working_hours`` and
    ``working_days`` alike (a pause over a weekend or a night shifts nothing; a pause of one
    whole working day shifts a working-days due time by exactly one day's opening hours), and
    by the *paused wall time* for ``calendar_days``. Precisely, in order of their starts, a
    pause counts when it starts at or before the due time as shifted by the pauses before it,
    and then its whole length (in the unit's clock) shifts the due time:
    ``due = add_working_time(d0, paused)`` or ``d0 + paused``. A pause that starts after the
    due time counts not at all: pausing a case that has already breached does not un-breach it.
    Pauses are clipped to ``created``, sorted and merged where they overlap; an open pause
    absorbs everything after its start.

    While an open pause that started at or before the due time lasts, the due time is unknown:
    it depends on when the clock resumes, so :meth:`SlaClock.due` returns ``None`` and the
    state is frozen at what it was when the pause began (never ``breached``). To show the last
    known due time, pass the closed pauses only.

States
    ``breached`` when ``now`` is after the due time (a response exactly at the due time is on
    time). Otherwise ``at_risk`` when the elapsed share of the budget, measured in the unit's own
    clock (working time for the working units) and excluding paused time, is at least
    ``at_risk_fraction``; otherwise ``ok``. With no open pause the state never moves backwards as
    ``now`` advances: ok -> at_risk -> breached. Note a working-days case may be ``at_risk`` with
    nothing left to spend yet not ``breached``: received after Saturday's close, due at Monday's
    opening, it uses up its budget at Saturday's close but breaches only on Monday.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from civicdesk.core.calendars import BusinessCalendar

__all__ = [
    "OUTAGE_REPORT_RESOLUTION",
    "Pause",
    "SlaClock",
    "SlaPolicy",
    "SlaStatus",
    "State",
    "Target",
    "Unit",
]

Unit = Literal["working_hours", "working_days", "calendar_days"]
State = Literal["ok", "at_risk", "breached"]
Pause = tuple[datetime, datetime | None]

UNITS: tuple[str, ...] = get_args(Unit)
_ZERO = timedelta(0)


@dataclass(frozen=True)
class Target:
    """An SLA target: ``amount`` (a positive int) of ``unit``."""

    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        if type(self.amount) is not int or self.amount < 1:
            raise ValueError(f"amount must be a positive whole number, got {self.amount!r}")
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {self.unit!r}")


OUTAGE_REPORT_RESOLUTION = Target(8, "working_days")
"""Outage reports are answered within 8 working days (Stavropol grid outage portal)."""


@dataclass(frozen=True)
class SlaPolicy:
    """The targets of a kind of case; ``None`` means no such target."""

    first_response: Target | None
    resolution: Target | None
    at_risk_fraction: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.at_risk_fraction <= 1:
            raise ValueError(f"at_risk_fraction must be in (0, 1], got {self.at_risk_fraction!r}")


@dataclass(frozen=True)
class SlaStatus:
    """Everything about one target at one instant.

    ``allowed`` is the budget, ``elapsed`` the clock's reading at ``now`` (pauses excluded),
    ``remaining = allowed - elapsed`` (negative when overdue), all in the unit's own clock.
    ``due`` is ``None`` while the clock is stopped by an open pause.
    """

    state: State
    due: datetime | None
    allowed: timedelta
    elapsed: timedelta
    remaining: timedelta
    paused: bool


@dataclass(frozen=True)
class SlaClock:
    """The SLA clock of a policy on a calendar. See the module docstring for the rules."""

    policy: SlaPolicy
    calendar: BusinessCalendar

    # ------------------------------------------------------------------------------- due times

    def due(
        self, target: Target, created: datetime, pauses: Iterable[Pause] = ()
    ) -> datetime | None:
        """The due time of ``target`` for a case created at ``created``, shifted by ``pauses``.

        ``None`` when an open pause stopped the clock before the due time was reached.
        """
        utc = _utc(created)
        d0, _ = self._unpaused(target, utc, budget=False)
        return _like(self._due(target, _normalise(utc, pauses), d0), created)

    def first_response_due(
        self, created: datetime, pauses: Iterable[Pause] = ()
    ) -> datetime | None:
        target = self.policy.first_response
        return None if target is None else self.due(target, created, pauses)

    def resolution_due(self, created: datetime, pauses: Iterable[Pause] = ()) -> datetime | None:
        target = self.policy.resolution
        return None if target is None else self.due(target, created, pauses)

    # ---------------------------------------------------------------------------------- states

    def evaluate(
        self, now: datetime, target: Target, created: datetime, pauses: Iterable[Pause] = ()
    ) -> SlaStatus:
        """Due time, state, budget, elapsed and remaining time of ``target`` at ``now``."""
        utc, now = _utc(created), _utc(now)
        spans = _normalise(utc, pauses)
        d0, budget = self._unpaused(target, utc)
        due = self._due(target, spans, d0)
        elapsed = self._elapsed(target, now, utc, spans)
        paused = any(start <= now and (end is None or now < end) for start, end in spans)
        return SlaStatus(
            state=self._state(now, due, elapsed, budget),
            due=_like(due, created),
            allowed=budget,
            elapsed=elapsed,
            remaining=budget - elapsed,
            paused=paused,
        )

    def state(
        self,
        now: datetime,
        due: datetime | None,
        target: Target,
        created: datetime,
        pauses: Iterable[Pause] = (),
    ) -> State:
        """The state at ``now``; ``due`` is what :meth:`due` returned for the same arguments.

        (Passing it saves recomputing it on hot paths that already stored it.)
        """
        created, now = _utc(created), _utc(now)
        _, budget = self._unpaused(target, created)
        elapsed = self._elapsed(target, now, created, _normalise(created, pauses))
        return self._state(now, None if due is None else _utc(due), elapsed, budget)

    def remaining(
        self, now: datetime, target: Target, created: datetime, pauses: Iterable[Pause] = ()
    ) -> timedelta:
        """Budget left at ``now`` in the unit's clock (working time for working units)."""
        created, now = _utc(created), _utc(now)
        _, budget = self._unpaused(target, created)
        return budget - self._elapsed(target, now, created, _normalise(created, pauses))

    # ------------------------------------------------------------------------------- internals

    def _state(
        self, now: datetime, due: datetime | None, elapsed: timedelta, budget: timedelta
    ) -> State:
        if due is not None and now > due:
            return "breached"
        if elapsed / budget >= self.policy.at_risk_fraction:
            return "at_risk"
        return "ok"

    def _unpaused(
        self, target: Target, created: datetime, *, budget: bool = True
    ) -> tuple[datetime, timedelta]:
        """The due time without pauses and (unless not asked) the budget it grants."""
        calendar = self.calendar
        if target.unit == "working_hours":
            hours = timedelta(hours=target.amount)
            return calendar.add_working_time(created, hours), hours
        if target.unit == "working_days":
            d0 = calendar.add_working_days(created, target.amount)
            return d0, calendar.working_time_between(created, d0) if budget else _ZERO
        d0 = calendar.add_calendar_days(created, target.amount)
        return d0, d0 - created

    def _measure(self, target: Target, a: datetime, b: datetime) -> timedelta:
        """Clock time in ``[a, b)``: working time, or elapsed time for calendar days (UTC)."""
        if target.unit == "calendar_days":
            return b - a
        return self.calendar.working_time_between(a, b)

    def _due(self, target: Target, spans: list[Pause], d0: datetime) -> datetime | None:
        due = d0
        paused = _ZERO
        for start, end in spans:
            if start > due:
                break  # paused after the due time: too late to stop the clock
            if end is None:
                return None
            length = self._measure(target, start, end)
            if length:
                paused += length
                due = (
                    d0 + paused
                    if target.unit == "calendar_days"
                    else self.calendar.add_working_time(d0, paused)
                )
        return due

    def _elapsed(
        self, target: Target, now: datetime, created: datetime, spans: list[Pause]
    ) -> timedelta:
        if now <= created:
            return _ZERO
        elapsed = self._measure(target, created, now)
        for start, end in spans:
            if start >= now:
                break
            stop = now if end is None or end > now else end
            elapsed -= self._measure(target, start, stop)
        return elapsed


def _utc(dt: datetime) -> datetime:
    """``dt`` in UTC. All arithmetic and comparisons here happen in UTC: Python compares and
    subtracts two datetimes of the *same* zone by wall clock, which is wrong across DST."""
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {dt!r}")
    if dt.tzinfo is UTC:
        return dt
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: pass a timezone-aware datetime")
    return dt.astimezone(UTC)


def _like(dt: datetime | None, like: datetime) -> datetime | None:
    """``dt`` in the timezone of ``like`` (what the caller passed in)."""
    return None if dt is None else dt.astimezone(like.tzinfo)


def _normalise(created: datetime, pauses: Iterable[Pause]) -> list[Pause]:
    """Pauses (in UTC) clipped to ``created``, sorted, merged; an open one swallows later ones."""
    spans: list[tuple[datetime, datetime | None]] = []
    for pause in pauses:
        start, end = pause
        start = _utc(start)
        end = None if end is None else _utc(end)
        if end is not None and end < start:
            raise ValueError(f"pause {start.isoformat()}..{end.isoformat()} ends before it starts")
        if end is not None and end <= created:
            continue
        spans.append((max(start, created), end))
    spans.sort(key=lambda span: span[0])
    merged: list[Pause] = []
    for start, end in spans:
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break
            if start <= last_end:
                if end is None or end > last_end:
                    merged[-1] = (last_start, end)
                continue
        merged.append((start, end))
    return merged
