"""SLA clock: worked examples for every unit with and without pauses (weekends, holidays,
closures, DST), states at exact instants, and hypothesis properties. Pure: time is whatever
``now`` says; nothing reads the clock (one test proves it under time-machine)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from civicdesk.cases.sla import (
    OUTAGE_REPORT_RESOLUTION,
    UNITS,
    SlaClock,
    SlaPolicy,
    Target,
)
from civicdesk.core.calendars import calendar_for, parse_weekly

SAST = ZoneInfo("Africa/Johannesburg")
KYIV = ZoneInfo("Europe/Kyiv")
MSK = ZoneInfo("Europe/Moscow")
H = timedelta(hours=1)
M = timedelta(minutes=1)
US = timedelta(microseconds=1)

TSHWANE = calendar_for(
    "ZA",
    "Africa/Johannesburg",
    parse_weekly({"mon-fri": "16:00-19:00", "sat": "08:00-13:00"}),
    closures=[(date(2026, 12, 28), date(2027, 1, 1))],
    years=range(2024, 2030),
)
KYIV_CENTRES = calendar_for(
    "UA",
    "Europe/Kyiv",
    parse_weekly({"mon-fri": "08:00-21:00", "sat-sun": "09:00-17:00"}),
    years=range(2024, 2030),
)
RU_CALL = calendar_for(
    "RU",
    "Europe/Moscow",
    parse_weekly({"mon-fri": "09:00-13:00, 14:00-18:00"}),
    years=range(2023, 2030),
)

POLICY = SlaPolicy(first_response=Target(4, "working_hours"), resolution=Target(6, "working_hours"))
TSHWANE_CLOCK = SlaClock(POLICY, TSHWANE)
OUTAGE_CLOCK = SlaClock(SlaPolicy(None, OUTAGE_REPORT_RESOLUTION), RU_CALL)
KYIV_CLOCK = SlaClock(POLICY, KYIV_CENTRES)

SIX_HOURS = Target(6, "working_hours")
THREE_DAYS = Target(3, "calendar_days")


def sast(*args) -> datetime:
    return datetime(*args, tzinfo=SAST)


def kyiv(*args) -> datetime:
    return datetime(*args, tzinfo=KYIV)


def msk(*args) -> datetime:
    return datetime(*args, tzinfo=MSK)


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


CREATED = sast(2026, 4, 24, 18)  # Friday 18:00, the week of Freedom Day (Mon 27 April)


def test_outage_report_default():
    assert Target(8, "working_days") == OUTAGE_REPORT_RESOLUTION


# ---------------------------------------------------------------------------- working hours


@pytest.mark.parametrize(
    "pauses,due",
    [
        ((), sast(2026, 4, 25, 13)),  # Fri 18-19, Sat 08-13
        # 1.5 working hours paused on Saturday; Sunday and Freedom Day skipped.
        ([(sast(2026, 4, 25, 9), sast(2026, 4, 25, 10, 30))], sast(2026, 4, 28, 17, 30)),
        # Overlapping pauses merge into Sat 09:00-10:30.
        (
            [
                (sast(2026, 4, 25, 9), sast(2026, 4, 25, 10)),
                (sast(2026, 4, 25, 9, 30), sast(2026, 4, 25, 10, 30)),
            ],
            sast(2026, 4, 28, 17, 30),
        ),
        # A pause over Sunday and the holiday holds no working time: nothing changes.
        ([(sast(2026, 4, 26, 10), sast(2026, 4, 27, 20))], sast(2026, 4, 25, 13)),
        # A pause before creation is clipped: only 18:00-18:30 counts.
        ([(sast(2026, 4, 24, 17), sast(2026, 4, 24, 18, 30))], sast(2026, 4, 28, 16, 30)),
        ([(sast(2026, 4, 23, 17), sast(2026, 4, 23, 18))], sast(2026, 4, 25, 13)),
        # Paused after the due time: too late, the case has breached.
        ([(sast(2026, 4, 25, 14), sast(2026, 4, 28, 17))], sast(2026, 4, 25, 13)),
        # Paused exactly at the due time: on time, so the clock stops (1 h paused, Tue 16-17).
        ([(sast(2026, 4, 25, 13), sast(2026, 4, 28, 17))], sast(2026, 4, 28, 17)),
        # An open pause before the due time stops the clock: the due time is unknown.
        ([(sast(2026, 4, 25, 9), None)], None),
        ([(sast(2026, 4, 25, 14), None)], sast(2026, 4, 25, 13)),
    ],
)
def test_working_hours_due(pauses, due):
    assert TSHWANE_CLOCK.due(SIX_HOURS, CREATED, pauses) == due


def test_policy_targets():
    assert TSHWANE_CLOCK.first_response_due(CREATED) == sast(2026, 4, 25, 11)
    assert TSHWANE_CLOCK.resolution_due(CREATED) == sast(2026, 4, 25, 13)
    assert OUTAGE_CLOCK.first_response_due(msk(2024, 10, 31, 15)) is None
    assert OUTAGE_CLOCK.resolution_due(msk(2024, 10, 31, 15)) == msk(2024, 11, 12, 15)


def test_due_comes_back_in_the_zone_of_created():
    due = TSHWANE_CLOCK.due(SIX_HOURS, utc(CREATED))
    assert due == sast(2026, 4, 25, 13)
    assert due.tzinfo is UTC


@pytest.mark.parametrize(
    "now,state",
    [
        (sast(2026, 4, 24, 17), "ok"),  # before creation
        (sast(2026, 4, 25, 11, 47, 59), "ok"),
        (sast(2026, 4, 25, 11, 48), "at_risk"),  # 4 h 48 min = 80 % of 6 h
        (sast(2026, 4, 25, 13), "at_risk"),  # at the due time: still on time
        (sast(2026, 4, 25, 13) + US, "breached"),
        (sast(2026, 4, 26, 12), "breached"),
    ],
)
def test_working_hours_states(now, state):
    status = TSHWANE_CLOCK.evaluate(now, SIX_HOURS, CREATED)
    assert status.state == state
    assert TSHWANE_CLOCK.state(now, status.due, SIX_HOURS, CREATED) == state
    assert status.allowed == 6 * H
    assert status.remaining == status.allowed - status.elapsed


def test_open_pause_freezes_the_clock():
    pauses = [(sast(2026, 4, 25, 9), None)]
    for now in (sast(2026, 4, 26, 12), sast(2026, 5, 29, 12)):
        status = TSHWANE_CLOCK.evaluate(now, SIX_HOURS, CREATED, pauses)
        assert status.due is None
        assert status.paused
        assert status.state == "ok"
        assert status.elapsed == 2 * H  # Fri 18-19, Sat 08-09
        assert TSHWANE_CLOCK.remaining(now, SIX_HOURS, CREATED, pauses) == 4 * H
    # Resumed Tuesday 16:00 with 4 h left: Tue 16-19 (3 h), Wed 16-17 (1 h).
    resumed = [(sast(2026, 4, 25, 9), sast(2026, 4, 28, 16))]
    assert TSHWANE_CLOCK.due(SIX_HOURS, CREATED, resumed) == sast(2026, 4, 29, 17)
    # Paused after breaching: stays breached.
    late = TSHWANE_CLOCK.evaluate(
        sast(2026, 4, 26), SIX_HOURS, CREATED, [(sast(2026, 4, 25, 14), None)]
    )
    assert (late.state, late.paused, late.due) == ("breached", True, sast(2026, 4, 25, 13))


# ------------------------------------------------------------------------------ working days


OUTAGE_CREATED = msk(2024, 10, 31, 15)  # Thursday; Sat 2 Nov worked, Mon 4 Nov Unity Day


@pytest.mark.parametrize(
    "pauses,due",
    [
        ((), msk(2024, 11, 12, 15)),
        # One working day waiting for the customer (Tue 10:00 - Wed 10:00 = 3+4+1 h).
        ([(msk(2024, 11, 5, 10), msk(2024, 11, 6, 10))], msk(2024, 11, 13, 15)),
        # Friday evening to Monday morning: no working time, no change.
        ([(msk(2024, 11, 8, 18), msk(2024, 11, 11, 9))], msk(2024, 11, 12, 15)),
        # Lunch breaks hold no working time either.
        ([(msk(2024, 11, 5, 13), msk(2024, 11, 5, 14))], msk(2024, 11, 12, 15)),
        # 1 working hour paused: 12:30-13:00 and 14:00-14:30 around lunch.
        ([(msk(2024, 11, 5, 12, 30), msk(2024, 11, 5, 14, 30))], msk(2024, 11, 12, 16)),
        ([(msk(2024, 11, 13, 10), msk(2024, 11, 14, 10))], msk(2024, 11, 12, 15)),
    ],
)
def test_outage_report_eight_working_days(pauses, due):
    assert OUTAGE_CLOCK.due(OUTAGE_REPORT_RESOLUTION, OUTAGE_CREATED, pauses) == due


def test_outage_report_states():
    # Budget: Thu 15-18 (3 h) + 7 full days (56 h) + Tue 12 Nov 09-13, 14-15 (5 h) = 64 h.
    # 80 % = 51 h 12 min, reached at Monday 11 November 09:12.
    def state(now):
        return OUTAGE_CLOCK.evaluate(now, OUTAGE_REPORT_RESOLUTION, OUTAGE_CREATED)

    assert state(msk(2024, 11, 11, 9, 11)).state == "ok"
    assert state(msk(2024, 11, 11, 9, 12)).state == "at_risk"
    assert state(msk(2024, 11, 11, 9, 12)).allowed == 64 * H
    assert state(msk(2024, 11, 12, 15)).state == "at_risk"
    assert state(msk(2024, 11, 12, 15, 1)).state == "breached"
    assert state(msk(2024, 11, 12, 16)).remaining == -H


def test_working_days_across_holidays_and_a_closure():
    target = Target(3, "working_days")
    # Thu 24 Dec, (Christmas, Goodwill, closed 28 Dec - 1 Jan), Sat 2 Jan, Mon 4 Jan.
    assert TSHWANE_CLOCK.due(target, sast(2026, 12, 23, 17)) == sast(2027, 1, 4, 17)
    # Paused Thursday 24 Dec 16:00-17:00: one working hour later.
    pause = [(sast(2026, 12, 24, 16), sast(2026, 12, 24, 17))]
    assert TSHWANE_CLOCK.due(target, sast(2026, 12, 23, 17), pause) == sast(2027, 1, 4, 18)


def test_working_days_at_risk_with_nothing_left_before_the_due_time():
    # Saturday 10:00 + 1 working day = Tuesday (Freedom Day Monday) 10:00, clamped to 16:00.
    target = Target(1, "working_days")
    created = sast(2026, 4, 25, 10)
    assert TSHWANE_CLOCK.due(target, created) == sast(2026, 4, 28, 16)

    def status(now):
        return TSHWANE_CLOCK.evaluate(now, target, created)

    assert status(sast(2026, 4, 25, 12, 23)).state == "ok"
    assert status(sast(2026, 4, 25, 12, 24)).state == "at_risk"  # 2.4 h of 3 h
    assert status(sast(2026, 4, 26, 12)).remaining == timedelta(0)
    assert status(sast(2026, 4, 28, 16)).state == "at_risk"
    assert status(sast(2026, 4, 28, 16) + US).state == "breached"
    # Waiting for the customer from Sunday to Tuesday 17:00: paused at Tue 16-17; due then.
    paused = [(sast(2026, 4, 26, 10), sast(2026, 4, 28, 17))]
    assert TSHWANE_CLOCK.due(target, created, paused) == sast(2026, 4, 28, 17)


# ----------------------------------------------------------------------------- calendar days


@pytest.mark.parametrize(
    "pauses,due",
    [
        ((), sast(2026, 4, 27, 18)),  # the holiday doesn't matter
        ([(sast(2026, 4, 25, 10), sast(2026, 4, 25, 22))], sast(2026, 4, 28, 6)),
        ([(sast(2026, 4, 28, 10), sast(2026, 4, 28, 22))], sast(2026, 4, 27, 18)),  # too late
        ([(sast(2026, 4, 25, 10), None)], None),
    ],
)
def test_calendar_days(pauses, due):
    assert TSHWANE_CLOCK.due(THREE_DAYS, CREATED, pauses) == due


def test_calendar_days_across_dst():
    created = kyiv(2026, 3, 28, 12)
    one_day = Target(1, "calendar_days")
    assert KYIV_CLOCK.due(one_day, created) == kyiv(2026, 3, 29, 12)
    assert KYIV_CLOCK.evaluate(created, one_day, created).allowed == 23 * H
    two_days = Target(2, "calendar_days")
    assert KYIV_CLOCK.due(two_days, created) == kyiv(2026, 3, 30, 12)
    # Paused 02:00 EET - 05:00 EEST on the night the clocks go forward: 2 real hours.
    pause = [(kyiv(2026, 3, 29, 2), kyiv(2026, 3, 29, 5))]
    assert KYIV_CLOCK.due(two_days, created, pause) == kyiv(2026, 3, 30, 14)
    status = KYIV_CLOCK.evaluate(kyiv(2026, 3, 29, 5), two_days, created, pause)
    assert status.elapsed == 14 * H  # 12:00 EET to 02:00 EET


# ---------------------------------------------------------------------------------- validation


def test_invalid_values():
    for amount in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            Target(amount, "working_days")
    with pytest.raises(ValueError):
        Target(1, "fortnights")  # type: ignore[arg-type]
    for fraction in (0, 1.2, -0.5):
        with pytest.raises(ValueError):
            SlaPolicy(None, None, at_risk_fraction=fraction)
    with pytest.raises(ValueError, match="ends before"):
        TSHWANE_CLOCK.due(SIX_HOURS, CREATED, [(sast(2026, 4, 25, 10), sast(2026, 4, 25, 9))])
    with pytest.raises(ValueError, match="naive"):
        TSHWANE_CLOCK.due(SIX_HOURS, datetime(2026, 4, 24, 18))
    with pytest.raises(ValueError, match="naive"):
        TSHWANE_CLOCK.due(SIX_HOURS, CREATED, [(datetime(2026, 4, 25, 9), None)])


def test_nothing_reads_the_clock():
    pauses = [(sast(2026, 4, 25, 9), sast(2026, 4, 25, 10, 30))]
    now = sast(2026, 4, 25, 12)
    with time_machine.travel(datetime(2026, 4, 25, 12, tzinfo=UTC), tick=False):
        first = TSHWANE_CLOCK.evaluate(now, SIX_HOURS, CREATED, pauses)
    with time_machine.travel(datetime(2031, 1, 1, tzinfo=UTC), tick=False):
        second = TSHWANE_CLOCK.evaluate(now, SIX_HOURS, CREATED, pauses)
    assert first == second
    assert first.state == "ok"
    assert first.due == sast(2026, 4, 28, 17, 30)


# ---------------------------------------------------------------------------------- properties

CLOCKS = [TSHWANE_CLOCK, KYIV_CLOCK, SlaClock(POLICY, RU_CALL)]
created_times = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2026, 12, 31),
    timezones=st.sampled_from([UTC, KYIV, SAST]),
    allow_imaginary=False,
)
targets = st.builds(Target, st.integers(1, 15), st.sampled_from(UNITS))
WORKING_UNITS = ("working_hours", "working_days")


@st.composite
def closed_pauses(draw, created, count=4):
    """Up to ``count`` closed pauses around ``created`` (some before it, some overlapping)."""
    spans = []
    for _ in range(draw(st.integers(0, count))):
        start = utc(created) + draw(st.integers(-48 * 60, 40 * 24 * 60)) * M
        spans.append((start, start + draw(st.integers(0, 5 * 24 * 60)) * M))
    return spans


PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.sampled_from(CLOCKS), targets, created_times, st.data())
def test_pausing_never_makes_a_due_time_earlier(clock, target, created, data):
    pauses = data.draw(closed_pauses(created))
    extra = data.draw(closed_pauses(created, count=2))
    plain = clock.due(target, created)
    paused = clock.due(target, created, pauses)
    more = clock.due(target, created, pauses + extra)
    assert utc(plain) <= utc(paused) <= utc(more)


@PROPERTY
@given(st.sampled_from(CLOCKS), targets, created_times, st.data())
def test_a_pause_outside_working_hours_changes_nothing(clock, target, created, data):
    assume(target.unit in WORKING_UNITS)
    calendar = clock.calendar
    start = utc(created) + data.draw(st.integers(-48 * 60, 30 * 24 * 60)) * M
    assume(not calendar.is_working(start))
    gap = utc(calendar.next_working_instant(start)) - start
    end = start + gap * data.draw(st.floats(0, 1))
    assert utc(clock.due(target, created, [(start, end)])) == utc(clock.due(target, created))
    # Also next to other pauses, as long as it doesn't touch them (merging would join them).
    others = data.draw(closed_pauses(created))
    assume(all(e < start or s > end for s, e in others))
    with_gap = clock.due(target, created, [*others, (start, end)])
    assert utc(with_gap) == utc(clock.due(target, created, others))


RANK = {"ok": 0, "at_risk": 1, "breached": 2}


@PROPERTY
@given(st.sampled_from(CLOCKS), targets, created_times, st.data())
def test_states_only_move_forward_in_time(clock, target, created, data):
    pauses = data.draw(closed_pauses(created))
    offsets = sorted(data.draw(st.lists(st.integers(-24 * 60, 60 * 24 * 60), max_size=8)))
    ranks = [
        RANK[clock.evaluate(utc(created) + o * M, target, created, pauses).state] for o in offsets
    ]
    assert ranks == sorted(ranks)


@PROPERTY
@given(st.sampled_from(CLOCKS), targets, created_times, st.data())
def test_the_due_time_is_when_the_budget_runs_out(clock, target, created, data):
    pauses = data.draw(closed_pauses(created))
    due = clock.due(target, created, pauses)
    at_due = clock.evaluate(due, target, created, pauses)
    assert at_due.due == due
    assert at_due.allowed > timedelta(0)
    assert at_due.elapsed == at_due.allowed
    assert at_due.remaining == timedelta(0)
    assert at_due.state != "breached"
    after = clock.evaluate(utc(due) + US, target, created, pauses)
    assert after.state == "breached"
    assert clock.state(utc(due) + US, due, target, created, pauses) == "breached"


@PROPERTY
@given(st.sampled_from(CLOCKS), targets, created_times, st.data())
def test_an_open_pause_never_breaches(clock, target, created, data):
    pauses = data.draw(closed_pauses(created, count=2))
    plain_due = utc(clock.due(target, created, pauses))
    latest_end = max([utc(created)] + [e for _, e in pauses])
    start = max(latest_end, utc(created)) + data.draw(st.integers(1, 10 * 24 * 60)) * M
    now = start + data.draw(st.integers(0, 100 * 24 * 60)) * M
    status = clock.evaluate(now, target, created, [*pauses, (start, None)])
    assert status.paused
    if start <= plain_due:
        assert status.due is None
        assert status.state != "breached"
        frozen = clock.evaluate(start, target, created, [*pauses, (start, None)])
        assert status.elapsed == frozen.elapsed
    else:
        assert status.due == plain_due
        assert status.state == "breached"
