"""Reading validation: plain values in, a verdict out. No Django import.

`validate()` decides one register's new value against the meter's facts, the register's state
(last value, last real value, recent monthly use) and the operator's rules:

- rejected: not a number of the right shape, negative, more digits than the meter has, in the
  future, before the meter was installed or before the previous reading, a duplicate of the
  previous reading, lower than the previous real reading (unless the meter plausibly rolled
  over), the meter removed or faulty, outside the submission window when the operator rejects
  late readings;
- flagged for review (kept, not billed until a person accepts it): use above ``spike_factor`` ×
  the trailing monthly average (with at least ``spike_min_months`` months of history);
- accepted, with notes: rolled over; late (counts for the next period).

Roll-over: a meter with ``digits`` digits wraps at 10**digits. A value below the previous one is
a roll-over when the previous value was in the top tenth of the dial and the new one is in the
bottom tenth; anything else lower than before is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

ACCEPTED, FLAGGED, REJECTED = "accepted", "flagged", "rejected"

# Reason codes. Rejections:
BAD_VALUE = "bad_value"
NEGATIVE = "negative"
TOO_MANY_DIGITS = "too_many_digits"
IN_FUTURE = "in_future"
BEFORE_INSTALLATION = "before_installation"
BEFORE_PREVIOUS = "before_previous"
DUPLICATE = "duplicate"
LOWER_THAN_PREVIOUS = "lower_than_previous"
METER_REMOVED = "meter_removed"
METER_FAULTY = "meter_faulty"
OUTSIDE_WINDOW = "outside_window"
# Flags:
SPIKE = "spike"
# Notes on accepted readings:
ROLLED_OVER = "rolled_over"
LATE = "late"
# Notes on estimates (written by the services, never by `validate`):
ESTIMATED_AVERAGE = "estimated_average"
ESTIMATED_NORM = "estimated_norm"

REJECTIONS = frozenset(
    {
        BAD_VALUE,
        NEGATIVE,
        TOO_MANY_DIGITS,
        IN_FUTURE,
        BEFORE_INSTALLATION,
        BEFORE_PREVIOUS,
        DUPLICATE,
        LOWER_THAN_PREVIOUS,
        METER_REMOVED,
        METER_FAULTY,
        OUTSIDE_WINDOW,
    }
)
FLAGS = frozenset({SPIKE})
NOTES = frozenset({ROLLED_OVER, LATE, ESTIMATED_AVERAGE, ESTIMATED_NORM})
REASONS = REJECTIONS | FLAGS | NOTES

DECIMAL_PLACES = 3
STEP = Decimal("0.001")
FUTURE_TOLERANCE = timedelta(minutes=10)
ZERO = Decimal("0")


# The value objects are frozen, slotted dataclasses. `Verdict` and `RegisterState` are made
# once per reading (a million in an import), so they have hand-written constructors that set
# the slots directly: the same signature and fields as the generated ones, at half the cost of
# a frozen dataclass's ``object.__setattr__`` per field.

_NO_DETAILS: dict = {}  # marks "details not given" (a fresh dict is made)


@dataclass(frozen=True, slots=True)
class Rules:
    window_start_day: int = 1
    window_end_day: int = 31
    reject_outside_window: bool = False
    spike_factor: Decimal = Decimal("3")
    spike_history_months: int = 6
    spike_min_months: int = 3


@dataclass(frozen=True, slots=True)
class MeterFacts:
    digits: int
    multiplier: Decimal = Decimal("1")
    status: str = "active"  # active, removed, faulty
    installed_on: date | None = None


@dataclass(frozen=True, slots=True, init=False)
class RegisterState:
    last_value: Decimal | None = None  # the last accepted reading or estimate
    last_taken_at: datetime | None = None
    last_real_value: Decimal | None = None  # the last accepted real reading
    last_real_taken_at: datetime | None = None
    recent: tuple[Decimal, ...] = ()  # monthly use, oldest first
    estimated_periods: int = 0  # estimates since the last real reading
    estimated_quantity: Decimal = ZERO  # their use, summed

    def __init__(
        self,
        last_value: Decimal | None = None,
        last_taken_at: datetime | None = None,
        last_real_value: Decimal | None = None,
        last_real_taken_at: datetime | None = None,
        recent: tuple[Decimal, ...] = (),
        estimated_periods: int = 0,
        estimated_quantity: Decimal = ZERO,
    ):
        _s_last_value(self, last_value)
        _s_last_taken_at(self, last_taken_at)
        _s_last_real_value(self, last_real_value)
        _s_last_real_taken_at(self, last_real_taken_at)
        _s_recent(self, recent)
        _s_estimated_periods(self, estimated_periods)
        _s_estimated_quantity(self, estimated_quantity)


_s_last_value = RegisterState.last_value.__set__
_s_last_taken_at = RegisterState.last_taken_at.__set__
_s_last_real_value = RegisterState.last_real_value.__set__
_s_last_real_taken_at = RegisterState.last_real_taken_at.__set__
_s_recent = RegisterState.recent.__set__
_s_estimated_periods = RegisterState.estimated_periods.__set__
_s_estimated_quantity = RegisterState.estimated_quantity.__set__


@dataclass(frozen=True, slots=True)
class TrueUp:
    estimated: Decimal
    actual: Decimal

    @property
    def difference(self) -> Decimal:
        return self.actual - self.estimated


@dataclass(frozen=True, slots=True, init=False)
class Verdict:
    status: str
    reasons: tuple[str, ...]
    period: date
    value: Decimal | None = None
    consumption: Decimal | None = None
    rolled_over: bool = False
    true_up: TrueUp | None = None
    # Details for the message: the previous value, the trailing average, the dial's size.
    details: dict = field(default_factory=dict, compare=False)

    def __init__(
        self,
        status: str,
        reasons: tuple[str, ...],
        period: date,
        value: Decimal | None = None,
        consumption: Decimal | None = None,
        rolled_over: bool = False,
        true_up: TrueUp | None = None,
        details: dict = _NO_DETAILS,
    ):
        _s_status(self, status)
        _s_reasons(self, reasons)
        _s_period(self, period)
        _s_value(self, value)
        _s_consumption(self, consumption)
        _s_rolled_over(self, rolled_over)
        _s_true_up(self, true_up)
        _s_details(self, {} if details is _NO_DETAILS else details)

    @property
    def ok(self) -> bool:
        return self.status != REJECTED


_s_status = Verdict.status.__set__
_s_reasons = Verdict.reasons.__set__
_s_period = Verdict.period.__set__
_s_value = Verdict.value.__set__
_s_consumption = Verdict.consumption.__set__
_s_rolled_over = Verdict.rolled_over.__set__
_s_true_up = Verdict.true_up.__set__
_s_details = Verdict.details.__set__


def parse_value(raw) -> Decimal | None:
    """A reading value from user text (either decimal separator), or None when it is not one."""
    if type(raw) is Decimal:  # the common case, from a parser that made it already
        return raw if raw.is_finite() else None
    if isinstance(raw, Decimal):
        value = raw
    else:
        text = str(raw).strip().replace(",", ".")
        if not text or len(text) > 32:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            return None
    if not value.is_finite():
        return None
    return value


def quantity(value: Decimal) -> Decimal:
    """A use rounded half-up to the thousandths the database keeps (a multiplier has four
    decimals, so dial advance × multiplier can have seven)."""
    return value.quantize(STEP, rounding=ROUND_HALF_UP)


def period_of(day: date) -> date:
    return day.replace(day=1)


def next_period(period: date) -> date:
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


# Pure functions of a few values, asked about the same days and dials over and over: remembered
# (bounded; a cache only ever holds what the function would compute).
_CACHE_LIMIT = 4096
_periods: dict[tuple[date, int, int], tuple[date, bool, bool]] = {}
_dials: dict[int, tuple[Decimal, Decimal, Decimal]] = {}


def reading_period(local_day: date, rules: Rules) -> tuple[date, bool, bool]:
    """(period, inside the window, late): a reading after the window's last day counts for the
    next period."""
    key = (local_day, rules.window_start_day, rules.window_end_day)
    found = _periods.get(key)
    if found is None:
        day = local_day.day
        start, end = key[1], key[2]
        inside = start <= day <= end
        late = day > end
        period = period_of(local_day)
        found = (next_period(period) if late else period), inside, late
        if len(_periods) >= _CACHE_LIMIT:
            _periods.clear()
        _periods[key] = found
    return found


def _dial_bounds(digits: int) -> tuple[Decimal, Decimal, Decimal]:
    """(10**digits, its top tenth's start, its bottom tenth's end)."""
    found = _dials.get(digits)
    if found is None:
        dial = Decimal(10) ** digits
        found = (dial, dial * Decimal("0.9"), dial * Decimal("0.1"))
        if len(_dials) >= _CACHE_LIMIT:
            _dials.clear()
        _dials[digits] = found
    return found


def _dial(facts: MeterFacts) -> Decimal:
    return _dial_bounds(facts.digits)[0]


def advance(previous: Decimal, value: Decimal, facts: MeterFacts) -> tuple[Decimal, bool] | None:
    """The dial's advance from ``previous`` to ``value`` (before the multiplier) and whether it
    rolled over; None when ``value`` is lower and it cannot be a roll-over."""
    if value >= previous:
        return value - previous, False
    dial, top, bottom = _dial_bounds(facts.digits)
    if previous >= top and value < bottom:
        return value + dial - previous, True
    return None


def _shape_reasons(value: Decimal, facts: MeterFacts) -> list[str]:
    if value < 0:
        return [NEGATIVE]
    if value >= _dial_bounds(facts.digits)[0]:
        return [TOO_MANY_DIGITS]
    if value != value.quantize(STEP):
        return [BAD_VALUE]  # finer than the thousandths a register records
    return []


# The last ``now`` asked about and ``now + FUTURE_TOLERANCE`` (one tuple: thread-safe).
_limit: list[tuple] = [(None, None)]


def validate(
    *,
    raw_value,
    taken_at: datetime,
    local_day: date,
    now: datetime,
    facts: MeterFacts,
    state: RegisterState,
    rules: Rules,
) -> Verdict:
    """Decide one register's new value. ``taken_at`` and ``now`` are aware datetimes;
    ``local_day`` is ``taken_at``'s date in the operator's time zone."""
    # Written for speed (the bulk import calls it a million times a run): the helpers above
    # inlined, constants cached. The rules are as the module docstring says.
    period, inside, late = reading_period(local_day, rules)
    value = parse_value(raw_value)
    if value is None:
        return Verdict(REJECTED, (BAD_VALUE,), period)
    digits = facts.digits
    bounds = None  # (dial, top tenth, bottom tenth), once the value is not negative
    if value < 0:
        reasons = [NEGATIVE]
    elif value >= (bounds := _dials.get(digits) or _dial_bounds(digits))[0]:
        reasons = [TOO_MANY_DIGITS]
    elif value != value.quantize(STEP):
        reasons = [BAD_VALUE]  # finer than the thousandths a register records
    else:
        reasons = []
    details: dict = {"digits": digits}
    status = facts.status
    if status != "active":
        if status == "removed":
            reasons.append(METER_REMOVED)
        elif status == "faulty":
            reasons.append(METER_FAULTY)
    # Ordering aware datetimes of two zones converts both to UTC each time, slowly for a
    # ZoneInfo: convert it once (the same instants, so the same answers).
    instant = taken_at.astimezone(UTC) if type(taken_at.tzinfo) is ZoneInfo else taken_at
    limit = _limit[0]
    if limit[0] is not now:
        limit = _limit[0] = (now, now + FUTURE_TOLERANCE)
    if instant > limit[1]:
        reasons.append(IN_FUTURE)
    installed_on = facts.installed_on
    if installed_on is not None and local_day < installed_on:
        reasons.append(BEFORE_INSTALLATION)
    if not inside and rules.reject_outside_window:
        reasons.append(OUTSIDE_WINDOW)
    last_taken_at = state.last_taken_at
    if last_taken_at is not None:
        if instant < last_taken_at:
            reasons.append(BEFORE_PREVIOUS)
        elif value == state.last_value and taken_at.date() == last_taken_at.date():
            reasons.append(DUPLICATE)
    rolled_over = False
    real_advance = None
    last_real_value = state.last_real_value
    if last_real_value is not None and not reasons:
        details["previous"] = last_real_value
        if value >= last_real_value:
            real_advance = value - last_real_value
        elif last_real_value >= bounds[1] and value < bounds[2]:
            real_advance = value + bounds[0] - last_real_value
            rolled_over = True
        else:
            reasons.append(LOWER_THAN_PREVIOUS)
    if reasons:
        return Verdict(REJECTED, tuple(reasons), period, value, details=details)

    consumption = None
    true_up = None
    multiplier = facts.multiplier
    if state.estimated_periods and real_advance is not None:
        # Measured from the last real reading, less what the estimates since then counted:
        # right even when an estimate went round the dial and the real reading did not.
        true_up = TrueUp(
            estimated=state.estimated_quantity,
            actual=(real_advance * multiplier).quantize(STEP, rounding=ROUND_HALF_UP),
        )
        consumption = true_up.actual - true_up.estimated
    else:
        last_value = state.last_value
        if last_value is not None:
            if rolled_over and last_value > value:
                step = value + bounds[0] - last_value
            else:
                step = value - last_value
            consumption = (step * multiplier).quantize(STEP, rounding=ROUND_HALF_UP)

    if rolled_over:
        notes = [ROLLED_OVER, LATE] if late else [ROLLED_OVER]
    else:
        notes = [LATE] if late else []
    status = ACCEPTED
    if consumption is not None:
        history = state.recent[-rules.spike_history_months :]
        if len(history) >= rules.spike_min_months:
            average = sum(history, ZERO) / len(history)
            months = 1
            if last_taken_at is not None:
                # months_between(last_taken_at.date(), local_day)
                months = max(
                    1,
                    (local_day.year - last_taken_at.year) * 12
                    + local_day.month
                    - last_taken_at.month,
                )
            details["average"] = average
            if average > 0 and consumption > rules.spike_factor * average * months:
                status = FLAGGED
                notes.insert(0, SPIKE)
    return Verdict(status, tuple(notes), period, value, consumption, rolled_over, true_up, details)
