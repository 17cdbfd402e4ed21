"""Case dashboards and call-centre metrics on known data: counts by category, territory and
status, SLA compliance, at-risk and breached per team, calls per agent per day, handling time
and first-contact resolution; days in the operator's timezone; CSV exports; access."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from civicdesk.cases import reports
from civicdesk.cases.models import Call, Case
from civicdesk.cases.tests import factories as cf
from civicdesk.registry.tests import factories as rf

pytestmark = pytest.mark.django_db
pytest_plugins = ["civicdesk.cases.tests.staff_support"]  # staff_login, make_case, media
RANGE = {"start": "2026-03-02", "end": "2026-03-06"}


def _text(response) -> str:
    return response.content.decode()


def _utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.UTC)


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def _set(case, **fields) -> None:
    Case.objects.filter(pk=case.pk).update(**fields)


@pytest.fixture
def data(operator, make_case):
    """Five cases in the range (the operator is in Johannesburg, UTC+2), two outside it."""
    leak = cf.category("leak", names={"en": "Water leak"})
    billing = cf.category("billing", names={"en": "=Billing"})  # a formula-looking name
    north, south = rf.territory("north", name="North"), rf.territory("south", name="South")
    pipes = cf.team("pipes")
    future = timezone.now() + dt.timedelta(days=30)
    past = timezone.now() - dt.timedelta(days=1)
    on_time = make_case(leak, territory=north)
    _set(
        on_time,
        created_at=_utc(3, 8),
        resolution_due=_utc(5, 8),
        resolved_at=_utc(4, 9),
        status="resolved",
    )
    late = make_case(leak, territory=north)
    _set(
        late,
        created_at=_utc(3, 9),
        resolution_due=_utc(4, 8),
        resolved_at=_utc(4, 10),
        status="closed",
    )
    open_ok = make_case(leak, territory=north, subject="Still dripping")
    _set(open_ok, created_at=_utc(3, 10), resolution_due=future, team=pipes)
    at_risk = make_case(billing, territory=south, subject="Bill too high")
    _set(at_risk, created_at=_utc(4, 10), resolution_due=future, sla_state="at_risk", team=pipes)
    # 23:30 on Friday 6 March in Johannesburg: still in the range
    breached = make_case(billing, subject='=HYPERLINK("http://evil")')
    _set(breached, created_at=_utc(6, 21, 30), resolution_due=past)
    # 00:30 on Saturday 7 March in Johannesburg (still the 6th in UTC): outside
    outside = make_case(leak, territory=north)
    _set(outside, created_at=_utc(6, 22, 30), resolution_due=future, status="cancelled")
    before = make_case(leak)
    _set(before, created_at=_utc(1, 21, 59), resolution_due=future)  # 23:59 on 1 March
    return {
        "on_time": on_time,
        "late": late,
        "open_ok": open_ok,
        "at_risk": at_risk,
        "breached": breached,
        "outside": outside,
        "before": before,
        "pipes": pipes,
    }


# --- the selectors ------------------------------------------------------------------------------


def test_volumes_and_sla_compliance_on_known_data(data):
    period = reports.DateRange(dt.date(2026, 3, 2), dt.date(2026, 3, 6))
    assert [(v.label, v.count) for v in reports.volume_by_category(period)] == [
        ("Water leak", 3),
        ("=Billing", 2),
    ]
    assert [(v.label, v.count) for v in reports.volume_by_territory(period, none_label="-")] == [
        ("North", 3),
        ("South", 1),
        ("-", 1),  # cases without a territory come last, on every database
    ]
    assert [(v.key, v.count) for v in reports.volume_by_status(period)] == [
        ("new", 3),
        ("resolved", 1),
        ("closed", 1),
    ]
    assert reports.created_per_day(period) == [
        (dt.date(2026, 3, 2), 0),
        (dt.date(2026, 3, 3), 3),
        (dt.date(2026, 3, 4), 1),
        (dt.date(2026, 3, 5), 0),
        (dt.date(2026, 3, 6), 1),
    ]
    sla = reports.sla_compliance(period)
    assert (sla.resolved, sla.on_time, sla.late) == (2, 1, 1)
    assert sla.percent == pytest.approx(50.0)
    # open now: the ones in the range and the one before it, whatever the period
    assert (sla.open_ok, sla.open_at_risk, sla.open_breached) == (2, 1, 1)
    teams = reports.sla_by_team(none_label="none")
    assert [(t.team, t.at_risk, t.breached) for t in teams] == [
        ("none", 0, 1),
        ("Team " + data["pipes"].name.split()[-1], 1, 0),
    ]
    overdue = [c.reference for c in reports.overdue_cases()]
    assert overdue == [data["at_risk"].reference, data["breached"].reference]


# --- the dashboard page -----------------------------------------------------------------------


def test_dashboard_shows_tables_and_a_chart_bar_per_category(client, staff_login, data):
    staff_login("case_specialist")
    response = client.get("/staff/cases/dashboards/", RANGE)
    assert response.status_code == 200
    html = _text(response)
    assert "<h1>Case dashboards</h1>" in html
    assert "5 cases received in this period." in html
    assert '<th scope="row">Water leak</th><td class="num">3</td>' in html
    assert '<th scope="row">North</th><td class="num">3</td>' in html
    assert '<th scope="row">No territory</th><td class="num">1</td>' in html
    assert "<strong>50.0%</strong>" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-category"' in html
    chart = re.search(r'<svg[^>]*id="chart-category".*?</svg>', html, re.S).group(0)
    assert chart.count('class="chart-bar bar"') == 2
    assert "Bill too high" in html and data["breached"].reference in html
    for table in ("category", "territory", "status", "sla", "teams", "overdue"):
        assert f"format=csv&amp;table={table}" in html


def test_csv_export_of_each_table(client, staff_login, data):
    staff_login("case_specialist")
    response = client.get(
        "/staff/cases/dashboards/", {**RANGE, "format": "csv", "table": "category"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="cases-category-2026-03-02-2026-03-06.csv"'
    )
    assert _csv(response) == [
        ["Category code", "Category", "Cases"],
        ["leak", "Water leak", "3"],
        ["billing", "'=Billing", "2"],  # never a formula in a spreadsheet
    ]
    rows = _csv(
        client.get("/staff/cases/dashboards/", {**RANGE, "format": "csv", "table": "status"})
    )
    assert rows[1:] == [
        ["new", "New", "3"],
        ["resolved", "Resolved", "1"],
        ["closed", "Closed", "1"],
    ]
    rows = _csv(client.get("/staff/cases/dashboards/", {**RANGE, "format": "csv", "table": "sla"}))
    assert ["Resolved on time", "1"] in rows and ["Compliance (%)", "50.0"] in rows
    overdue = _csv(
        client.get("/staff/cases/dashboards/", {**RANGE, "format": "csv", "table": "overdue"})
    )
    assert overdue[0][:3] == ["Team", "Reference", "Subject"]
    assert [row[1] for row in overdue[1:]] == [
        data["at_risk"].reference,
        data["breached"].reference,
    ]
    assert overdue[2][2].startswith("'=HYPERLINK")
    missing = client.get("/staff/cases/dashboards/", {**RANGE, "format": "csv", "table": "x"})
    assert missing.status_code == 404


def test_dashboard_queries_do_not_grow_with_the_cases(client, staff_login, operator, make_case):
    staff_login("case_specialist")
    categories = [cf.category() for _ in range(3)]

    def queries() -> int:
        """The page's queries, less the session tracker's own bookkeeping (on its schedule)."""
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/staff/cases/dashboards/").status_code == 200
        return sum("identity_usersession" not in q["sql"] for q in captured)

    for category in categories:
        make_case(category)
    few = queries()
    for category in categories * 5:
        make_case(category)
    assert queries() == few


def test_a_wrong_range_says_why_and_shows_the_default(client, staff_login, operator):
    staff_login("case_specialist")
    html = _text(
        client.get("/staff/cases/dashboards/", {"start": "2026-03-06", "end": "2026-03-01"})
    )
    assert "The end comes before the start." in html
    html = _text(
        client.get("/staff/cases/dashboards/", {"start": "2024-01-01", "end": "2026-01-01"})
    )
    assert "Choose at most 366 days at a time." in html


def test_dashboards_need_cases_view(client, make_user, staff_login, operator):
    resident = Client()
    staff_login(user=make_user(), as_client=resident)
    assert resident.get("/staff/cases/dashboards/").status_code == 403
    staff_login("quality_controller")
    assert client.get("/staff/cases/dashboards/").status_code == 200


# --- call metrics -----------------------------------------------------------------------------


@pytest.fixture
def calls(operator, make_user):
    anna = make_user(role="call_centre_agent", full_name="Anna Agent")
    bongani = make_user(role="call_centre_agent", full_name="Bongani Bhengu")

    def call(agent, start: dt.datetime, seconds: int, fcr: bool, outcome="resolved"):
        return Call.objects.create(
            agent=agent,
            started_at=start,
            ended_at=start + dt.timedelta(seconds=seconds),
            handling_seconds=seconds,
            first_contact_resolution=fcr,
            outcome=outcome,
            reason="x",
        )

    call(anna, _utc(3, 7), 180, True)
    call(anna, _utc(3, 8), 240, True)
    call(anna, _utc(3, 9), 200, False, "callback")
    call(anna, _utc(3, 22, 30), 100, True)  # 00:30 on 4 March in Johannesburg
    call(bongani, _utc(3, 7), 300, False, "transferred")
    call(bongani, _utc(3, 12), 100, True)
    call(bongani, _utc(7, 12), 999, True)  # outside the range
    Call.objects.create(agent=anna, started_at=_utc(5, 8))  # still open: not counted
    return anna, bongani


def test_call_report_numbers(calls):
    _, bongani = calls
    report = reports.call_report(reports.DateRange(dt.date(2026, 3, 2), dt.date(2026, 3, 6)))
    by_name = {s.agent_name: s for s in report.agents}
    a, b = by_name["Anna Agent"], by_name["Bongani Bhengu"]
    assert (a.calls, a.days, a.calls_per_day) == (4, 2, 2.0)
    assert a.average_handling_seconds == 180 and a.average_handling == "3:00"
    assert a.fcr_rate == pytest.approx(0.75)
    assert (b.calls, b.days, b.average_handling, b.fcr_rate) == (2, 1, "3:20", 0.5)
    assert report.total.calls == 6 and report.total.average_handling == "3:07"
    assert report.total.fcr_rate == pytest.approx(4 / 6)
    assert [(s.day, s.agent_name, s.calls) for s in report.daily] == [
        (dt.date(2026, 3, 3), "Anna Agent", 3),
        (dt.date(2026, 3, 3), "Bongani Bhengu", 2),
        (dt.date(2026, 3, 4), "Anna Agent", 1),
    ]
    assert dict(report.per_day)[dt.date(2026, 3, 3)] == 5
    assert dict(report.per_day)[dt.date(2026, 3, 4)] == 1
    own = reports.call_report(
        reports.DateRange(dt.date(2026, 3, 2), dt.date(2026, 3, 6)), agent=bongani
    )
    assert [s.agent_name for s in own.agents] == ["Bongani Bhengu"] and own.total.calls == 2


def test_an_agent_sees_their_own_figures(client, staff_login, calls):
    anna, _ = calls
    staff_login(user=anna)
    html = _text(client.get("/staff/cases/metrics/", RANGE))
    assert "<h1>My call figures</h1>" in html
    assert "Anna Agent" in html and "Bongani" not in html
    assert '<td class="num">3:00</td>' in html and '<td class="num">75.0%</td>' in html
    rows = _csv(client.get("/staff/cases/metrics/", {**RANGE, "format": "csv", "table": "agents"}))
    assert rows == [
        [
            "Agent",
            "Calls",
            "Days",
            "Calls per day",
            "Average handling time (s)",
            "First-contact resolution (%)",
        ],
        ["Anna Agent", "4", "2", "2.0", "180", "75.0"],
    ]


@pytest.mark.parametrize("role", ("quality_controller", "operator_admin"))
def test_supervisors_see_every_agent(client, staff_login, calls, role):
    staff_login(role)
    response = client.get("/staff/cases/metrics/", RANGE)
    html = _text(response)
    assert "<h1>Call-centre figures</h1>" in html
    assert "Anna Agent" in html and "Bongani Bhengu" in html
    assert "3:07" in html and "66.7%" in html
    chart = re.search(r'<svg[^>]*id="chart-calls-per-agent".*?</svg>', html, re.S).group(0)
    assert chart.count('class="chart-bar bar"') == 2
    daily = client.get("/staff/cases/metrics/", {**RANGE, "format": "csv", "table": "daily"})
    assert daily["Content-Disposition"] == (
        'attachment; filename="calls-daily-2026-03-02-2026-03-06.csv"'
    )
    assert _csv(daily)[1:] == [
        ["2026-03-03", "Anna Agent", "3", "207", "66.7"],
        ["2026-03-03", "Bongani Bhengu", "2", "200", "50.0"],
        ["2026-03-04", "Anna Agent", "1", "100", "100.0"],
    ]


def test_metrics_need_the_call_permission(client, make_user, staff_login, operator):
    resident = Client()
    staff_login(user=make_user(), as_client=resident)
    assert resident.get("/staff/cases/metrics/").status_code == 403
    staff_login("case_specialist")  # works cases and has view_call: their own figures
    assert client.get("/staff/cases/metrics/").status_code == 200


def test_role_panels_link_to_the_new_pages(client, staff_login, operator):
    staff_login()
    html = _text(client.get("/staff/"))
    for url in ("/staff/cases/console/", "/staff/cases/", "/staff/cases/metrics/"):
        assert f'href="{url}"' in html
