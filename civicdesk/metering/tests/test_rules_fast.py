"""The pure rules are written for speed (the bulk import calls them a million times a run):
they must decide exactly as the plain way of writing them, kept here as the reference."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from civicdesk.metering import state, validation
from civicdesk.metering.validation import (
    ACCEPTED,
    BAD_VALUE,
    BEFORE_INSTALLATION,
    BEFORE_PREVIOUS,
    DUPLICATE,
    FLAGGED,
    FUTURE_TOLERANCE,
    IN_FUTURE,
    LATE,
    LOWER_THAN_PREVIOUS,
    METER_FAULTY,
    METER_REMOVED,
    OUTSIDE_WINDOW,
    REJECTED,
    ROLLED_OVER,
    SPIKE,
    ZERO,
    MeterFacts,
    RegisterState,
    Rules,
    TrueUp,
    Verdict,
)

# --- the reference: the rules written plainly ------------------------------------------------


def reference_validate(*, raw_value, taken_at, local_day, now, facts, state, rules) -> Verdict:
    v = validation
    period, inside, late = v.reading_period(local_day, rules)
    value = v.parse_value(raw_value)
    if value is None:
        return Verdict(REJECTED, (BAD_VALUE,), period)
    reasons = v._shape_reasons(value, facts)
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
        real_advance = v.advance(state.last_real_value, value, facts)
        if real_advance is None:
            reasons.append(LOWER_THAN_PREVIOUS)
        else:
            rolled_over = real_advance[1]
    if reasons:
        return Verdict(REJECTED, tuple(reasons), period, value, details=details)
    consumption = None
    true_up = None
    if state.estimated_periods and real_advance is not None:
        true_up = TrueUp(
            estimated=state.estimated_quantity,
            actual=v.quantity(real_advance[0] * facts.multiplier),
        )
        consumption = true_up.actual - true_up.estimated
    elif state.last_value is not None:
        dial = Decimal(10) ** facts.digits
        if rolled_over and state.last_value > value:
            step = value + dial - state.last_value
        else:
            step = value - state.last_value
        consumption = v.quantity(step * facts.multiplier)
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
            months = max(1, v.months_between(state.last_taken_at.date(), local_day))
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


def reference_recent_add(recent, period, use):
    key = period.strftime("%Y-%m")
    items = dict(recent)
    items[key] = items.get(key, ZERO) + use
    return tuple(sorted(items.items()))[-state.RECENT_MONTHS :]


def reference_state_after(before, *, value, taken_at, consumption, estimate):
    if estimate:
        return replace(
            before,
            last_value=value,
            last_taken_at=taken_at,
            estimated_periods=before.estimated_periods + 1,
            estimated_quantity=before.estimated_quantity + (consumption or ZERO),
        )
    return replace(
        before,
        last_value=value,
        last_taken_at=taken_at,
        last_real_value=value,
        last_real_taken_at=taken_at,
        estimated_periods=0,
        estimated_quantity=ZERO,
    )


def same(a, b) -> bool:
    """Equal, details included, and equal representations (Decimal exponents are stored)."""
    return (
        a == b and repr(a) == repr(b) and getattr(a, "details", None) == getattr(b, "details", None)
    )


# --- strategies ------------------------------------------------------------------------------

ZONES = [
    UTC,
    ZoneInfo("Europe/Kyiv"),
    ZoneInfo("Africa/Johannesburg"),
    timezone(timedelta(hours=3)),
]
NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # around a spring-forward in Kyiv
zones = st.sampled_from(ZONES)
numbers = st.one_of(
    st.decimals(min_value=0, max_value=10**7, places=3, allow_nan=False),
    st.decimals(min_value=-5, max_value=10**7, places=4, allow_nan=False),
    st.sampled_from([Decimal("99999.999"), Decimal("0"), Decimal("1E+2"), Decimal("100.0")]),
)
moments = st.builds(
    lambda minutes, zone, fold: (
        (NOW + timedelta(minutes=minutes)).astimezone(zone).replace(fold=fold)
    ),
    st.integers(-200 * 24 * 60, 60 * 24),
    zones,
    st.integers(0, 1),
)
facts_ = st.builds(
    MeterFacts,
    digits=st.integers(1, 8),
    multiplier=st.sampled_from([Decimal("1"), Decimal("1.0000"), Decimal("0.5"), Decimal("40")]),
    status=st.sampled_from(["active", "active", "removed", "faulty"]),
    installed_on=st.one_of(st.none(), st.dates(date(2025, 1, 1), date(2026, 6, 1))),
)
rules_ = st.builds(
    Rules,
    window_start_day=st.integers(1, 28),
    window_end_day=st.integers(1, 31),
    reject_outside_window=st.booleans(),
    spike_factor=st.sampled_from([Decimal("3"), Decimal("1.5")]),
    spike_history_months=st.integers(0, 12),
    spike_min_months=st.integers(1, 6),
)
states_ = st.builds(
    RegisterState,
    last_value=st.one_of(st.none(), numbers),
    last_taken_at=st.one_of(st.none(), moments.map(lambda m: m.astimezone(UTC))),
    last_real_value=st.one_of(st.none(), numbers),
    last_real_taken_at=st.none(),
    recent=st.lists(numbers, max_size=12).map(tuple),
    estimated_periods=st.integers(0, 3),
    estimated_quantity=st.sampled_from([ZERO, Decimal("12.5")]),
)


@settings(max_examples=400)
@given(
    raw=st.one_of(numbers, numbers.map(str), st.text(max_size=8), st.none()),
    taken_at=moments,
    now=st.one_of(st.just(NOW), moments),
    facts=facts_,
    register=states_,
    rules=rules_,
)
def test_validate_decides_as_the_plain_rules(raw, taken_at, now, facts, register, rules):
    args = {
        "raw_value": raw,
        "taken_at": taken_at,
        "local_day": taken_at.astimezone(ZoneInfo("Europe/Kyiv")).date(),
        "now": now,
        "facts": facts,
        "state": register,
        "rules": rules,
    }
    try:
        expected = reference_validate(**args)
    except Exception as exc:
        try:
            validation.validate(**args)
        except type(exc):
            return
        raise AssertionError(f"the reference raised {exc!r}, the rules did not") from exc
    assert same(validation.validate(**args), expected)
    assert same(validation.validate(**args), expected)  # and again, from the caches


def test_a_roll_over_and_a_true_up_as_the_plain_rules():
    facts = MeterFacts(digits=5, multiplier=Decimal("1.0000"))
    at = datetime(2026, 3, 20, tzinfo=ZoneInfo("Europe/Kyiv"))
    before = RegisterState(
        last_value=Decimal("99990"),
        last_taken_at=datetime(2026, 2, 20, tzinfo=UTC),
        last_real_value=Decimal("99950"),
        last_real_taken_at=datetime(2026, 1, 20, tzinfo=UTC),
        recent=(Decimal("40"),) * 4,
        estimated_periods=1,
        estimated_quantity=Decimal("40"),
    )
    for raw in ("5", "99995", "10", "99940"):
        args = {
            "raw_value": raw,
            "taken_at": at,
            "local_day": at.date(),
            "now": NOW + timedelta(days=9),
            "facts": facts,
            "state": before,
            "rules": Rules(),
        }
        assert same(validation.validate(**args), reference_validate(**args))


month_dates = st.dates(date(2020, 1, 1), date(2030, 12, 1)).map(lambda d: d.replace(day=1))
uses = st.decimals(min_value=0, max_value=10**5, places=3)
pairs = st.tuples(st.from_regex(r"\A20[23][0-9]-(0[1-9]|1[0-2])\Z"), uses)


@given(
    start=st.one_of(
        st.lists(pairs, max_size=14).map(tuple),
        st.lists(pairs, max_size=14, unique_by=lambda p: p[0]).map(lambda x: tuple(sorted(x))),
        st.lists(pairs, max_size=3).map(lambda x: [list(p) for p in x]),
    ),
    steps=st.lists(
        st.tuples(month_dates, st.one_of(uses, st.sampled_from([Decimal("1E+2")]))), max_size=20
    ),
)
def test_recent_add_is_the_general_way(start, steps):
    """The append-a-later-month fast path gives what the general way gives, whatever the
    list it starts from (in order or not, too long, lists for pairs)."""
    fast, plain = start, start
    for period, use in steps:
        fast = state.recent_add(fast, period, use)
        plain = reference_recent_add(plain, period, use)
        assert fast == plain and repr(tuple(fast)) == repr(plain)


@given(register=states_, value=numbers, at=moments, consumption=st.one_of(st.none(), numbers))
def test_state_after_is_the_plain_replace(register, value, at, consumption):
    for estimate in (False, True):
        made = state.state_after(
            register, value=value, taken_at=at, consumption=consumption, estimate=estimate
        )
        expected = reference_state_after(
            register, value=value, taken_at=at, consumption=consumption, estimate=estimate
        )
        assert same(made, expected)


def test_the_value_objects_stay_frozen_and_replaceable():
    verdict = Verdict(ACCEPTED, (), date(2026, 1, 1))
    assert verdict.details == {} and verdict.details is not Verdict(REJECTED, (), None).details
    assert replace(verdict, status=REJECTED).status == REJECTED
    register = RegisterState(last_value=Decimal("1"))
    assert replace(register, estimated_periods=2) == RegisterState(
        last_value=Decimal("1"), estimated_periods=2
    )
    for obj, name in ((verdict, "status"), (register, "last_value")):
        try:
            setattr(obj, name, None)
        except AttributeError:
            continue
        raise AssertionError(f"{type(obj).__name__} is not frozen")
