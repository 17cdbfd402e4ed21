"""Reads for the call-centre metrics and the case dashboards. Every figure is one aggregate
query (values().annotate() or aggregate()); Python only arranges the few rows that come back
and divides. Days are the operator's days: a date range runs from the start of its first day
to the end of its last, in the operator's timezone.

Definitions
    calls                 ended calls that started in the range (an open call is not counted)
    calls per day         an agent's calls divided by the days on which they took any
    average handling time the mean of handling_seconds over those calls
    first-contact rate    calls marked resolved at first contact / calls
    SLA compliance        resolved cases (resolved in the range, with a due time) resolved at or
                          before their resolution due time / such cases
    open SLA state        open cases by live state (staff_selectors.live_sla): breached,
                          at risk, ok
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from civicdesk.cases import workflow
from civicdesk.cases.models import Call, Case, Category, Status
from civicdesk.cases.staff_selectors import AT_RISK, BREACHED, OK, breached_q, live_sla
from civicdesk.identity import roles

# --- dates ----------------------------------------------------------------------------------


def operator_timezone() -> zoneinfo.ZoneInfo:
    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    try:
        return zoneinfo.ZoneInfo(operator.timezone if operator else "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@dataclass(frozen=True)
class DateRange:
    start: dt.date
    end: dt.date  # inclusive
    tz: zoneinfo.ZoneInfo = field(default_factory=operator_timezone)

    @property
    def lower(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=self.tz)

    @property
    def upper(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=self.tz)

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def contains(self, field_name: str) -> Q:
        return Q(**{f"{field_name}__gte": self.lower, f"{field_name}__lt": self.upper})


def last_days(count: int, *, today: dt.date | None = None) -> DateRange:
    tz = operator_timezone()
    today = today or timezone.localdate(timezone.now(), tz)
    return DateRange(today - dt.timedelta(days=count - 1), today, tz)


def duration_display(seconds: float | None) -> str:
    """m:ss, or h:mm:ss from an hour; "—" for nothing. Language-neutral."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- call-centre metrics --------------------------------------------------------------------


def sees_all_agents(user) -> bool:
    """Supervisors of the call centre: operator admins and quality controllers (and the
    superuser). Everyone else sees their own figures only."""
    if user.is_superuser:
        return True
    names = {roles.ROLES[key].name for key in (roles.OPERATOR_ADMIN, roles.QUALITY_CONTROLLER)}
    return user.groups.filter(name__in=names).exists()


@dataclass(frozen=True)
class CallStats:
    calls: int
    handled_seconds: int
    resolved_first: int
    days: int = 1
    agent_id: int | None = None
    agent_name: str = ""
    day: dt.date | None = None

    @property
    def calls_per_day(self) -> float | None:
        return self.calls / self.days if self.days else None

    @property
    def average_handling_seconds(self) -> float | None:
        return self.handled_seconds / self.calls if self.calls else None

    @property
    def average_handling(self) -> str:
        return duration_display(self.average_handling_seconds)

    @property
    def fcr_rate(self) -> float | None:
        return _share(self.resolved_first, self.calls)

    @property
    def fcr_percent(self) -> float | None:
        rate = self.fcr_rate
        return None if rate is None else 100 * rate


@dataclass(frozen=True)
class CallReport:
    period: DateRange
    agents: list[CallStats]  # one per agent, by name
    daily: list[CallStats]  # one per agent and day, by day then name
    per_day: list[tuple[dt.date, int]]  # calls on each day of the range, zeros included
    total: CallStats


def _calls(period: DateRange, agent=None) -> QuerySet[Call]:
    calls = Call.objects.filter(period.contains("started_at"), ended_at__isnull=False)
    return calls.filter(agent=agent) if agent is not None else calls


_FIGURES = {
    "calls": Count("pk"),
    "seconds": Sum("handling_seconds", default=0),
    "first": Count("pk", filter=Q(first_contact_resolution=True)),
}


def _name(row) -> str:
    return row["agent__full_name"] or row["agent__email"]


def call_report(period: DateRange, *, agent=None) -> CallReport:
    """Calls per agent per day, average handling time and first-contact resolution for the
    period: all agents, or one."""
    calls = _calls(period, agent)
    day = TruncDate("started_at", tzinfo=period.tz)
    per_agent = (
        calls.values("agent", "agent__full_name", "agent__email")
        .annotate(**_FIGURES, days=Count(day, distinct=True))
        .order_by("agent__full_name", "agent__email")
    )
    agents = [
        CallStats(
            calls=row["calls"],
            handled_seconds=row["seconds"],
            resolved_first=row["first"],
            days=row["days"],
            agent_id=row["agent"],
            agent_name=_name(row),
        )
        for row in per_agent
    ]
    per_agent_day = (
        calls.annotate(day=day)
        .values("day", "agent", "agent__full_name", "agent__email")
        .annotate(**_FIGURES)
        .order_by("day", "agent__full_name", "agent__email")
    )
    daily = [
        CallStats(
            calls=row["calls"],
            handled_seconds=row["seconds"],
            resolved_first=row["first"],
            agent_id=row["agent"],
            agent_name=_name(row),
            day=row["day"],
        )
        for row in per_agent_day
    ]
    by_day: dict[dt.date, int] = {}
    for row in daily:
        by_day[row.day] = by_day.get(row.day, 0) + row.calls
    totals = calls.aggregate(**_FIGURES, days=Count(day, distinct=True))
    total = CallStats(
        calls=totals["calls"],
        handled_seconds=totals["seconds"] or 0,
        resolved_first=totals["first"],
        days=totals["days"],
    )
    return CallReport(
        period=period,
        agents=agents,
        daily=daily,
        per_day=[(d, by_day.get(d, 0)) for d in period.days],
        total=total,
    )


# --- case dashboards ------------------------------------------------------------------------


@dataclass(frozen=True)
class Volume:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class SlaCompliance:
    resolved: int
    on_time: int
    open_ok: int
    open_at_risk: int
    open_breached: int

    @property
    def late(self) -> int:
        return self.resolved - self.on_time

    @property
    def rate(self) -> float | None:
        return _share(self.on_time, self.resolved)

    @property
    def percent(self) -> float | None:
        return None if self.rate is None else 100 * self.rate

    @property
    def open_total(self) -> int:
        return self.open_ok + self.open_at_risk + self.open_breached


@dataclass(frozen=True)
class TeamSla:
    team: str
    at_risk: int
    breached: int


def _created(period: DateRange) -> QuerySet[Case]:
    return Case.objects.filter(period.contains("created_at"))


def volume_by_category(period: DateRange) -> list[Volume]:
    rows = list(
        _created(period).values("category").annotate(n=Count("pk")).order_by("-n", "category")
    )
    categories = Category.objects.in_bulk([row["category"] for row in rows])
    return [
        Volume(categories[row["category"]].code, categories[row["category"]].name, row["n"])
        for row in rows
    ]


def volume_by_territory(period: DateRange, *, none_label: str = "—") -> list[Volume]:
    rows = (
        _created(period)
        .values("territory__code", "territory__name")
        .annotate(n=Count("pk"))
        .order_by("-n", F("territory__name").asc(nulls_last=True))
    )
    return [
        Volume(row["territory__code"] or "", row["territory__name"] or none_label, row["n"])
        for row in rows
    ]


def volume_by_status(period: DateRange) -> list[Volume]:
    """Cases created in the period by their status now, in the workflow's order."""
    counts = dict(
        _created(period).values("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    labels = dict(Status.choices)
    return [
        Volume(status, str(labels[status]), counts[status])
        for status in workflow.STATUSES
        if counts.get(status)
    ]


def created_per_day(period: DateRange) -> list[tuple[dt.date, int]]:
    counts = dict(
        _created(period)
        .annotate(day=TruncDate("created_at", tzinfo=period.tz))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    return [(day, counts.get(day, 0)) for day in period.days]


def sla_compliance(period: DateRange, *, now: dt.datetime | None = None) -> SlaCompliance:
    now = now or timezone.now()
    resolved = Case.objects.filter(
        period.contains("resolved_at"), resolution_due__isnull=False
    ).aggregate(
        resolved=Count("pk"),
        on_time=Count("pk", filter=Q(resolved_at__lte=F("resolution_due"))),
    )
    states = dict(
        Case.objects.filter(status__in=workflow.OPEN)
        .annotate(state=live_sla(now))
        .values("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return SlaCompliance(
        resolved=resolved["resolved"],
        on_time=resolved["on_time"],
        open_ok=states.get(OK, 0),
        open_at_risk=states.get(AT_RISK, 0),
        open_breached=states.get(BREACHED, 0),
    )


def _overdue(now: dt.datetime) -> QuerySet[Case]:
    return Case.objects.filter(status__in=workflow.OPEN).filter(
        breached_q(now) | Q(sla_state=AT_RISK)
    )


def sla_by_team(*, now: dt.datetime | None = None, none_label: str = "—") -> list[TeamSla]:
    """Open cases at risk and breached, per team (cases with no team together)."""
    now = now or timezone.now()
    rows = (
        _overdue(now)
        .values("team", "team__name")
        .annotate(
            breached=Count("pk", filter=breached_q(now)),
            at_risk=Count("pk", filter=Q(sla_state=AT_RISK) & ~breached_q(now)),
        )
        .order_by(F("team__name").asc(nulls_first=True), "team")
    )
    return [
        TeamSla(row["team__name"] or none_label, row["at_risk"], row["breached"]) for row in rows
    ]


def overdue_cases(*, now: dt.datetime | None = None, limit: int = 200) -> QuerySet[Case]:
    """Open cases breached or at risk, by team, breached first, most overdue first."""
    now = now or timezone.now()
    return (
        _overdue(now)
        .select_related("category", "team", "assignee")
        .annotate(live_sla=live_sla(now))
        .order_by(F("team__name").asc(nulls_last=True), "-live_sla", "resolution_due")[:limit]
    )
