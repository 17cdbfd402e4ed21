"""Business calendars: opening hours, public holidays and closures, counted in working time.

Pure domain logic: no Django import. Everything takes and returns plain values.

A :class:`BusinessCalendar` says when an operator (or one of its channels: a service centre, a
call centre, a virtual-session desk) is open: a weekly schedule of wall-clock windows in the
operator's timezone, minus public holidays and the operator's own closures, with optional
per-date overrides. On top of it the module answers the questions SLAs and schedules ask:
is this instant working time, when does work next start, what is N working hours / working days /
calendar days after an instant, and how much working time lies between two instants.

Rules (the precise ones; the tests pin each of them):

Windows
    A window is a half-open wall-clock interval ``[start, end)`` of naive ``datetime.time``
    values. A day may have several windows (a lunch break is the gap between two). Windows of a
    day must be given in order, must not overlap (touching is allowed) and must end after they
    start. A window never crosses midnight: a night shift is two windows, ``22:00-24:00`` on one
    day and ``00:00-06:00`` on the next, which then form one continuous stretch of working time.

24:00
    An *end* of ``time(0, 0)`` (exported as :data:`END_OF_DAY`) means 24:00, the midnight that
    ends the day. This is unambiguous, because a window cannot end at the midnight that starts
    its own day. ``time.max`` is *not* 24:00 (it is 23:59:59.999999, and is taken literally).
    :func:`parse_windows` accepts the text ``"24:00"`` and turns it into ``END_OF_DAY``.

Time zones and DST
    All datetimes in and out are timezone-aware (UTC or any zone; a naive datetime is a
    ``ValueError``). Results come back in the tzinfo of the argument they were computed from
    (UTC in, UTC out). Mind Python's rule when using them: two datetimes that share a tzinfo
    are subtracted and compared by *wall clock* (``timedelta`` arithmetic too), which is wrong
    across a DST change; convert to UTC first. Computation happens in the calendar's zone
    (``zoneinfo``): each window of a local date is turned into a pair of absolute instants, so a
    window spanning a DST change is as long as the real time that passed (``02:00-05:00`` is
    2 h on the spring-forward day and 4 h on the fall-back day in Europe/Kyiv). A wall time
    that is:

    * *ambiguous* (in the repeated hour of a fall-back day) means its **first** occurrence
      (``fold=0``), except in :meth:`~BusinessCalendar.add_calendar_days` and the "same
      wall-clock time" of :meth:`~BusinessCalendar.add_working_days`, which keep the fold of the
      start instant;
    * *nonexistent* (skipped by a spring-forward jump) means **the instant of the jump** (the
      first wall time that exists after it: 03:30 on 29 March 2026 in Kyiv reads as 04:00 EEST).
      This keeps the wall-time to instant mapping monotonic, so windows never overlap after
      conversion; a window entirely inside the skipped hour is empty that day.

Working day
    A local date with a non-zero amount of working time: it has at least one window (from the
    weekly schedule or an override), it is not a holiday (unless overridden) and not inside a
    closure. Precedence per date: closure > override > holiday > weekly schedule.

Everything is computed on exact integer microseconds, so ``working_time_between`` is exactly
additive and ``add_working_time`` is its exact inverse. Performance: the calendar lazily builds,
per local year, the sorted list of its working intervals with prefix sums of working time and
the list of its working days; every query is then a bisection (``O(log n)``) plus a walk over
whole years for targets longer than a year. No minute-by-minute or day-by-day loops.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

__all__ = [
    "DEFAULT_HOLIDAY_YEARS",
    "END_OF_DAY",
    "BusinessCalendar",
    "NoWorkingTimeError",
    "Window",
    "Windows",
    "calendar_for",
    "parse_weekly",
    "parse_windows",
]

Window = tuple[time, time]
Windows = tuple[Window, ...]

END_OF_DAY = time(0)
"""As the end of a window, ``time(0)`` means 24:00 (the midnight that ends the day)."""

DEFAULT_HOLIDAY_YEARS = range(2000, 2051)
"""Years whose public holidays :func:`calendar_for` loads unless told otherwise."""

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_SHIFTING = object()  # a day whose UTC offset changes (a DST or zone change)
_US = timedelta(microseconds=1)
_DAY = timedelta(days=1)
_DAY_US = 86_400_000_000
_MAX_IDLE_YEARS = 10


class NoWorkingTimeError(ValueError):
    """The calendar has no working time in the direction searched (e.g. an endless closure)."""


class _Year:
    """One local year of a calendar, precomputed: working intervals and working days.

    ``starts[i]``/``ends[i]`` are the i-th non-empty working interval (UTC microseconds since the
    epoch), ``cum[i]`` the working time before interval i within the year (``cum[-1]`` is the
    year's total). ``day_*[k]`` describe the k-th working day: its date ordinal, the first
    instant of its first window, the last instant of its last window, and the slice of intervals
    it owns. ``base``/``end`` are local midnight of 1 January of this year and of the next.
    """

    __slots__ = (
        "base",
        "cum",
        "day_close",
        "day_first",
        "day_open",
        "day_ord",
        "day_stop",
        "end",
        "ends",
        "starts",
        "total",
        "year",
    )

    def __init__(self, year: int, base: int, end: int) -> None:
        self.year = year
        self.base = base
        self.end = end
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.cum: list[int] = [0]
        self.total = 0
        self.day_ord: list[int] = []
        self.day_open: list[int] = []
        self.day_close: list[int] = []
        self.day_first: list[int] = []
        self.day_stop: list[int] = []

    def worked_before(self, t: int) -> int:
        """Working time in this year before instant ``t`` (``base <= t <= end``)."""
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0
        end = self.ends[i]
        return self.cum[i] + (t if t < end else end) - self.starts[i]

    def instant_after(self, worked: int) -> int:
        """The earliest instant with ``worked`` working time before it (``0 < worked <= total``).

        Earliest means a window's end rather than the next window's start.
        """
        i = bisect_left(self.cum, worked) - 1
        return self.starts[i] + worked - self.cum[i]


def _time_of_day_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _check_windows(windows: Iterable[Sequence[time]], where: str) -> Windows:
    """Validate one day's windows and return them as a tuple of ``(start, end)`` pairs."""
    if isinstance(windows, str):
        raise TypeError(f"{where}: windows must be (start, end) time pairs; use parse_windows()")
    result: list[Window] = []
    previous_end = 0
    for window in windows:
        if len(window) != 2:
            raise ValueError(f"{where}: a window is a (start, end) pair, got {window!r}")
        start, end = window
        for value in (start, end):
            if not isinstance(value, time):
                raise TypeError(f"{where}: window bounds must be datetime.time, got {value!r}")
            if value.tzinfo is not None:
                raise ValueError(f"{where}: window times are wall-clock times, without tzinfo")
        start, end = start.replace(fold=0), end.replace(fold=0)
        start_us = _time_of_day_us(start)
        end_us = _DAY_US if end == END_OF_DAY else _time_of_day_us(end)
        if end_us <= start_us:
            raise ValueError(f"{where}: window {start:%H:%M}-{end:%H:%M} must end after it starts")
        if start_us < previous_end:
            raise ValueError(
                f"{where}: window {start:%H:%M}-{end:%H:%M} overlaps or precedes the one before;"
                " give windows in order, without overlaps"
            )
        previous_end = end_us
        result.append((start, end))
    return tuple(result)


def _us(dt: datetime) -> int:
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {dt!r}")
    if dt.tzinfo is not UTC and (dt.tzinfo is None or dt.utcoffset() is None):
        raise ValueError(f"naive datetime {dt.isoformat()}: pass a timezone-aware datetime")
    return (dt - _EPOCH) // _US


def _out(us: int, like: datetime) -> datetime:
    """The instant ``us`` as an aware datetime in the timezone of ``like``."""
    utc = _EPOCH + timedelta(microseconds=us)
    tz = like.tzinfo
    return utc if tz is UTC else utc.astimezone(tz)


@dataclass(frozen=True)
class BusinessCalendar:
    """When an operator is open, in its own timezone. See the module docstring for the rules.

    ``weekly`` maps a weekday (0 = Monday ... 6 = Sunday) to that day's windows; a missing
    weekday is closed. ``holidays`` are closed dates, ``closures`` inclusive ``(first, last)``
    date ranges the operator is closed, ``overrides`` dates with their own windows (replacing
    the weekly schedule and any holiday; an empty tuple closes the date).

    The calendar is immutable and hashable (by tz, holidays and closures) and caches its
    precomputed years internally (lazily; concurrent first use at worst computes a year twice,
    with the same result); share one instance per operator/channel. It pickles without caches.
    """

    tz: str
    weekly: Mapping[int, Windows] = field(hash=False)
    holidays: frozenset[date] = frozenset()
    closures: tuple[tuple[date, date], ...] = ()
    overrides: Mapping[date, Windows] = field(default_factory=dict, hash=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)
    _by_weekday: tuple[Windows, ...] = field(init=False, repr=False, compare=False, hash=False)
    _years: dict[int, _Year] = field(init=False, repr=False, compare=False, hash=False)
    _hint: list[_Year | None] = field(init=False, repr=False, compare=False, hash=False)
    _offsets: dict[int, object] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown timezone {self.tz!r}") from exc

        weekly: dict[int, Windows] = {}
        for weekday, windows in dict(self.weekly).items():
            if type(weekday) is not int or not 0 <= weekday <= 6:
                raise ValueError(
                    f"weekly: weekday must be an int 0 (Mon) .. 6 (Sun), not {weekday!r}"
                )
            weekly[weekday] = _check_windows(windows, f"weekly[{DAY_NAMES[weekday]}]")
        if not any(weekly.values()):
            raise ValueError("weekly: the schedule has no opening windows at all")

        for day in self.holidays:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise TypeError(f"holidays: expected dates, got {day!r}")

        closures: list[tuple[date, date]] = []
        for closure in self.closures:
            first, last = closure
            for day in (first, last):
                if not isinstance(day, date) or isinstance(day, datetime):
                    raise TypeError(f"closures: expected (date, date) ranges, got {closure!r}")
            if last < first:
                raise ValueError(f"closures: range {first}..{last} ends before it starts")
            closures.append((first, last))

        overrides: dict[date, Windows] = {}
        for day, windows in dict(self.overrides).items():
            if not isinstance(day, date) or isinstance(day, datetime):
                raise TypeError(f"overrides: keys must be dates, got {day!r}")
            overrides[day] = _check_windows(windows, f"overrides[{day}]")

        setattr_ = object.__setattr__
        setattr_(self, "weekly", MappingProxyType(weekly))
        setattr_(self, "holidays", frozenset(self.holidays))
        setattr_(self, "closures", tuple(closures))
        setattr_(self, "overrides", MappingProxyType(overrides))
        setattr_(self, "_zone", zone)
        setattr_(self, "_by_weekday", tuple(weekly.get(i, ()) for i in range(7)))
        setattr_(self, "_years", {})
        setattr_(self, "_hint", [None])
        setattr_(self, "_offsets", {})

    def __reduce__(self):
        # Mapping proxies don't pickle; the caches needn't travel.
        args = (self.tz, dict(self.weekly), self.holidays, self.closures, dict(self.overrides))
        return (type(self), args)

    # ----------------------------------------------------------------------------- the schedule

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def windows_of(self, day: date) -> Windows:
        """The wall-clock windows that apply on ``day`` (empty when closed)."""
        for first, last in self.closures:
            if first <= day <= last:
                return ()
        windows = self.overrides.get(day)
        if windows is not None:
            return windows
        if day in self.holidays:
            return ()
        return self._by_weekday[day.weekday()]

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local date) has any working time."""
        block = self._year(day.year)
        k = bisect_left(block.day_ord, day.toordinal())
        return k < len(block.day_ord) and block.day_ord[k] == day.toordinal()

    def working_windows(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """``day``'s working intervals as aware datetimes in the calendar's zone (DST applied)."""
        block = self._year(day.year)
        k = bisect_left(block.day_ord, day.toordinal())
        if k == len(block.day_ord) or block.day_ord[k] != day.toordinal():
            return ()
        zone = self._zone
        return tuple(
            (
                (_EPOCH + timedelta(microseconds=block.starts[i])).astimezone(zone),
                (_EPOCH + timedelta(microseconds=block.ends[i])).astimezone(zone),
            )
            for i in range(block.day_first[k], block.day_stop[k])
        )

    # -------------------------------------------------------------------------------- queries

    def is_working(self, dt: datetime) -> bool:
        """Whether ``dt`` lies inside a window (windows are half-open: the end is not working)."""
        t = _us(dt)
        block = self._year_at(t)
        i = bisect_right(block.starts, t) - 1
        return i >= 0 and t < block.ends[i]

    def next_working_instant(self, dt: datetime) -> datetime:
        """``dt`` itself when it is working time, else the start of the next window."""
        t = _us(dt)
        block = self._year_at(t)
        i = bisect_right(block.starts, t) - 1
        if i >= 0 and t < block.ends[i]:
            return dt
        i += 1
        idle = 0
        while i >= len(block.starts):
            idle = idle + 1 if not block.starts else 0
            block, i = self._next_year(block, idle), 0
        return _out(block.starts[i], dt)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time in ``[a, b)``; negative (``-between(b, a)``) when ``b`` is before ``a``.

        Exactly additive: ``between(a, b) + between(b, c) == between(a, c)``.
        """
        ta, tb = _us(a), _us(b)
        if tb < ta:
            return -timedelta(microseconds=self._between(tb, ta))
        return timedelta(microseconds=self._between(ta, tb))

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant ``t >= start`` with ``working_time_between(start, t) == duration``.

        Only time inside windows counts. For a positive duration the result is inside a window
        or exactly at a window's end (never the next window's start: work that finishes at
        19:00 finishes at 19:00, not at 16:00 the next working day). A zero duration returns
        ``start`` unchanged. Negative durations are a ``ValueError``.
        """
        if not isinstance(duration, timedelta):
            raise TypeError(f"duration must be a timedelta, got {duration!r}")
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        t = _us(start)
        if not duration:
            return start
        block = self._year_at(t)
        worked = block.worked_before(t) + duration // _US
        idle = 0
        while worked > block.total:
            worked -= block.total
            idle = idle + 1 if block.total == 0 else 0
            block = self._next_year(block, idle)
        return _out(block.instant_after(worked), start)

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The due time ``n`` working days after ``start``.

        The rule, with D = the working day whose opening span (first window start to last
        window end, lunch breaks included) contains ``start``:

        * ``start`` inside D's span (during a window or a break between two): the result is
          the same wall-clock time on the n-th working day after D, clamped into that day's
          span (before its opening -> its opening; after its close -> its close). Days are
          counted only if they are working days. E.g. Mon-Fri 16:00-19:00, Sat 08:00-13:00:
          Fri 17:30 + 1 = Sat 13:00 (clamped), Thu 17:30 + 1 = Fri 17:30.
        * ``start`` outside every span (before opening, after closing, a closed day): the
          result is the end of the last window of the n-th working day counting the next
          working day as the first; that is, a case that arrives after hours is treated as
          arriving at the close of the previous working day, and is due at the close of the
          n-th working day after that. E.g. Sunday 10:00 + 1 = Monday 19:00.

        ``n == 0`` returns ``start`` unchanged; ``n < 0`` is a ``ValueError``. The result is
        monotonic in ``start`` and in ``n`` and always within the opening span of a working
        day (a span ending at 24:00 ends at the following midnight).
        """
        if type(n) is not int:
            raise TypeError(f"n must be an int, got {n!r}")
        if n < 0:
            raise ValueError("n must not be negative")
        t = _us(start)
        if n == 0:
            return start
        block = self._year_at(t)
        block, k = self._working_day(block, bisect_right(block.day_close, t))
        if block.day_open[k] <= t:
            block, k = self._working_day(block, k + n)
            wall = start.astimezone(self._zone).time()  # keeps the fold
            due = self._wall_to_us(date.fromordinal(block.day_ord[k]), wall)
            opening, closing = block.day_open[k], block.day_close[k]
            due = opening if due < opening else closing if due > closing else due
        else:
            block, k = self._working_day(block, k + n - 1)
            due = block.day_close[k]
        return _out(due, start)

    def add_calendar_days(self, start: datetime, n: int) -> datetime:
        """The same wall-clock time ``n`` calendar days later in the calendar's zone.

        Holidays, closures and opening hours play no part. Across a DST change the elapsed
        real time is 23 h or 25 h per changed day; a wall time that doesn't exist on the
        target day reads as the instant of the jump (see the module docstring).
        """
        if type(n) is not int:
            raise TypeError(f"n must be an int, got {n!r}")
        _us(start)
        local = start.astimezone(self._zone)
        return _out(self._wall_to_us(local.date() + timedelta(days=n), local.time()), start)

    # ------------------------------------------------------------------------------ internals

    def _between(self, ta: int, tb: int) -> int:
        block_a = self._year_at(ta)
        block_b = self._year_at(tb)
        if block_a is block_b:
            return block_b.worked_before(tb) - block_a.worked_before(ta)
        total = block_a.total - block_a.worked_before(ta)
        for year in range(block_a.year + 1, block_b.year):
            total += self._year(year).total
        return total + block_b.worked_before(tb)

    def _working_day(self, block: _Year, k: int) -> tuple[_Year, int]:
        """The k-th working day counting from the start of ``block``, wherever it falls."""
        idle = 0
        while k >= len(block.day_ord):
            k -= len(block.day_ord)
            idle = idle + 1 if not block.day_ord else 0
            block = self._next_year(block, idle)
        return block, k

    def _next_year(self, block: _Year, idle: int) -> _Year:
        if idle > _MAX_IDLE_YEARS:
            raise NoWorkingTimeError(
                f"no working time in {_MAX_IDLE_YEARS} consecutive years up to {block.year}"
            )
        return self._year(block.year + 1)

    def _year_at(self, t: int) -> _Year:
        """The precomputed local year containing instant ``t``."""
        hint = self._hint[0]
        if hint is not None and hint.base <= t < hint.end:
            return hint
        local = (_EPOCH + timedelta(microseconds=t)).astimezone(self._zone)
        block = self._year(local.year)
        while t < block.base:
            block = self._year(block.year - 1)
        while t >= block.end:
            block = self._year(block.year + 1)
        self._hint[0] = block
        return block

    def _year(self, year: int) -> _Year:
        block = self._years.get(year)
        if block is None:
            block = self._build_year(year)
            self._years[year] = block
        return block

    def _build_year(self, year: int) -> _Year:
        wall = self._wall_to_us
        first_day = date(year, 1, 1)
        first_ordinal = first_day.toordinal()
        days = date(year + 1, 1, 1).toordinal() - first_ordinal
        offsets = self._year_offsets(first_day, days)
        block = _Year(year, wall(first_day, END_OF_DAY), wall(date(year + 1, 1, 1), END_OF_DAY))
        starts, ends, cum = block.starts, block.ends, block.cum
        day_of_us: dict[int, tuple[tuple[int, int], ...]] = {}  # by id() of the windows tuple
        for i in range(days):
            day = first_day + timedelta(days=i)
            windows = self.windows_of(day)
            if not windows:
                continue
            ordinal = first_ordinal + i
            offset = offsets[i]
            if offset is _SHIFTING:
                pairs = [
                    (
                        wall(day, start),
                        wall(day + _DAY, END_OF_DAY) if end == END_OF_DAY else wall(day, end),
                    )
                    for start, end in windows
                ]
            else:  # one UTC offset all day: plain arithmetic
                spans = day_of_us.get(id(windows))
                if spans is None:
                    spans = day_of_us[id(windows)] = tuple(
                        (
                            _time_of_day_us(start),
                            _DAY_US if end == END_OF_DAY else _time_of_day_us(end),
                        )
                        for start, end in windows
                    )
                base = (ordinal - _EPOCH_ORDINAL) * _DAY_US - offset
                pairs = [(base + start, base + end) for start, end in spans]
            first = len(starts)
            for a, b in pairs:
                if b > a:  # empty when the window lies inside a skipped (DST) hour
                    starts.append(a)
                    ends.append(b)
                    cum.append(cum[-1] + b - a)
            if len(starts) > first:
                block.day_ord.append(ordinal)
                block.day_open.append(starts[first])
                block.day_close.append(ends[-1])
                block.day_first.append(first)
                block.day_stop.append(len(starts))
        block.total = cum[-1]
        return block

    def _year_offsets(self, first_day: date, days: int) -> list:
        """Each day's offset (see :meth:`_day_offset`) from ``first_day`` on; also cached."""
        zone = self._zone

        def midnight(day: date) -> tuple:
            y, m, d = day.year, day.month, day.day
            return (
                datetime(y, m, d, tzinfo=zone).utcoffset(),
                datetime(y, m, d, tzinfo=zone, fold=1).utcoffset(),
            )

        result: list = []
        before = midnight(first_day)
        for i in range(days):
            day = first_day + timedelta(days=i)
            after = midnight(day + _DAY)
            noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone).utcoffset()
            same = before[0] == before[1] == noon == after[0] == after[1] and noon is not None
            result.append(noon // _US if same else _SHIFTING)
            before = after
        first_ordinal = first_day.toordinal()
        self._offsets.update((first_ordinal + i, offset) for i, offset in enumerate(result))
        return result

    def _wall_to_us(self, day: date, wall: time) -> int:
        """The instant of wall-clock ``wall`` on local ``day`` (rules in the module docstring).

        Ambiguous: the occurrence chosen by ``wall.fold`` (0 = first). Nonexistent: the instant
        of the jump.
        """
        ordinal = day.toordinal()
        offset = self._offsets.get(ordinal)
        if offset is None:
            offset = self._offsets[ordinal] = self._day_offset(day)
        if offset is not _SHIFTING:  # one UTC offset all day: plain arithmetic
            return (ordinal - _EPOCH_ORDINAL) * _DAY_US + _time_of_day_us(wall) - offset
        local = datetime.combine(day, wall, tzinfo=self._zone)
        offset = local.utcoffset()
        if offset == local.replace(fold=1 - local.fold).utcoffset():
            return (local - _EPOCH) // _US
        t = (local - _EPOCH) // _US
        back = (_EPOCH + timedelta(microseconds=t)).astimezone(self._zone)
        if back.replace(tzinfo=None) == local.replace(tzinfo=None):
            return t  # ambiguous: it exists, twice; fold chose which
        # In a gap: the two offsets give one instant before and one after the jump. Find it.
        other = (local.replace(fold=1 - local.fold) - _EPOCH) // _US
        lo, hi = min(t, other), max(t, other)
        after = self._offset_at(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._offset_at(mid) == after:
                hi = mid
            else:
                lo = mid
        return hi

    def _day_offset(self, day: date) -> object:
        """``day``'s UTC offset in microseconds if the same from 00:00 to 24:00, else _SHIFTING."""
        return self._year_offsets(day, 1)[0]

    def _offset_at(self, t: int) -> timedelta | None:
        return (_EPOCH + timedelta(microseconds=t)).astimezone(self._zone).utcoffset()


def calendar_for(
    country: str,
    tz: str,
    weekly: Mapping[int, Iterable[Sequence[time]]],
    closures: Iterable[tuple[date, date]] = (),
    years: Iterable[int] = DEFAULT_HOLIDAY_YEARS,
    subdivision: str | None = None,
    *,
    overrides: Mapping[date, Iterable[Sequence[time]]] | None = None,
    transferred_workdays_as: int | None = 0,
) -> BusinessCalendar:
    """A calendar closed on ``country``'s public holidays (from the ``holidays`` library).

    Only the library's ``PUBLIC`` category is used, for ``years`` (outside them the calendar
    knows no holidays: widen ``years`` for older or later dates).

    Weekend days that the law turns into working days (Russia moves days off around holidays:
    e.g. Saturday 2 November 2024 was a working day; the library lists them as
    ``weekend_workdays``) get the windows of weekday ``transferred_workdays_as`` (Monday by
    default; ``None`` leaves them to the weekly schedule). Explicit ``overrides`` win over both.

    Ukraine: under martial law (Law 2136-IX, in force since March 2022) public holidays are not
    days off, and the library reflects it: ``country_holidays("UA", years=...)`` returns
    nothing for 2023-2026, and for 2022 only the dates before martial law (1, 3 and 7 January,
    7 and 8 March). The commemorative dates appear only in the library's ``WORKDAY`` category,
    which is deliberately *not* treated as closed. An operator that closes on such a date adds
    a closure.
    """
    try:
        public = holidays_lib.country_holidays(country, subdiv=subdivision, years=list(years))
    except NotImplementedError as exc:
        raise ValueError(f"no public holidays known for country {country!r}") from exc
    days = frozenset(public)
    extra: dict[date, Iterable[Sequence[time]]] = {}
    if transferred_workdays_as is not None:
        windows = weekly.get(transferred_workdays_as, ())
        for day in getattr(public, "weekend_workdays", ()):
            extra[day] = windows
    extra.update(overrides or {})
    return BusinessCalendar(
        tz=tz,
        weekly=dict(weekly),
        holidays=days,
        closures=tuple(closures),
        overrides=extra,
    )


def parse_windows(text: str) -> Windows:
    """Parse ``"08:00-13:00, 14:00-17:00"`` into windows; ``"24:00"`` may end a window.

    ``""`` or ``"closed"`` is a closed day.
    """
    text = text.strip()
    if not text or text.lower() == "closed":
        return ()
    windows = []
    for part in text.split(","):
        bounds = part.strip().split("-")
        if len(bounds) != 2:
            raise ValueError(f"window {part.strip()!r} must look like HH:MM-HH:MM")
        start, end = (_parse_time(b.strip(), end=i == 1) for i, b in enumerate(bounds))
        windows.append((start, end))
    return _check_windows(windows, repr(text))


def _parse_time(text: str, *, end: bool) -> time:
    if end and text == "24:00":
        return END_OF_DAY
    try:
        hours, minutes = text.split(":")
        if len(minutes) != 2:
            raise ValueError
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(f"time {text!r} must look like HH:MM (00:00 to 24:00)") from exc


def parse_weekly(spec: Mapping[str, str]) -> dict[int, Windows]:
    """Parse ``{"mon-fri": "16:00-19:00", "sat": "08:00-13:00"}`` into a weekly schedule.

    Keys are day names (``mon`` ... ``sun``) or inclusive ranges of them (``mon-fri``); a day
    named twice is an error; days not named are closed.
    """
    weekly: dict[int, Windows] = {}
    for key, text in spec.items():
        names = key.strip().lower().split("-")
        try:
            indexes = [DAY_NAMES.index(name) for name in names]
        except ValueError as exc:
            raise ValueError(f"unknown day {key!r}: use mon, tue, ... sun or a range") from exc
        if len(indexes) == 1:
            days = indexes
        elif len(indexes) == 2 and indexes[0] <= indexes[1]:
            days = list(range(indexes[0], indexes[1] + 1))
        else:
            raise ValueError(f"day range {key!r} must look like mon-fri")
        windows = parse_windows(text)
        for day in days:
            if day in weekly:
                raise ValueError(f"{DAY_NAMES[day]} is given more than once")
            weekly[day] = windows
    return weekly
