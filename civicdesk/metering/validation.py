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
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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


@dataclass(frozen=True)
class Rules:
    window_start_day: int = 1
    window_end_day: int = 31
    reject_outside_window: bool = False
    spike_factor: Decimal = Decimal("3")
    spike_history_months: int = 6
    spike_min_months: int = 3


@dataclass(frozen=True)
class MeterFacts:
    digits: int
    multiplier: Decimal = Decimal("1")
    status: str = "active"  # active, removed, faulty
    installed_on: date | None = None


@dataclass(frozen=True)
class RegisterState:
    last_value: Decimal | None = None  # the last accepted reading or estimate
    last_taken_at: datetime | None = None
    last_real_value: Decimal | None = None  # the last accepted real reading
    last_real_taken_at: datetime | None = None
    recent: tuple[Decimal, ...] = ()  # monthly use, oldest first
    estimated_periods: int = 0  # estimates since the last real reading
    estimated_quantity: Decimal = ZERO  # their use, summed


@dataclass(frozen=True)
class TrueUp:
    estimated: Decimal
    actual: Decimal

    @property
    def difference(self) -> Decimal:
        return self.actual - self.estimated


@dataclass(frozen=True)
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

    @property
    def ok(self) -> bool:
        return self.status != REJECTED


def parse_value(raw) -> Decimal | None:
    """A reading value from user text (either decimal separator), or None when it is not one."""
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


def reading_period(local_day: date, rules: Rules) -> tuple[date, bool, bool]:
    """(period, inside the window, late): a reading after the window's last day counts for the
    next period."""
    day = local_day.day
    start, end = rules.window_start_day, rules.window_end_day
    inside = start <= day <= end
    late = day > end
    period = period_of(local_day)
    return (next_period(period) if late else period), inside, late


def _dial(facts: MeterFacts) -> Decimal:
    return Decimal(10) ** facts.digits


def advance(previous: Decimal, value: Decimal, facts: MeterFacts) -> tuple[Decimal, bool] | None:
    """The dial's advance from ``previous`` to ``value`` (before the multiplier) and whether it
    rolled over; None when ``value`` is lower and it cannot be a roll-over."""
    if value >= previous:
        return value - previous, False
    dial = _dial(facts)
    if previous >= dial * Decimal("0.9") and value < dial * Decimal("0.1"):
        return value + dial - previous, True
    return None


def _shape_reasons(value: Decimal, facts: MeterFacts) -> list[str]:
    if value < 0:
        return [NEGATIVE]
    if value >= _dial(facts):
        return [TOO_MANY_DIGITS]
    if value != value.quantize(STEP):
        return [BAD_VALUE]  # finer than the thousandths a register records
    return []


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
    period, inside, late = reading_period(local_day, rules)
    value = parse_value(raw_value)
    if value is None:
        return Verdict(REJECTED, (BAD_VALUE,), period)
    reasons = _shape_reasons(value, facts)
    details: dict = {"digits": facts.digits}
    if facts.status == "removed":
        reasons.append(METER_REMOVED)
    elif facts.status == "faulty":
        reasons.append(METER_FAULTY)
    if taken_at > now + FUTURE_TOLERANCE:
        reasons.append(IN_FUTURE)
    if facts.installed_on is not None and local_day < facts.installed_on:
        reasons.append(BEFORE_INSTALLATION)
    if not inside and rules.reject_outside_window:
        reasons.append(OUTSIDE_WINDOW)
    if state.last_taken_at is not None:
        if taken_at < state.last_taken_at:
            reasons.append(BEFORE_PREVIOUS)
        elif value == state.last_value and taken_at.date() == state.last_taken_at.date():
            reasons.append(DUPLICATE)
    rolled_over = False
    real_advance = None
    if state.last_real_value is not None and not reasons:
        details["previous"] = state.last_real_value
        real_advance = advance(state.last_real_value, value, facts)
        if real_advance is None:
            reasons.append(LOWER_THAN_PREVIOUS)
        else:
            rolled_over = real_advance[1]
    if reasons:
        return Verdict(REJECTED, tuple(reasons), period, value, details=details)

    consumption = None
    true_up = None
    if state.estimated_periods and real_advance is not None:
        # Measured from the last real reading, less what the estimates since then counted:
        # right even when an estimate went round the dial and the real reading did not.
        true_up = TrueUp(
            estimated=state.estimated_quantity,
            actual=quantity(real_advance[0] * facts.multiplier),
        )
        consumption = true_up.actual - true_up.estimated
    elif state.last_value is not None:
        if rolled_over and state.last_value > value:
            step = value + _dial(facts) - state.last_value
        else:
            step = value - state.last_value
        consumption = quantity(step * facts.multiplier)

    notes = []
    if rolled_over:
        notes.append(ROLLED_OVER)
    if late:
        notes.append(LATE)
    status = ACCEPTED
    history = state.recent[-rules.spike_history_months :]
    if consumption is not None and len(history) >= rules.spike_min_months:
        average = sum(history, ZERO) / len(history)
        months = 1
        if state.last_taken_at is not None:
            months = max(1, months_between(state.last_taken_at.date(), local_day))
        details["average"] = average
        if average > 0 and consumption > rules.spike_factor * average * months:
            status = FLAGGED
            notes.insert(0, SPIKE)
    return Verdict(
        status,
        tuple(notes),
        period,
        value,
        consumption=consumption,
        rolled_over=rolled_over,
        true_up=true_up,
        details=details,
    )
