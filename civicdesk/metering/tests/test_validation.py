"""Reading validation: a worked example for every reason code, and properties over random input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from civicdesk.metering import validation as v
from civicdesk.metering.validation import MeterFacts, RegisterState, Rules

NOW = datetime(2026, 6, 20, 10, 0, tzinfo=UTC)
LAST = datetime(2026, 5, 18, 10, 0, tzinfo=UTC)
FACTS = MeterFacts(digits=5, installed_on=date(2020, 1, 1))
STATE = RegisterState(
    last_value=Decimal("100"),
    last_taken_at=LAST,
    last_real_value=Decimal("100"),
    last_real_taken_at=LAST,
    recent=(Decimal("10"), Decimal("12"), Decimal("8")),
)
RULES = Rules()


def check(raw, *, taken_at=NOW, facts=FACTS, state=STATE, rules=RULES, now=NOW):
    return v.validate(
        raw_value=raw,
        taken_at=taken_at,
        local_day=taken_at.date(),
        now=now,
        facts=facts,
        state=state,
        rules=rules,
    )


def test_accepted_with_consumption():
    verdict = check("112.5")
    assert verdict.status == v.ACCEPTED and verdict.reasons == ()
    assert verdict.consumption == Decimal("12.5") and verdict.period == date(2026, 6, 1)
    assert verdict.ok


def test_comma_decimal_separator():
    assert check(" 112,500 ").value == Decimal("112.5")


def test_multiplier():
    verdict = check("101.25", facts=MeterFacts(digits=5, multiplier=Decimal("40")))
    assert verdict.consumption == Decimal("50.000")


def test_first_reading_has_no_consumption():
    verdict = check("5", state=RegisterState())
    assert verdict.status == v.ACCEPTED and verdict.consumption is None


@pytest.mark.parametrize("raw", ["abc", "", "12..3", "1.2345", "NaN", "Infinity", "1" * 40, None])
def test_bad_value(raw):
    verdict = check(raw)
    assert verdict.status == v.REJECTED and verdict.reasons == (v.BAD_VALUE,)


def test_negative():
    assert check("-1").reasons == (v.NEGATIVE,)


def test_too_many_digits():
    verdict = check("100000")
    assert verdict.reasons == (v.TOO_MANY_DIGITS,) and verdict.details["digits"] == 5


def test_in_future_beyond_the_tolerance():
    assert check("101", taken_at=NOW + timedelta(minutes=5)).ok
    assert check("101", taken_at=NOW + timedelta(minutes=11)).reasons == (v.IN_FUTURE,)


def test_before_installation():
    facts = MeterFacts(digits=5, installed_on=date(2026, 6, 21))
    assert check("1", facts=facts, state=RegisterState()).reasons == (v.BEFORE_INSTALLATION,)


def test_before_previous():
    assert check("101", taken_at=LAST - timedelta(days=1)).reasons == (v.BEFORE_PREVIOUS,)


def test_duplicate_same_value_same_day():
    assert check("100", taken_at=LAST + timedelta(hours=2)).reasons == (v.DUPLICATE,)
    assert check("100", taken_at=LAST + timedelta(days=1)).ok  # no use in a day is possible


def test_lower_than_previous():
    verdict = check("99.999")
    assert verdict.reasons == (v.LOWER_THAN_PREVIOUS,)
    assert verdict.details["previous"] == Decimal("100")


@pytest.mark.parametrize(
    ("status", "code"), [("removed", v.METER_REMOVED), ("faulty", v.METER_FAULTY)]
)
def test_meter_status(status, code):
    facts = MeterFacts(digits=5, status=status)
    assert check("101", facts=facts).reasons == (code,)


def test_outside_window_rejected_when_the_operator_says_so():
    rules = Rules(window_start_day=15, window_end_day=25, reject_outside_window=True)
    assert check("101", taken_at=datetime(2026, 6, 10, tzinfo=UTC), rules=rules).reasons == (
        v.OUTSIDE_WINDOW,
    )
    assert check("101", rules=rules).ok  # the 20th is inside


def test_late_reading_counts_for_the_next_period():
    rules = Rules(window_start_day=15, window_end_day=25)
    verdict = check(
        "101", taken_at=datetime(2026, 6, 27, tzinfo=UTC), now=NOW + timedelta(7), rules=rules
    )
    assert verdict.status == v.ACCEPTED and verdict.reasons == (v.LATE,)
    assert verdict.period == date(2026, 7, 1)


def test_early_reading_counts_for_its_own_month():
    rules = Rules(window_start_day=15, window_end_day=25)
    verdict = check("101", taken_at=datetime(2026, 6, 3, tzinfo=UTC), rules=rules)
    assert verdict.status == v.ACCEPTED and verdict.period == date(2026, 6, 1)


def test_december_late_reading_counts_for_january():
    rules = Rules(window_start_day=1, window_end_day=25)
    day = datetime(2026, 12, 28, tzinfo=UTC)
    assert check("101", taken_at=day, now=day, rules=rules).period == date(2027, 1, 1)


def test_spike_is_flagged_not_rejected():
    verdict = check("131")  # 31 in a month against an average of 10
    assert verdict.status == v.FLAGGED and verdict.reasons == (v.SPIKE,)
    assert verdict.details["average"] == Decimal("10") and verdict.ok
    assert check("130").status == v.ACCEPTED  # exactly 3 × 10 is not above


def test_spike_allows_for_months_since_the_last_reading():
    state = RegisterState(
        last_value=Decimal("100"),
        last_taken_at=datetime(2026, 3, 18, tzinfo=UTC),
        last_real_value=Decimal("100"),
        last_real_taken_at=datetime(2026, 3, 18, tzinfo=UTC),
        recent=(Decimal("10"),) * 3,
    )
    assert check("190", state=state).status == v.ACCEPTED  # 90 over three months


def test_no_spike_check_with_too_little_history():
    state = RegisterState(
        last_value=Decimal("100"),
        last_taken_at=LAST,
        last_real_value=Decimal("100"),
        last_real_taken_at=LAST,
        recent=(Decimal("1"), Decimal("1")),
    )
    assert check("500", state=state).status == v.ACCEPTED


def test_rolled_over():
    state = RegisterState(
        last_value=Decimal("99990"),
        last_taken_at=LAST,
        last_real_value=Decimal("99990"),
        last_real_taken_at=LAST,
    )
    verdict = check("5", state=state)
    assert verdict.status == v.ACCEPTED and verdict.reasons == (v.ROLLED_OVER,)
    assert verdict.rolled_over and verdict.consumption == Decimal("15")
    # Lower but not near the ends of the dial: an error, not a roll-over.
    assert check("50000", state=state).reasons == (v.LOWER_THAN_PREVIOUS,)


def test_true_up_after_estimates():
    state = RegisterState(
        last_value=Decimal("130"),  # two estimates of 15 on top of the real 100
        last_taken_at=LAST,
        last_real_value=Decimal("100"),
        last_real_taken_at=LAST - timedelta(days=60),
        estimated_periods=2,
        estimated_quantity=Decimal("30"),
    )
    verdict = check("122", state=state)
    assert verdict.status == v.ACCEPTED
    assert verdict.true_up.estimated == Decimal("30") and verdict.true_up.actual == Decimal("22")
    assert verdict.true_up.difference == Decimal("-8")
    assert verdict.consumption == Decimal("-8")  # measured from the last estimate


def test_true_up_when_an_estimate_went_round_the_dial():
    state = RegisterState(
        last_value=Decimal("5"),  # 99990 + 15 estimated, wrapped
        last_taken_at=LAST,
        last_real_value=Decimal("99990"),
        last_real_taken_at=LAST - timedelta(days=30),
        estimated_periods=1,
        estimated_quantity=Decimal("15"),
    )
    verdict = check("99998", state=state)  # really used 8: the dial never wrapped
    assert verdict.status == v.ACCEPTED
    assert verdict.true_up.actual == Decimal("8") and verdict.consumption == Decimal("-7")


def test_several_reasons_at_once():
    facts = MeterFacts(digits=5, status="removed")
    verdict = check("-3", facts=facts, taken_at=NOW + timedelta(days=1))
    assert set(verdict.reasons) == {v.NEGATIVE, v.METER_REMOVED, v.IN_FUTURE}


def test_every_reason_has_a_sentence():
    from django.utils import translation

    from civicdesk.metering import reasons

    with translation.override("en"):
        for code in v.REASONS:
            assert reasons.reason_text(code) != code


# --- properties -----------------------------------------------------------------------------

digits = st.integers(min_value=1, max_value=8)
multipliers = st.decimals(min_value="0.0001", max_value="1000", places=4)


@st.composite
def states(draw, dial_digits=5):
    dial = 10**dial_digits
    value = draw(st.decimals(min_value=0, max_value=dial - 1, places=3))
    when = NOW - timedelta(days=draw(st.integers(min_value=0, max_value=400)))
    recent = tuple(draw(st.lists(st.decimals(min_value=0, max_value=1000, places=3), max_size=12)))
    return RegisterState(
        last_value=value,
        last_taken_at=when,
        last_real_value=value,
        last_real_taken_at=when,
        recent=recent,
    )


@given(
    raw=st.one_of(st.text(max_size=40), st.none(), st.integers(), st.floats(), st.decimals()),
    n=digits,
    state=st.one_of(st.just(RegisterState()), states()),
    offset=st.integers(min_value=-(10**6), max_value=10**6),
)
def test_never_raises_on_any_input(raw, n, state, offset):
    taken_at = NOW + timedelta(seconds=offset)
    verdict = check(raw, facts=MeterFacts(digits=n), state=state, taken_at=taken_at)
    assert verdict.status in {v.ACCEPTED, v.FLAGGED, v.REJECTED}
    assert set(verdict.reasons) <= v.REASONS
    assert (verdict.status == v.REJECTED) == bool(set(verdict.reasons) & v.REJECTIONS)


@given(
    n=digits,
    multiplier=multipliers,
    data=st.data(),
)
def test_accepted_consumption_is_dial_advance_times_multiplier(n, multiplier, data):
    dial = Decimal(10) ** n
    previous = data.draw(st.decimals(min_value=0, max_value=dial - Decimal("0.001"), places=3))
    value = data.draw(st.decimals(min_value=0, max_value=dial - Decimal("0.001"), places=3))
    state = RegisterState(
        last_value=previous,
        last_taken_at=LAST,
        last_real_value=previous,
        last_real_taken_at=LAST,
    )
    facts = MeterFacts(digits=n, multiplier=multiplier)
    verdict = check(str(value), facts=facts, state=state)
    if verdict.status == v.REJECTED:
        assert value < previous or value == previous  # lower, or nothing else to reject
        return
    step = value - previous if value >= previous else value + dial - previous
    assert verdict.consumption == (step * multiplier).quantize(
        Decimal("0.001"), rounding="ROUND_HALF_UP"
    )
    assert verdict.consumption >= 0
    assert verdict.rolled_over == (value < previous)


@given(n=digits, data=st.data())
def test_roll_over_from_top_tenth_to_bottom_tenth(n, data):
    dial = Decimal(10) ** n
    top = dial * Decimal("0.9")
    previous = data.draw(st.decimals(min_value=top, max_value=dial - Decimal("0.001"), places=3))
    value = data.draw(st.decimals(min_value=0, max_value=dial / 10 - Decimal("0.001"), places=3))
    assume(value < previous)
    state = RegisterState(
        last_value=previous, last_taken_at=LAST, last_real_value=previous, last_real_taken_at=LAST
    )
    verdict = check(str(value), facts=MeterFacts(digits=n), state=state)
    assert verdict.status == v.ACCEPTED and verdict.rolled_over
    assert v.ROLLED_OVER in verdict.reasons
    assert verdict.consumption == value + dial - previous


@given(state=states(), raw=st.decimals(min_value=0, max_value=99999, places=3))
def test_flagged_only_for_spikes(state, raw):
    verdict = check(str(raw), state=state)
    if verdict.status == v.FLAGGED:
        assert verdict.reasons[0] == v.SPIKE
        assert verdict.consumption > 0
