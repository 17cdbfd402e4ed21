"""Case services: creation with routing, assignment and SLA dues; the status machine with the
SLA clock pausing; notes, replies, ratings, duplicates; every step in the timeline."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from civicdesk.cases import services
from civicdesk.cases.models import Case, CaseEvent
from civicdesk.cases.services import Intake
from civicdesk.cases.tests import factories as cf
from civicdesk.registry.tests import factories as rf

pytestmark = pytest.mark.django_db
# A Tuesday, 10:00 in Johannesburg (08:00 UTC).
TUESDAY = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)


def _intake(category, requester, **kw):
    return Intake(
        category=category,
        channel=kw.pop("channel", "portal"),
        subject=kw.pop("subject", "No water since morning"),
        requester=requester,
        **kw,
    )


def test_create_routes_assigns_and_sets_sla(
    make_user, operator, mailoutbox, django_capture_on_commit_callbacks
):
    resident = make_user()
    a, b = make_user(role="case_specialist"), make_user(role="case_specialist")
    category = cf.category(resolution=(2, "working_days"), first_response=(4, "working_hours"))
    team = cf.team(members=[a, b])
    cf.rule(team, category_=category)
    with time_machine.travel(TUESDAY, tick=False), django_capture_on_commit_callbacks(execute=True):
        first = services.case_create(_intake(category, resident))
        second = services.case_create(_intake(category, resident))
    assert first.reference == "C-2026-000001" and second.reference == "C-2026-000002"
    assert first.team == team and {first.assignee, second.assignee} == {a, b}  # round robin
    assert first.status == "assigned"
    # 4 working hours from Tue 10:00 (Mon–Fri 08:00–17:00 SAST) → Tue 14:00 SAST = 12:00 UTC.
    assert first.first_response_due == dt.datetime(2026, 3, 3, 12, 0, tzinfo=dt.UTC)
    # 2 working days → Thu 10:00 SAST.
    assert first.resolution_due == dt.datetime(2026, 3, 5, 8, 0, tzinfo=dt.UTC)
    kinds = list(first.events.values_list("kind", flat=True))
    assert kinds == ["created", "routed"]
    assert mailoutbox[0].to == [resident.email] and "C-2026-000001" in mailoutbox[0].subject


def test_routing_by_territory_and_least_loaded(make_user, operator):
    north, south = rf.territory("north"), rf.territory("south")
    busy, idle = make_user(role="case_specialist"), make_user(role="case_specialist")
    category = cf.category()
    north_team = cf.team(members=[busy, idle], strategy="least_loaded")
    south_team = cf.team()
    cf.rule(south_team, order=10, territory=south)
    cf.rule(north_team, order=20, territory=north)
    services.case_create(_intake(category, make_user(), territory=north, subject="x"))
    first = Case.objects.get()
    assert first.team == north_team
    other = busy if first.assignee == idle else idle
    second = services.case_create(_intake(category, make_user(), territory=north))
    assert second.assignee == other  # the one with fewer open cases
    assert services.case_create(_intake(category, make_user(), territory=south)).team == south_team


def test_unrouted_case_stays_new(make_user, operator):
    case = services.case_create(_intake(cf.category(), make_user()))
    assert case.team is None and case.status == "new"


def test_intake_questions_are_checked(make_user, operator):
    category = cf.category(
        questions=[
            {"key": "since", "type": "date", "label": {"en": "Since when?"}, "required": True},
            {"key": "litres", "type": "number", "label": {"en": "How much?"}},
        ]
    )
    with pytest.raises(ValidationError) as exc:
        services.case_create(_intake(category, make_user(), answers={"litres": "lots"}))
    assert set(exc.value.message_dict) == {"answers.since", "answers.litres"}
    assert not Case.objects.exists()
    case = services.case_create(
        _intake(category, make_user(), answers={"since": "2026-03-01", "litres": "2,5"})
    )
    assert case.answers == {"since": "2026-03-01", "litres": "2.5"}


def test_anonymous_needs_a_contact(operator):
    with pytest.raises(ValidationError) as exc:
        services.case_create(_intake(cf.category(), None))
    assert "contact_email" in exc.value.message_dict


def test_waiting_for_the_customer_pauses_the_clock(make_user, operator):
    category = cf.category(resolution=(2, "working_days"))
    agent = make_user(role="case_specialist")
    with time_machine.travel(TUESDAY, tick=False) as t:
        case = services.case_create(_intake(category, make_user()))
        due = case.resolution_due
        services.case_transition(case=case, target="waiting_customer", actor=agent)
        t.shift(dt.timedelta(hours=3))  # 3 working hours waiting
        services.case_transition(case=case, target="in_progress", actor=agent)
    case.refresh_from_db()
    assert case.resolution_due == due + dt.timedelta(hours=3)
    assert case.first_responded_at is not None
    assert len(case.pauses) == 1


def test_transitions_follow_the_table(make_user, operator):
    case = services.case_create(_intake(cf.category(), make_user()))
    with pytest.raises(ValidationError):
        services.case_transition(case=case, target="closed")
    services.case_transition(case=case, target="resolved")
    services.case_transition(case=case, target="closed")
    with pytest.raises(ValidationError):
        services.case_transition(case=case, target="reopened")
    events = list(case.events.filter(kind="status").values_list("data", flat=True))
    assert [(e["from"], e["to"]) for e in events] == [("new", "resolved"), ("resolved", "closed")]


def test_reopen_only_within_the_window(make_user, operator):
    category = cf.category()
    category.reopen_days = 7
    category.save()
    case = services.case_create(_intake(category, make_user()))
    services.case_transition(case=case, target="resolved")
    with time_machine.travel(timezone.now() + dt.timedelta(days=8)), pytest.raises(ValidationError):
        services.case_transition(case=case, target="reopened")
    services.case_transition(case=case, target="reopened")
    assert Case.objects.get(pk=case.pk).status == "reopened"


def test_reply_resumes_a_waiting_case_and_rating(make_user, operator):
    resident = make_user()
    case = services.case_create(_intake(cf.category(), resident))
    services.case_transition(case=case, target="waiting_customer")
    services.case_reply(case=case, user=resident, text="Here is the photo")
    case.refresh_from_db()
    assert case.status == "in_progress"
    with pytest.raises(ValidationError):
        services.case_rate(case=case, user=resident, rating=5)
    services.case_transition(case=case, target="resolved")
    with pytest.raises(ValidationError):
        services.case_rate(case=case, user=resident, rating=6)
    services.case_rate(case=case, user=resident, rating=4, comment="Quick")
    assert Case.objects.get(pk=case.pk).rating == 4


def test_manual_reassignment_needs_a_reason(make_user, operator):
    agent = make_user(role="case_specialist")
    team = cf.team(members=[agent])
    case = services.case_create(_intake(cf.category(), make_user()))
    with pytest.raises(ValidationError):
        services.case_assign(case=case, team=team, assignee=agent, reason=" ")
    services.case_assign(case=case, team=team, assignee=agent, reason="Specialist in meters")
    case.refresh_from_db()
    assert case.assignee == agent
    assert case.events.get(kind="assigned").text == "Specialist in meters"


def test_recategorising_routes_again(make_user, operator):
    old, new = cf.category(), cf.category(resolution=(1, "calendar_days"))
    team = cf.team()
    cf.rule(team, category_=new)
    case = services.case_create(_intake(old, make_user()))
    services.case_recategorise(case=case, category=new)
    case.refresh_from_db()
    assert case.team == team
    assert case.resolution_due == case.created_at + dt.timedelta(days=1)


def test_duplicates_resolve_with_their_parent(make_user, operator):
    category = cf.category(kind="outage")
    parent = services.case_create(_intake(category, make_user()))
    child = services.case_create(_intake(category, make_user()))
    services.case_mark_duplicate(case=child, parent=parent)
    services.case_transition(case=parent, target="resolved", note="Power restored")
    assert Case.objects.get(pk=child.pk).status == "resolved"


def test_sla_sweep_flags_breaches_once(make_user, operator):
    category = cf.category(resolution=(1, "working_hours"))
    with time_machine.travel(TUESDAY, tick=False):
        case = services.case_create(_intake(category, make_user()))
    with time_machine.travel(TUESDAY + dt.timedelta(minutes=50), tick=False):
        assert services.sla_sweep()["at_risk"] == 1
    with time_machine.travel(TUESDAY + dt.timedelta(hours=2), tick=False):
        assert services.sla_sweep()["breached"] == 1
        services.sla_sweep()
    assert CaseEvent.objects.filter(case=case, kind="sla_breached").count() == 1
    assert Case.objects.get(pk=case.pk).sla_state == "breached"


def test_bulk_create_matches_single(
    make_user, operator, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(services, "NOTIFY_CHUNK", 2)
    category = cf.category()
    team = cf.team(members=[make_user(role="case_specialist")])
    cf.rule(team)
    resident = make_user()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        cases = services.cases_create_bulk([_intake(category, resident) for _ in range(5)])
    assert len(callbacks) >= 3  # one notification task per chunk of two cases
    assert sorted(m.subject.split()[-1] for m in mailoutbox) == [c.reference for c in cases]
    assert [c.reference for c in cases] == [f"C-{timezone.now().year}-{n:06d}" for n in range(1, 6)]
    assert Case.objects.filter(team=team, status="assigned").count() == 5
    assert CaseEvent.objects.filter(kind="routed").count() == 5


def test_sla_sweep_command_and_task(make_user, operator):
    import io

    from django.core.management import call_command

    from civicdesk.cases.tasks import sweep_slas

    category = cf.category(resolution=(1, "working_hours"))
    with time_machine.travel(TUESDAY, tick=False):
        services.case_create(_intake(category, make_user()))
    with time_machine.travel(TUESDAY + dt.timedelta(hours=3), tick=False):
        assert sweep_slas.delay().get() == {"ok": 0, "at_risk": 0, "breached": 1}
        out = io.StringIO()
        call_command("sla_sweep", stdout=out)
    assert "breached: 1" in out.getvalue()
