"""Business calendars: worked examples (Tshwane, Kyiv, a Russian call centre, DST days) and
hypothesis properties over real and random calendars, checked against a brute-force oracle."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.core.calendars import (
    END_OF_DAY,
    BusinessCalendar,
    NoWorkingTimeError,
    calendar_for,
    parse_weekly,
    parse_windows,
)

SAST = ZoneInfo("Africa/Johannesburg")
KYIV = ZoneInfo("Europe/Kyiv")
MSK = ZoneInfo("Europe/Moscow")
H = timedelta(hours=1)
M = timedelta(minutes=1)
US = timedelta(microseconds=1)

TSHWANE_WEEKLY = parse_weekly({"mon-fri": "16:00-19:00", "sat": "08:00-13:00"})
KYIV_WEEKLY = parse_weekly({"mon-fri": "08:00-21:00", "sat-sun": "09:00-17:00"})
RU_WEEKLY = parse_weekly({"mon-fri": "09:00-13:00, 14:00-18:00"})
ALWAYS = parse_weekly({"mon-sun": "00:00-24:00"})

# Tshwane virtual sessions; closed between Christmas and New Year 2026 as an operator closure.
TSHWANE = calendar_for(
    "ZA",
    "Africa/Johannesburg",
    TSHWANE_WEEKLY,
    closures=[(date(2026, 12, 28), date(2027, 1, 1))],
    years=range(2024, 2030),
)
KYIV_CENTRES = calendar_for("UA", "Europe/Kyiv", KYIV_WEEKLY, years=range(2022, 2030))
RU_CALL = calendar_for("RU", "Europe/Moscow", RU_WEEKLY, years=range(2010, 2030))
KYIV_24_7 = BusinessCalendar("Europe/Kyiv", ALWAYS)
MOSCOW_24_7 = BusinessCalendar("Europe/Moscow", ALWAYS)

REAL_CALENDARS = [TSHWANE, KYIV_CENTRES, RU_CALL, KYIV_24_7]


def sast(*args) -> datetime:
    return datetime(*args, tzinfo=SAST)


def kyiv(*args, fold=0) -> datetime:
    return datetime(*args, tzinfo=KYIV, fold=fold)


def msk(*args) -> datetime:
    return datetime(*args, tzinfo=MSK)


def utc(dt: datetime) -> datetime:
    """Compare and subtract in UTC: Python does both by wall clock within one zone."""
    return dt.astimezone(UTC)


def elapsed(a: datetime, b: datetime) -> timedelta:
    return utc(b) - utc(a)


# ------------------------------------------------------------------------ Tshwane (ZA, 2026)


def test_za_holidays_come_from_the_library():
    assert date(2026, 4, 27) in TSHWANE.holidays  # Freedom Day, a Monday
    assert date(2026, 9, 24) in TSHWANE.holidays  # Heritage Day, a Thursday
    assert date(2026, 8, 10) in TSHWANE.holidays  # Women's Day (Sunday) observed on Monday
    assert not TSHWANE.is_working_day(date(2026, 4, 27))
    assert not TSHWANE.is_working_day(date(2026, 4, 26))  # Sunday
    assert TSHWANE.is_working_day(date(2026, 4, 25))  # Saturday


@pytest.mark.parametrize(
    "start,duration,due",
    [
        # Fri 18-19 (1 h) + Sat 08-11 (3 h).
        (sast(2026, 4, 24, 18), 4 * H, sast(2026, 4, 25, 11)),
        # Work that ends at a window's end ends there, not at the next opening.
        (sast(2026, 4, 24, 18), 1 * H, sast(2026, 4, 24, 19)),
        (sast(2026, 4, 24, 18), 6 * H, sast(2026, 4, 25, 13)),
        # Sat 12-13 (1 h); Sunday; Monday 27 April is Freedom Day; Tue 16-18 (2 h).
        (sast(2026, 4, 25, 12), 3 * H, sast(2026, 4, 28, 18)),
        # Outside hours on a closed day: the clock starts at the next opening.
        (sast(2026, 4, 26, 10), 30 * M, sast(2026, 4, 28, 16, 30)),
        # Wed 18:30-19 (30 min); Heritage Day Thu 24 Sep; Fri 16:00-17:30.
        (sast(2026, 9, 23, 18, 30), 2 * H, sast(2026, 9, 25, 17, 30)),
        # 48 working hours from Mon 20 Apr 16:00: 20 h that week, 14 h in Freedom Day week
        # (Mon 27 Apr and Fri 1 May are holidays), then Mon-Thu 12 h and Fri 2 h.
        (sast(2026, 4, 20, 16), 48 * H, sast(2026, 5, 8, 18)),
        # Across the year end: Dec 24 (Thu) 16-19, then Christmas, Goodwill, the closure
        # 28 Dec - 1 Jan, and Saturday 2 Jan 2027 08:00-09:00.
        (sast(2026, 12, 24, 16), 4 * H, sast(2027, 1, 2, 9)),
    ],
)
def test_tshwane_add_working_time(start, duration, due):
    assert TSHWANE.add_working_time(start, duration) == due
    assert TSHWANE.working_time_between(start, due) == duration


def test_tshwane_week_totals():
    assert TSHWANE.working_time_between(sast(2026, 4, 20), sast(2026, 4, 27)) == 20 * H
    assert TSHWANE.working_time_between(sast(2026, 4, 27), sast(2026, 5, 4)) == 14 * H
    assert TSHWANE.working_time_between(sast(2026, 5, 4), sast(2026, 4, 27)) == -14 * H


@pytest.mark.parametrize(
    "start,n,due",
    [
        # In hours: same wall-clock time n working days later.
        (sast(2026, 4, 23, 17, 30), 1, sast(2026, 4, 24, 17, 30)),
        # Friday 17:30 -> Saturday 17:30 is after Saturday's close: clamped to 13:00.
        (sast(2026, 4, 24, 17, 30), 1, sast(2026, 4, 25, 13)),
        # Two working days: Saturday, then Tuesday (Monday 27 April is Freedom Day).
        (sast(2026, 4, 24, 17, 30), 2, sast(2026, 4, 28, 17, 30)),
        # Saturday 10:00 -> Tuesday 10:00 is before Tuesday's opening: clamped to 16:00.
        (sast(2026, 4, 25, 10), 1, sast(2026, 4, 28, 16)),
        # Outside hours: close of business of the n-th working day.
        (sast(2026, 4, 26, 10), 1, sast(2026, 4, 28, 19)),
        (sast(2026, 4, 24, 19, 30), 1, sast(2026, 4, 25, 13)),
        (sast(2026, 4, 20, 10), 1, sast(2026, 4, 20, 19)),  # Monday, before opening
        # Sunday + 8: Tue 28, Wed 29, Thu 30, (Fri 1 May), Sat 2, Mon 4, Tue 5, Wed 6, Thu 7.
        (sast(2026, 4, 26, 10), 8, sast(2026, 5, 7, 19)),
        (sast(2026, 9, 23, 17), 1, sast(2026, 9, 25, 17)),  # over Heritage Day
        # Thu 24 Dec, (25, 26 holidays, 28 Dec - 1 Jan closed), Sat 2 Jan, Mon 4 Jan.
        (sast(2026, 12, 23, 17), 3, sast(2027, 1, 4, 17)),
        (sast(2026, 12, 23, 17), 2, sast(2027, 1, 2, 13)),
        (sast(2026, 12, 23, 17), 0, sast(2026, 12, 23, 17)),
    ],
)
def test_tshwane_add_working_days(start, n, due):
    assert TSHWANE.add_working_days(start, n) == due


def test_tshwane_queries():
    assert TSHWANE.is_working(sast(2026, 4, 24, 16))
    assert not TSHWANE.is_working(sast(2026, 4, 24, 19))  # windows are half-open
    assert not TSHWANE.is_working(sast(2026, 4, 27, 17))  # Freedom Day
    assert not TSHWANE.is_working(sast(2026, 12, 29, 17))  # closure
    assert TSHWANE.next_working_instant(sast(2026, 4, 27, 17)) == sast(2026, 4, 28, 16)
    assert TSHWANE.next_working_instant(sast(2026, 4, 28, 16, 5)) == sast(2026, 4, 28, 16, 5)
    assert TSHWANE.next_working_instant(sast(2026, 12, 24, 19)) == sast(2027, 1, 2, 8)
    assert TSHWANE.working_windows(date(2026, 4, 25)) == (
        (sast(2026, 4, 25, 8), sast(2026, 4, 25, 13)),
    )
    assert TSHWANE.working_windows(date(2026, 4, 27)) == ()


def test_utc_in_utc_out_and_any_zone_in():
    start = datetime(2026, 4, 24, 16, tzinfo=UTC)  # 18:00 SAST
    due = TSHWANE.add_working_time(start, 4 * H)
    assert due == datetime(2026, 4, 25, 9, tzinfo=UTC)
    assert due.tzinfo is UTC
    new_york = start.astimezone(ZoneInfo("America/New_York"))
    other = TSHWANE.add_working_time(new_york, 4 * H)
    assert other == due
    assert other.tzinfo == ZoneInfo("America/New_York")
    assert TSHWANE.add_working_days(start, 1).tzinfo is UTC


def test_calendar_days_ignore_holidays():
    assert TSHWANE.add_calendar_days(sast(2026, 4, 24, 18), 3) == sast(2026, 4, 27, 18)
    assert TSHWANE.add_calendar_days(sast(2026, 4, 24, 18), -1) == sast(2026, 4, 23, 18)


# ------------------------------------------------------------------- Kyiv (UA, martial law)


def test_ua_holidays_under_martial_law():
    """What the holidays library says: no public holidays (days off) from 2023 on."""
    for year in (2023, 2024, 2025, 2026):
        assert list(holidays.country_holidays("UA", years=year)) == []
    # 2022: only the days before martial law (Law 2136-IX) are days off.
    assert sorted(holidays.country_holidays("UA", years=2022)) == [
        date(2022, 1, 1),
        date(2022, 1, 3),
        date(2022, 1, 7),
        date(2022, 3, 7),
        date(2022, 3, 8),
    ]
    # The dates live on as working days in the WORKDAY category, which we don't close.
    workday = holidays.country_holidays("UA", years=2026, categories=("workday",))
    assert date(2026, 8, 24) in workday  # Independence Day
    assert KYIV_CENTRES.holidays == frozenset(holidays.country_holidays("UA", years=2022))
    assert KYIV_CENTRES.is_working(kyiv(2026, 8, 24, 10))
    assert KYIV_CENTRES.is_working(kyiv(2026, 1, 1, 10))


def test_kyiv_centres_over_the_spring_dst_weekend():
    # Fri 20-21 (1 h) + Sat 09-17 (8 h) + Sun 29 March (clocks went forward at 03:00) 09-10.
    due = KYIV_CENTRES.add_working_time(kyiv(2026, 3, 27, 20), 10 * H)
    assert due == kyiv(2026, 3, 29, 10)
    assert due.utcoffset() == 3 * H
    assert due.astimezone(UTC) == datetime(2026, 3, 29, 7, tzinfo=UTC)
    weekend = KYIV_CENTRES.working_time_between(kyiv(2026, 3, 28), kyiv(2026, 3, 30))
    assert weekend == 16 * H
    assert elapsed(kyiv(2026, 3, 28), kyiv(2026, 3, 30)) == 47 * H


@pytest.mark.parametrize(
    "start,n,due",
    [
        (kyiv(2026, 3, 27, 20), 1, kyiv(2026, 3, 28, 17)),  # weekday 20:00 > Sat close 17:00
        (kyiv(2026, 3, 28, 10), 1, kyiv(2026, 3, 29, 10)),  # Sun 10:00 EEST, 23 h later
        (kyiv(2026, 3, 29, 16), 1, kyiv(2026, 3, 30, 16)),
        (kyiv(2026, 3, 29, 8), 1, kyiv(2026, 3, 29, 17)),  # before opening: close of business
        (kyiv(2026, 10, 24, 10), 1, kyiv(2026, 10, 25, 10)),  # 25 h later
    ],
)
def test_kyiv_add_working_days(start, n, due):
    assert KYIV_CENTRES.add_working_days(start, n) == due


def test_kyiv_calendar_days_across_dst():
    spring = KYIV_CENTRES.add_calendar_days(kyiv(2026, 3, 28, 12), 1)
    assert spring == kyiv(2026, 3, 29, 12)
    assert elapsed(kyiv(2026, 3, 28, 12), spring) == 23 * H
    autumn = KYIV_CENTRES.add_calendar_days(kyiv(2026, 10, 24, 12), 1)
    assert elapsed(kyiv(2026, 10, 24, 12), autumn) == 25 * H
    # The second 03:30 of 25 October keeps its fold; a skipped wall time reads as the jump.
    second = kyiv(2026, 10, 25, 3, 30, fold=1)
    assert KYIV_CENTRES.add_calendar_days(second, 0) == second
    assert KYIV_CENTRES.add_calendar_days(kyiv(2026, 3, 28, 3, 30), 1) == kyiv(2026, 3, 29, 4)


# ------------------------------------------------------------------- DST days, wall-clock rules


def test_dst_days_are_23_and_25_hours_long():
    assert KYIV_24_7.working_time_between(kyiv(2026, 3, 29), kyiv(2026, 3, 30)) == 23 * H
    assert KYIV_24_7.working_time_between(kyiv(2026, 10, 25), kyiv(2026, 10, 26)) == 25 * H
    assert KYIV_24_7.working_time_between(kyiv(2026, 3, 30), kyiv(2026, 3, 31)) == 24 * H
    # Moscow's history: the last spring-forward (2011) and the move back to UTC+3 (2014).
    assert MOSCOW_24_7.working_time_between(msk(2011, 3, 27), msk(2011, 3, 28)) == 23 * H
    assert MOSCOW_24_7.working_time_between(msk(2014, 10, 26), msk(2014, 10, 27)) == 25 * H
    assert MOSCOW_24_7.working_time_between(msk(2026, 3, 29), msk(2026, 3, 30)) == 24 * H


@pytest.mark.parametrize(
    "window,day,length,first",
    [
        # A window spanning the change is as long as the real time that passed.
        ("02:00-05:00", date(2026, 3, 29), 2 * H, kyiv(2026, 3, 29, 2)),
        ("02:00-05:00", date(2026, 10, 25), 4 * H, kyiv(2026, 10, 25, 2)),
        # Starting in the skipped hour (03:00-04:00): it starts when the clocks jump, 04:00.
        ("03:30-06:00", date(2026, 3, 29), 2 * H, kyiv(2026, 3, 29, 4)),
        # Starting in the repeated hour: the first 03:30 (EEST), so 3.5 h until 06:00 EET.
        ("03:30-06:00", date(2026, 10, 25), 3.5 * H, kyiv(2026, 10, 25, 3, 30)),
        # Ending in the repeated hour: the first occurrence.
        ("02:00-03:30", date(2026, 10, 25), 1.5 * H, kyiv(2026, 10, 25, 2)),
    ],
)
def test_windows_on_dst_days(window, day, length, first):
    calendar = BusinessCalendar("Europe/Kyiv", {6: parse_windows(window)})
    ((opening, closing),) = calendar.working_windows(day)
    assert opening == first
    assert elapsed(opening, closing) == length
    midnight = datetime.combine(day, time(0), tzinfo=KYIV)
    assert calendar.working_time_between(midnight, midnight + 30 * H) == length


def test_a_window_inside_the_skipped_hour_is_empty_that_day():
    calendar = BusinessCalendar("Europe/Kyiv", {6: parse_windows("03:00-04:00")})
    assert not calendar.is_working_day(date(2026, 3, 29))
    assert calendar.is_working_day(date(2026, 3, 22))
    assert calendar.next_working_instant(kyiv(2026, 3, 28)) == kyiv(2026, 4, 5, 3)


def test_the_repeated_hour_counts_once_when_the_window_ends_inside_it():
    calendar = BusinessCalendar("Europe/Kyiv", {6: parse_windows("02:00-03:30")})
    assert calendar.is_working(kyiv(2026, 10, 25, 3, 15))  # first 03:15 (EEST)
    assert not calendar.is_working(kyiv(2026, 10, 25, 3, 15, fold=1))  # second 03:15 (EET)


def test_night_shift_across_midnight_with_24_00():
    weekly = {0: parse_windows("22:00-24:00"), 1: parse_windows("00:00-06:00")}
    assert weekly[0] == ((time(22), END_OF_DAY),)
    calendar = BusinessCalendar("Africa/Johannesburg", weekly)
    monday = sast(2026, 5, 4, 22)
    assert calendar.add_working_time(monday, 2 * H) == sast(2026, 5, 5, 0)
    assert calendar.add_working_time(monday + H, 2 * H) == sast(2026, 5, 5, 1)
    assert calendar.working_time_between(monday, sast(2026, 5, 5, 6)) == 8 * H
    assert calendar.is_working(sast(2026, 5, 5, 0))
    assert not calendar.is_working(sast(2026, 5, 4, 21, 59))
    assert calendar.working_windows(date(2026, 5, 4)) == ((monday, sast(2026, 5, 5)),)


# ---------------------------------------------------------------- Russia: transferred days off


def test_ru_transferred_working_saturdays_and_lunch_breaks():
    assert RU_CALL.is_working_day(date(2024, 11, 2))  # Saturday made a working day
    assert not RU_CALL.is_working_day(date(2024, 11, 4))  # Unity Day
    assert not RU_CALL.is_working_day(date(2024, 4, 29))  # day off moved from Sat 27 April
    assert RU_CALL.is_working_day(date(2024, 4, 27))
    assert RU_CALL.add_working_days(msk(2024, 11, 1, 10), 1) == msk(2024, 11, 2, 10)
    assert RU_CALL.add_working_days(msk(2024, 11, 1, 10), 2) == msk(2024, 11, 5, 10)
    # Outage report received Thu 31 Oct 15:00: 8 working days is Tue 12 November 15:00.
    assert RU_CALL.add_working_days(msk(2024, 10, 31, 15), 8) == msk(2024, 11, 12, 15)
    # New Year: Sat 28 Dec 2024 worked, 30 Dec - 8 Jan off.
    assert RU_CALL.add_working_days(msk(2024, 12, 27, 10), 1) == msk(2024, 12, 28, 10)
    assert RU_CALL.add_working_days(msk(2024, 12, 27, 10), 2) == msk(2025, 1, 9, 10)
    # Lunch 13:00-14:00.
    assert not RU_CALL.is_working(msk(2024, 11, 5, 13, 30))
    assert RU_CALL.add_working_time(msk(2024, 11, 5, 12, 30), H) == msk(2024, 11, 5, 14, 30)
    assert RU_CALL.add_working_time(msk(2024, 11, 5, 12), H) == msk(2024, 11, 5, 13)
    assert RU_CALL.add_working_days(msk(2024, 11, 5, 13, 30), 1) == msk(2024, 11, 6, 13, 30)


def test_transferred_workdays_can_be_left_to_the_weekly_schedule():
    plain = calendar_for(
        "RU", "Europe/Moscow", RU_WEEKLY, years=[2024], transferred_workdays_as=None
    )
    assert not plain.is_working_day(date(2024, 11, 2))


# ------------------------------------------------------------------ overrides, closures, errors


def test_precedence_closure_override_holiday_weekly():
    freedom, tuesday = date(2026, 4, 27), date(2026, 4, 28)
    calendar = calendar_for(
        "ZA",
        "Africa/Johannesburg",
        TSHWANE_WEEKLY,
        closures=[(tuesday, tuesday)],
        years=[2026],
        overrides={freedom: parse_windows("09:00-10:00"), tuesday: parse_windows("09:00-10:00")},
    )
    assert calendar.windows_of(freedom) == ((time(9), time(10)),)  # override beats holiday
    assert calendar.windows_of(tuesday) == ()  # closure beats override
    assert calendar.is_working(sast(2026, 4, 27, 9, 30))
    assert not calendar.is_working(sast(2026, 4, 28, 9, 30))


@pytest.mark.parametrize(
    "weekly,message",
    [
        ({0: ((time(10), time(9)),)}, "must end after it starts"),
        ({0: ((time(10), time(12)), (time(11), time(13)))}, "overlaps"),
        ({0: ((time(14), time(15)), (time(10), time(12)))}, "overlaps or precedes"),
        ({0: ((time(0), END_OF_DAY), (time(1), time(2)))}, "overlaps"),
        ({7: ((time(9), time(10)),)}, "weekday"),
        ({}, "no opening windows"),
        ({0: ()}, "no opening windows"),
        ({0: ((time(9), time(10), time(11)),)}, "pair"),
    ],
)
def test_invalid_weekly(weekly, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar("UTC", weekly)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="timezone"):
        BusinessCalendar("Mars/Olympus", TSHWANE_WEEKLY)
    with pytest.raises(ValueError, match="without tzinfo"):
        BusinessCalendar("UTC", {0: ((time(9, tzinfo=UTC), time(10)),)})
    with pytest.raises(TypeError):
        BusinessCalendar("UTC", {0: "09:00-10:00"})
    with pytest.raises(ValueError, match="ends before"):
        BusinessCalendar("UTC", TSHWANE_WEEKLY, closures=((date(2026, 2, 2), date(2026, 2, 1)),))
    with pytest.raises(TypeError):
        BusinessCalendar("UTC", TSHWANE_WEEKLY, holidays=frozenset({datetime(2026, 1, 1)}))
    with pytest.raises(ValueError, match="naive"):
        TSHWANE.is_working(datetime(2026, 4, 24, 17))
    with pytest.raises(ValueError, match="negative"):
        TSHWANE.add_working_time(sast(2026, 4, 24, 17), -H)
    with pytest.raises(ValueError, match="negative"):
        TSHWANE.add_working_days(sast(2026, 4, 24, 17), -1)
    with pytest.raises(TypeError):
        TSHWANE.add_working_days(sast(2026, 4, 24, 17), True)
    with pytest.raises(ValueError, match="country"):
        calendar_for("XX", "UTC", TSHWANE_WEEKLY, years=[2026])
    assert TSHWANE.add_working_time(sast(2026, 4, 26), timedelta(0)) == sast(2026, 4, 26)


def test_endless_closure_raises_instead_of_looping():
    calendar = BusinessCalendar(
        "UTC", TSHWANE_WEEKLY, closures=((date(2026, 1, 1), date(2050, 12, 31)),)
    )
    start = datetime(2026, 6, 1, tzinfo=UTC)
    with pytest.raises(NoWorkingTimeError):
        calendar.add_working_time(start, H)
    with pytest.raises(NoWorkingTimeError):
        calendar.add_working_days(start, 1)
    with pytest.raises(NoWorkingTimeError):
        calendar.next_working_instant(start)


def test_parse_helpers():
    assert parse_windows("08:00-13:00, 14:00-24:00") == (
        (time(8), time(13)),
        (time(14), END_OF_DAY),
    )
    assert parse_windows("closed") == ()
    assert parse_weekly({"mon-fri": "16:00-19:00", "sat": "08:00-13:00"}) == {
        0: ((time(16), time(19)),),
        1: ((time(16), time(19)),),
        2: ((time(16), time(19)),),
        3: ((time(16), time(19)),),
        4: ((time(16), time(19)),),
        5: ((time(8), time(13)),),
    }
    for bad in ("8-13", "08:00", "24:00-24:00", "08:00-25:00", "9:5-10:00"):
        with pytest.raises(ValueError):
            parse_windows(bad)
    for bad in ({"mon": "08:00-09:00", "mon-tue": "10:00-11:00"}, {"fri-mon": "08:00-09:00"}):
        with pytest.raises(ValueError):
            parse_weekly(bad)
    with pytest.raises(ValueError, match="unknown day"):
        parse_weekly({"monday": "08:00-09:00"})


def test_immutable_hashable_picklable():
    copy = pickle.loads(pickle.dumps(TSHWANE))
    assert copy == TSHWANE
    assert hash(copy) == hash(TSHWANE)
    assert copy.add_working_days(sast(2026, 4, 26, 10), 8) == sast(2026, 5, 7, 19)
    with pytest.raises(TypeError):
        TSHWANE.weekly[6] = ((time(9), time(10)),)  # type: ignore[index]
    with pytest.raises(AttributeError):
        TSHWANE.tz = "UTC"  # type: ignore[misc]


# --------------------------------------------------------------------------------- properties

ZONES = [
    "UTC",
    "Africa/Johannesburg",
    "Europe/Kyiv",
    "Europe/Moscow",
    "America/Havana",  # DST changes at midnight
    "America/Santiago",  # DST changes at 24:00
    "Australia/Lord_Howe",  # 30-minute DST
]
ORACLE_ZONES = ["UTC", "Africa/Johannesburg", "Europe/Kyiv", "Europe/Moscow", "Australia/Lord_Howe"]
SPAN_START, SPAN_END = date(2025, 1, 1), date(2027, 12, 31)


def _quarter(q: int) -> time:
    return END_OF_DAY if q == 96 else time(q // 4, q % 4 * 15)


@st.composite
def calendars(draw, zones=ZONES, first_quarter=0):
    """Random calendars: 0-3 windows a day on a quarter-hour grid (24:00 included), random
    holidays and closures."""
    tz = draw(st.sampled_from(zones))
    weekly = {}
    for weekday in range(7):
        count = draw(st.integers(0, 3))
        points = draw(
            st.lists(
                st.integers(first_quarter, 96),
                min_size=2 * count,
                max_size=2 * count,
                unique=True,
            )
        )
        points.sort()
        weekly[weekday] = tuple(
            (_quarter(points[i]), _quarter(points[i + 1])) for i in range(0, len(points), 2)
        )
    if not any(weekly.values()):
        weekly[draw(st.integers(0, 6))] = ((time(9), time(17)),)
    days = st.dates(SPAN_START, SPAN_END)
    holiday_set = draw(st.frozensets(days, max_size=30))
    closures = tuple(
        (first, first + timedelta(days=length))
        for first, length in draw(st.lists(st.tuples(days, st.integers(0, 20)), max_size=3))
    )
    return BusinessCalendar(tz, weekly, holidays=holiday_set, closures=closures)


any_calendar = st.one_of(st.sampled_from(REAL_CALENDARS), calendars())
instants = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 6, 30),
    timezones=st.sampled_from([UTC, KYIV, ZoneInfo("America/New_York")]),
    allow_imaginary=False,
)
durations = st.one_of(
    st.integers(1, 200 * 60).map(lambda m: timedelta(minutes=m)),
    st.integers(1, 200 * 3600 * 10**6).map(lambda us: timedelta(microseconds=us)),
)
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _closed_on(calendar: BusinessCalendar, day: date) -> bool:
    return day in calendar.holidays or any(a <= day <= b for a, b in calendar.closures)


def _working_day_owning(calendar: BusinessCalendar, instant: datetime) -> date | None:
    """The working day whose opening span [first start, last end] contains ``instant``."""
    instant = utc(instant)
    for probe in (instant, instant - US):
        day = probe.astimezone(calendar.zone).date()
        windows = calendar.working_windows(day)
        if windows and utc(windows[0][0]) <= instant <= utc(windows[-1][1]):
            return day
    return None


@PROPERTY
@given(any_calendar, instants, durations)
def test_add_then_between_is_the_identity(calendar, start, duration):
    due = utc(calendar.add_working_time(start, duration))
    assert due > utc(start)
    assert calendar.working_time_between(start, due) == duration
    # The earliest such instant: a working instant, or exactly a window's end.
    assert calendar.is_working(due) or calendar.is_working(due - US)
    assert calendar.working_time_between(start, due - US) < duration


@PROPERTY
@given(any_calendar, instants, durations, durations)
def test_add_working_time_is_monotonic_and_composes(calendar, start, first, second):
    low, high = sorted((first, second))
    assert utc(calendar.add_working_time(start, low)) <= utc(calendar.add_working_time(start, high))
    stepwise = calendar.add_working_time(calendar.add_working_time(start, first), second)
    assert stepwise == calendar.add_working_time(start, first + second)


@PROPERTY
@given(any_calendar, instants, durations)
def test_results_never_fall_on_a_holiday_or_closure(calendar, start, duration):
    due = utc(calendar.add_working_time(start, duration))
    owner = due if calendar.is_working(due) else due - US
    day = owner.astimezone(calendar.zone).date()
    assert calendar.is_working_day(day)
    assert not _closed_on(calendar, day) or day in calendar.overrides


@PROPERTY
@given(any_calendar, instants, instants, instants)
def test_between_is_additive_and_antisymmetric(calendar, a, b, c):
    a, b, c = sorted((a, b, c), key=utc)
    ab = calendar.working_time_between(a, b)
    bc = calendar.working_time_between(b, c)
    assert ab + bc == calendar.working_time_between(a, c)
    assert ab >= timedelta(0)
    assert calendar.working_time_between(b, a) == -ab


@PROPERTY
@given(any_calendar, instants)
def test_next_working_instant(calendar, start):
    found = calendar.next_working_instant(start)
    assert utc(found) >= utc(start)
    assert calendar.is_working(found)
    assert calendar.working_time_between(start, found) == timedelta(0)
    assert calendar.is_working(start) == (found == start)


@PROPERTY
@given(any_calendar, instants, st.integers(1, 30))
def test_add_working_days_lands_on_a_working_day(calendar, start, n):
    due = calendar.add_working_days(start, n)
    assert utc(due) > utc(start)
    day = _working_day_owning(calendar, due)
    assert day is not None
    assert not _closed_on(calendar, day) or day in calendar.overrides
    assert calendar.working_time_between(start, due) > timedelta(0)


@PROPERTY
@given(any_calendar, instants, instants, st.integers(1, 20), st.integers(0, 5))
def test_add_working_days_is_monotonic(calendar, a, b, n, more):
    a, b = sorted((a, b), key=utc)
    assert utc(calendar.add_working_days(a, n)) <= utc(calendar.add_working_days(b, n))
    assert utc(calendar.add_working_days(a, n)) <= utc(calendar.add_working_days(a, n + more))


@PROPERTY
@given(
    st.sampled_from(["UTC", "Africa/Johannesburg", "Asia/Tokyo"]),
    st.integers(0, 95),
    st.data(),
    st.dates(SPAN_START, date(2027, 6, 30)),
    st.integers(1, 40),
)
def test_same_wall_clock_time_when_every_day_has_the_same_hours(tz, a, data, day, n):
    b = data.draw(st.integers(a + 1, 96), label="end quarter")
    calendar = BusinessCalendar(tz, {d: ((_quarter(a), _quarter(b)),) for d in range(7)})
    offset = data.draw(st.integers(0, (b - a) * 15 * 60 * 10**6 - 1), label="offset")
    start = datetime.combine(day, _quarter(a), tzinfo=calendar.zone) + timedelta(
        microseconds=offset
    )
    assert calendar.is_working(start)
    due = calendar.add_working_days(start, n).astimezone(calendar.zone)
    assert due.date() == day + timedelta(days=n)
    assert due.time() == start.time()


@PROPERTY
@given(any_calendar, instants, st.integers(-400, 400))
def test_add_calendar_days_keeps_the_wall_clock(calendar, start, n):
    assert calendar.add_calendar_days(start, 0) == start
    local = start.astimezone(calendar.zone)
    moved = calendar.add_calendar_days(start, n).astimezone(calendar.zone)
    assert moved.date() == local.date() + timedelta(days=n)
    target = datetime.combine(moved.date(), local.time(), tzinfo=calendar.zone)
    if target.astimezone(UTC).astimezone(calendar.zone).time() == local.time():
        assert moved.time() == local.time()  # the wall time exists on the target day


def _oracle_is_working(calendar: BusinessCalendar, instant: datetime) -> bool:
    """Brute force, by wall clock: is the local time inside one of the local date's windows?"""
    local = instant.astimezone(calendar.zone)
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    for start, end in calendar.windows_of(local.date()):
        end_seconds = 86400 if end == END_OF_DAY else end.hour * 3600 + end.minute * 60
        if start.hour * 3600 + start.minute * 60 <= seconds < end_seconds:
            return True
    return False


# Window bounds from 06:00 on, so that none falls in a DST gap or repeated hour of these zones
# (where the wall-clock oracle and the documented instant rules legitimately differ).
oracle_calendars = calendars(zones=ORACLE_ZONES, first_quarter=24)


@PROPERTY
@given(oracle_calendars, instants)
def test_is_working_matches_the_wall_clock_oracle(calendar, instant):
    assert calendar.is_working(instant) == _oracle_is_working(calendar, instant)


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(oracle_calendars, instants, st.integers(1, 3 * 24 * 60))
def test_between_matches_minute_by_minute_oracle(calendar, start, minutes):
    start = utc(start).replace(second=0, microsecond=0)
    expected = sum(_oracle_is_working(calendar, start + i * M) for i in range(minutes))
    assert calendar.working_time_between(start, start + minutes * M) == expected * M
