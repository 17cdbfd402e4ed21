"""Glue between cases and the pure SLA clock: the operator's calendar, a category's policy,
and a case's due times and state."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from civicdesk.cases.sla import SlaClock, SlaPolicy, Target
from civicdesk.core.calendars import BusinessCalendar, calendar_for

DEFAULT_WEEK = {day: ((dt.time(8), dt.time(17)),) for day in range(5)}


@lru_cache(maxsize=8)
def _calendar(country: str, tz: str, weekly: tuple, closures: tuple) -> BusinessCalendar:
    years = range(dt.date.today().year - 5, dt.date.today().year + 6)
    return calendar_for(country, tz, dict(weekly), closures=closures, years=years)


def operator_calendar() -> BusinessCalendar:
    """The operator's working week (WorkingHours, default Mon–Fri 08:00–17:00), its country's
    public holidays and its closures, in its timezone. Cached until any of them changes."""
    from civicdesk.cases.models import Closure, WorkingHours
    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    country = operator.jurisdiction if operator else "ZA"
    tz = operator.timezone if operator else "UTC"
    week: dict[int, list] = {}
    for weekday, opens, closes in WorkingHours.objects.values_list("weekday", "opens", "closes"):
        week.setdefault(weekday, []).append((opens, closes))
    weekly = tuple(sorted((d, tuple(sorted(w))) for d, w in week.items())) or tuple(
        sorted(DEFAULT_WEEK.items())
    )
    closures = tuple(Closure.objects.order_by("starts_on").values_list("starts_on", "ends_on"))
    return _calendar(country, tz, weekly, closures)


def policy_for(category) -> SlaPolicy:
    first = (
        Target(category.first_response_amount, category.first_response_unit)
        if category.first_response_amount
        else None
    )
    resolution = (
        Target(category.resolution_amount, category.resolution_unit)
        if category.resolution_amount
        else None
    )
    return SlaPolicy(first_response=first, resolution=resolution)


def dues_for(category, created: dt.datetime, calendar: BusinessCalendar):
    clock = SlaClock(policy_for(category), calendar)
    return clock.first_response_due(created), clock.resolution_due(created)


def pauses_of(case) -> list[tuple[dt.datetime, dt.datetime | None]]:
    spans = [(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)) for a, b in case.pauses]
    if case.paused_since is not None:
        spans.append((case.paused_since, None))
    return spans


def shifted_due(case, calendar: BusinessCalendar) -> dt.datetime | None:
    """The resolution due time with the case's pauses taken into account."""
    clock = SlaClock(policy_for(case.category), calendar)
    due = clock.resolution_due(case.created_at, pauses_of(case))
    return due if due is not None else case.resolution_due


def state_of(case, now: dt.datetime, calendar: BusinessCalendar) -> str:
    policy = policy_for(case.category)
    target = policy.resolution or policy.first_response
    if target is None:
        return "ok"
    return SlaClock(policy, calendar).evaluate(now, target, case.created_at, pauses_of(case)).state
