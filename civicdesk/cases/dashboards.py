"""Case dashboards and call-centre metrics: tables with server-rendered SVG charts for a date
range, each table also as CSV (``?format=csv&table=<name>``). The figures come from
civicdesk.cases.reports; the charts from civicdesk.cases.charts."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from civicdesk.cases import charts, reports
from civicdesk.core.decorators import staff_required

VIEW_CASES = "cases.view_case"
VIEW_CALLS = "cases.view_call"
MAX_DAYS = 366


class RangeForm(forms.Form):
    start = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The end comes before the start."))
            elif (end - start).days >= MAX_DAYS:
                self.add_error(
                    "end", _("Choose at most %(days)d days at a time.") % {"days": MAX_DAYS}
                )
        return cleaned


def _period(request: HttpRequest, default_days: int) -> tuple[RangeForm, reports.DateRange]:
    """The range asked for, or the last `default_days` days (also when the one asked for is
    wrong: the form then says why)."""
    default = reports.last_days(default_days)
    if "start" in request.GET or "end" in request.GET:
        form = RangeForm(request.GET)
        if form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
            return form, reports.DateRange(start, end, default.tz)
        return form, default
    return RangeForm(initial={"start": default.start, "end": default.end}), default


# --- CSV ------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> object:
    """Text that a spreadsheet would run as a formula is kept as text."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return response


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _sla_rows(sla: reports.SlaCompliance) -> list[tuple]:
    return [
        (_("Resolved"), sla.resolved),
        (_("Resolved on time"), sla.on_time),
        (_("Resolved late"), sla.late),
        (_("Compliance (%)"), _percent(sla.percent)),
        (_("Open: on track"), sla.open_ok),
        (_("Open: at risk"), sla.open_at_risk),
        (_("Open: breached"), sla.open_breached),
    ]


def _day(day: dt.date) -> str:
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def _svg(markup: str):
    return mark_safe(markup)  # noqa: S308 (charts.py escapes every text it draws)


Table = tuple[list[str], Callable[[], Iterable[Sequence]]]


def _export(request: HttpRequest, name: str, period: reports.DateRange, tables: dict[str, Table]):
    key = request.GET.get("table", "")
    if key not in tables:
        raise Http404
    header, rows = tables[key]
    filename = f"{name}-{key}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return csv_response(filename, header, rows())


# --- case dashboards ------------------------------------------------------------------------


@require_GET
@staff_required
@permission_required(VIEW_CASES, raise_exception=True)
def dashboards(request: HttpRequest) -> HttpResponse:
    form, period = _period(request, 30)
    none = _("No territory")
    no_team = _("No team")
    if request.GET.get("format") == "csv":
        return _export(
            request,
            "cases",
            period,
            {
                "category": (
                    [_("Category code"), _("Category"), _("Cases")],
                    lambda: ((v.key, v.label, v.count) for v in reports.volume_by_category(period)),
                ),
                "territory": (
                    [_("Territory code"), _("Territory"), _("Cases")],
                    lambda: (
                        (v.key, v.label, v.count)
                        for v in reports.volume_by_territory(period, none_label=none)
                    ),
                ),
                "status": (
                    [_("Status code"), _("Status"), _("Cases")],
                    lambda: ((v.key, v.label, v.count) for v in reports.volume_by_status(period)),
                ),
                "sla": (
                    [_("Measure"), _("Cases")],
                    lambda: _sla_rows(reports.sla_compliance(period)),
                ),
                "teams": (
                    [_("Team"), _("At risk"), _("Breached")],
                    lambda: (
                        (t.team, t.at_risk, t.breached)
                        for t in reports.sla_by_team(none_label=no_team)
                    ),
                ),
                "overdue": (
                    [
                        _("Team"),
                        _("Reference"),
                        _("Subject"),
                        _("Category"),
                        _("Assignee"),
                        _("SLA"),
                        _("Due"),
                    ],
                    lambda: (
                        (
                            c.team.name if c.team else no_team,
                            c.reference,
                            c.subject,
                            c.category.name,
                            c.assignee.email if c.assignee else "",
                            c.live_sla,
                            c.resolution_due.isoformat() if c.resolution_due else "",
                        )
                        for c in reports.overdue_cases(limit=10_000)
                    ),
                ),
            },
        )
    by_category = reports.volume_by_category(period)
    by_territory = reports.volume_by_territory(period, none_label=none)
    by_status = reports.volume_by_status(period)
    per_day = reports.created_per_day(period)
    context = {
        "form": form,
        "period": period,
        "by_category": by_category,
        "by_territory": by_territory,
        "by_status": by_status,
        "sla": reports.sla_compliance(period),
        "teams": reports.sla_by_team(none_label=no_team),
        "overdue": reports.overdue_cases(),
        "total": sum(v.count for v in by_status),
        "range_query": urlencode({"start": period.start, "end": period.end}),
        "charts": {
            "category": _svg(
                charts.bar_chart(
                    [(v.label, v.count) for v in by_category],
                    title=_("Cases by category"),
                    chart_id="chart-category",
                    empty_text=_("No cases in this period."),
                )
            ),
            "territory": _svg(
                charts.bar_chart(
                    [(v.label, v.count) for v in by_territory],
                    title=_("Cases by territory"),
                    chart_id="chart-territory",
                    empty_text=_("No cases in this period."),
                )
            ),
            "status": _svg(
                charts.bar_chart(
                    [(v.label, v.count) for v in by_status],
                    title=_("Cases by status"),
                    chart_id="chart-status",
                    empty_text=_("No cases in this period."),
                )
            ),
            "per_day": _svg(
                charts.line_chart(
                    [(_day(day), n) for day, n in per_day],
                    title=_("Cases received per day"),
                    chart_id="chart-per-day",
                    empty_text=_("No cases in this period."),
                )
            ),
        },
    }
    return render(request, "cases/staff/dashboards.html", context)


# --- call-centre metrics --------------------------------------------------------------------


@require_GET
@staff_required
@permission_required(VIEW_CALLS, raise_exception=True)
def call_metrics(request: HttpRequest) -> HttpResponse:
    """An agent's own figures; supervisors see every agent's."""
    form, period = _period(request, 7)
    everyone = reports.sees_all_agents(request.user)
    report = reports.call_report(period, agent=None if everyone else request.user)
    if request.GET.get("format") == "csv":
        return _export(
            request,
            "calls",
            period,
            {
                "agents": (
                    [
                        _("Agent"),
                        _("Calls"),
                        _("Days"),
                        _("Calls per day"),
                        _("Average handling time (s)"),
                        _("First-contact resolution (%)"),
                    ],
                    lambda: (
                        (
                            s.agent_name,
                            s.calls,
                            s.days,
                            f"{s.calls_per_day:.1f}" if s.calls_per_day is not None else "",
                            round(s.average_handling_seconds or 0),
                            _percent(s.fcr_percent),
                        )
                        for s in report.agents
                    ),
                ),
                "daily": (
                    [
                        _("Day"),
                        _("Agent"),
                        _("Calls"),
                        _("Average handling time (s)"),
                        _("First-contact resolution (%)"),
                    ],
                    lambda: (
                        (
                            s.day.isoformat(),
                            s.agent_name,
                            s.calls,
                            round(s.average_handling_seconds or 0),
                            _percent(s.fcr_percent),
                        )
                        for s in report.daily
                    ),
                ),
            },
        )
    context = {
        "form": form,
        "period": period,
        "report": report,
        "everyone": everyone,
        "range_query": urlencode({"start": period.start, "end": period.end}),
        "charts": {
            "per_day": _svg(
                charts.line_chart(
                    [(_day(day), n) for day, n in report.per_day],
                    title=_("Calls per day"),
                    chart_id="chart-calls-per-day",
                    empty_text=_("No calls in this period."),
                )
            ),
            "agents": _svg(
                charts.bar_chart(
                    [(s.agent_name, s.calls) for s in report.agents],
                    title=_("Calls per agent"),
                    chart_id="chart-calls-per-agent",
                    empty_text=_("No calls in this period."),
                )
            ),
        },
    }
    return render(request, "cases/staff/metrics.html", context)
