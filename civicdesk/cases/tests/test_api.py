"""The cases API: residents lodge, follow, answer and rate their own cases by reference (anyone
else's case is 404 on every endpoint, and internal notes never reach them); staff lodge on
behalf of others, filter, work and reassign; refusals are 422 and change nothing; categories,
routing rules, teams and calls."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from civicdesk.cases import services
from civicdesk.cases.models import Attachment, Call, Case, CaseEvent, RoutingRule
from civicdesk.cases.services import Intake
from civicdesk.cases.tests import factories as cf
from civicdesk.identity import roles
from civicdesk.registry import services as registry_services
from civicdesk.registry.tests import factories as rf

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
REFERENCE = re.compile(r"^C-\d{4}-\d{6}$")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
QUESTIONS = [
    {"key": "since", "type": "date", "label": {"en": "Since when?", "af": "Sedert wanneer?"}},
    {
        "key": "kind",
        "type": "choice",
        "label": {"en": "What kind?"},
        "choices": ["cold", "hot"],
        "required": True,
    },
]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def resident(make_user, operator):
    return make_user(full_name="Thandi Mokoena")


@pytest.fixture
def api(resident):
    return client_for(resident)


@pytest.fixture
def staff(make_user, operator):
    def _staff(role=roles.CASE_SPECIALIST, **kw):
        user = make_user(role=role, **kw)
        client = client_for(user)
        client.user = user
        return client

    return _staff


@pytest.fixture
def category(operator):
    return cf.category("water", questions=QUESTIONS)


def lodge(user, category, **kw) -> Case:
    return services.case_create(
        Intake(
            category=category,
            channel=kw.pop("channel", "portal"),
            subject=kw.pop("subject", "No water since morning"),
            requester=user,
            answers=kw.pop("answers", {"kind": "cold"}),
            **kw,
        )
    )


# --- residents ------------------------------------------------------------------------------


def test_resident_lodges_lists_reads_answers_and_rates(api, resident, category, staff):
    account = rf.account()
    registry_services.link_by_staff(user=resident, account=account, role="owner")
    specialist = staff()
    cf.rule(cf.team(members=[specialist.user]), category_=category)

    response = api.post(
        "/api/v1/cases",
        {
            "category": "water",
            "subject": "No water since morning",
            "description": "The whole block is dry.",
            "answers": {"since": "2026-03-02", "kind": "cold"},
            "account_number": account.number,
        },
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    reference = created["reference"]
    assert REFERENCE.match(reference)
    assert created["channel"] == "api" and created["status"] == "assigned"
    assert created["category"] == {"code": "water", "name": category.name}
    assert created["answers"] == {"since": "2026-03-02", "kind": "cold"}
    assert {"kind": "personalaccount", "label": account.number} in created["concerns"]
    assert created["territory"] == account.premises.building.territory.code
    assert created["handling"] is None  # no staff details for residents
    assert created["resolution_due"] and created["sla_state"] == "ok"
    assert "id" not in created and "requester" not in created

    other = lodge(resident.__class__.objects.create_user("x@example.org"), category)
    listed = api.get("/api/v1/cases").json()
    assert [c["reference"] for c in listed["results"]] == [reference]
    assert other.reference != reference

    detail = api.get(f"/api/v1/cases/{reference}")
    assert detail.status_code == 200 and detail.json()["subject"] == "No water since morning"

    case = Case.objects.get(reference=reference)
    services.case_note(case=case, actor=specialist.user, text="Valve 7 is shut.", public=False)
    services.case_note(case=case, actor=specialist.user, text="A team is on its way.", public=True)
    timeline = api.get(f"/api/v1/cases/{reference}/timeline").json()["results"]
    texts = [e["text"] for e in timeline]
    assert "A team is on its way." in texts and "Valve 7 is shut." not in texts
    assert all(e["public"] for e in timeline)
    assert {e["kind"] for e in timeline} == {"created", "note"}  # not "routed"
    assert all(e["actor"] is None for e in timeline)
    assert [e["by"] for e in timeline] == ["requester", "staff"]

    reply = api.post(f"/api/v1/cases/{reference}/messages", {"text": "Thank you!"})
    assert reply.status_code == 201
    assert reply.json()["kind"] == "message" and reply.json()["by"] == "requester"

    early = api.post(f"/api/v1/cases/{reference}/rating", {"rating": 5})
    assert early.status_code == 422 and early["Content-Type"] == PROBLEM
    services.case_transition(case=case, target="resolved", actor=specialist.user)
    rated = api.post(
        f"/api/v1/cases/{reference}/rating", {"rating": 5, "comment": "Quick and kind."}
    )
    assert rated.status_code == 200
    assert rated.json()["rating"] == 5 and rated.json()["rating_comment"] == "Quick and kind."


def test_resident_reopens_or_cancels_only(api, resident, category):
    case = lodge(resident, category)
    refused = api.post(f"/api/v1/cases/{case.reference}/status", {"status": "resolved"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "status"
    case.refresh_from_db()
    assert case.status == "new"
    cancelled = api.post(
        f"/api/v1/cases/{case.reference}/status", {"status": "cancelled", "note": "Fixed itself"}
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/cases/{case.reference}/status", {"status": "reopened"})
    assert again.status_code == 422  # cancelled is final
    assert Case.objects.get(pk=case.pk).status == "cancelled"


def test_another_residents_case_is_404_on_every_endpoint(api, make_user, category):
    theirs = lodge(make_user(), category)
    services.attachment_add(
        case=theirs, upload=SimpleUploadedFile("a.png", PNG), actor=theirs.requester
    )
    attachment = theirs.attachments.get()
    base = f"/api/v1/cases/{theirs.reference}"
    before = CaseEvent.objects.count()
    responses = [
        api.get(base),
        api.get(f"{base}/timeline"),
        api.post(f"{base}/messages", {"text": "Hello"}),
        api.post(f"{base}/status", {"status": "cancelled"}),
        api.post(f"{base}/rating", {"rating": 1}),
        api.get(f"{base}/attachments"),
        api.post(
            f"{base}/attachments",
            {"file": SimpleUploadedFile("b.png", PNG)},
            format="multipart",
        ),
        api.get(f"{base}/attachments/{attachment.pk}"),
    ]
    for response in responses:
        assert response.status_code == 404, response.request["PATH_INFO"]
        assert response["Content-Type"] == PROBLEM
    assert api.get("/api/v1/cases").json()["results"] == []
    assert CaseEvent.objects.count() == before and Attachment.objects.count() == 1
    assert Case.objects.get(pk=theirs.pk).status == "new"


def test_residents_cannot_assign_or_use_staff_fields(api, resident, category):
    case = lodge(resident, category)
    response = api.post(
        f"/api/v1/cases/{case.reference}/assign", {"team": None, "reason": "Because"}
    )
    assert response.status_code == 403
    response = api.post(
        "/api/v1/cases",
        {"category": "water", "subject": "Hi", "answers": {"kind": "hot"}, "priority": "urgent"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "priority"
    assert Case.objects.count() == 1


def test_someone_elses_account_is_refused(api, resident, make_user, category):
    account = rf.account()
    registry_services.link_by_staff(user=make_user(), account=account, role="owner")
    response = api.post(
        "/api/v1/cases",
        {
            "category": "water",
            "subject": "My bill",
            "answers": {"kind": "cold"},
            "account_number": account.number,
        },
    )
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "account_number"
    assert not Case.objects.exists()


def test_bad_intake_answers_are_422_naming_each_answer(api, category):
    response = api.post(
        "/api/v1/cases",
        {
            "category": "water",
            "subject": "No water",
            "answers": {"since": "yesterday", "kind": "lukewarm", "colour": "brown"},
        },
    )
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"answers.since", "answers.kind", "answers.colour"}
    missing = api.post("/api/v1/cases", {"category": "water", "subject": "No water"})
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["answers.kind"]
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


def test_unknown_category_is_422_and_bad_shape_is_400(api, resident, category):
    unknown = api.post("/api/v1/cases", {"category": "nope", "subject": "x"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "category"
    for wrong in ({"subject": 7}, {"latitude": False}, {"longitude": "28.1"}):
        body = {"category": "water", "subject": "x", "answers": {"kind": "hot"}, **wrong}
        response = api.post("/api/v1/cases", body)
        assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert not Case.objects.exists()
    case = lodge(resident, category)
    for wrong in ({"rating": "5"}, {"rating": True}, {"rating": 4.5}, {"rating": 6}):
        response = api.post(f"/api/v1/cases/{case.reference}/rating", wrong)
        assert response.status_code == 400
    response = api.post(f"/api/v1/cases/{case.reference}/messages", {"text": "x", "public": 0})
    assert response.status_code == 400


def test_attachments_upload_list_and_download(api, resident, category, staff, media):
    case = lodge(resident, category)
    base = f"/api/v1/cases/{case.reference}/attachments"
    script = api.post(
        base,
        {"file": SimpleUploadedFile("photo.png", b"#!/bin/sh\nrm -rf /", "image/png")},
        format="multipart",
    )
    assert script.status_code == 422 and script.json()["errors"][0]["field"] == "attachments"
    assert not Attachment.objects.exists()
    assert not any(p.is_file() for p in media.rglob("*")) if media.exists() else True
    assert not case.events.filter(kind="attachment").exists()

    uploaded = api.post(
        base, {"file": SimpleUploadedFile("leak.png", PNG, "image/png")}, format="multipart"
    )
    assert uploaded.status_code == 201
    body = uploaded.json()
    assert body["content_type"] == "image/png" and body["size"] == len(PNG) and body["public"]
    download = api.get(body["download"])
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert download["Content-Disposition"].startswith("attachment;")
    assert 'filename="leak.png"' in download["Content-Disposition"]
    assert b"".join(download.streaming_content) == PNG

    specialist = staff()
    internal = specialist.post(
        base,
        {"file": SimpleUploadedFile("scan.pdf", b"%PDF-1.7 internal"), "public": "false"},
        format="multipart",
    )
    assert internal.status_code == 201 and internal.json()["public"] is False
    shown = specialist.post(
        base, {"file": SimpleUploadedFile("plan.pdf", b"%PDF-1.7 plan")}, format="multipart"
    )
    assert shown.status_code == 201 and shown.json()["public"] is True  # the default
    yes_no = specialist.post(
        base,
        {"file": SimpleUploadedFile("plan.pdf", b"%PDF-1.7 plan"), "public": "0"},
        format="multipart",
    )
    assert yes_no.status_code == 400  # a form's boolean is "true" or "false"
    assert [a["name"] for a in api.get(base).json()["results"]] == ["leak.png", "plan.pdf"]
    assert len(specialist.get(base).json()["results"]) == 3
    assert api.get(internal.json()["download"]).status_code == 404
    assert specialist.get(internal.json()["download"]).status_code == 200


# --- staff ----------------------------------------------------------------------------------


def test_staff_lodge_on_behalf_of_a_contact_or_a_resident(staff, resident, category):
    agent = staff(roles.CALL_CENTRE_AGENT)
    response = agent.post(
        "/api/v1/cases",
        {
            "category": "water",
            "subject": "Burst pipe",
            "answers": {"kind": "cold"},
            "channel": "phone",
            "contact_name": "Sipho Dlamini",
            "contact_phone": "082 555 0101",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["channel"] == "phone"
    assert body["handling"]["contact_phone"] == "+27825550101"
    assert body["handling"]["requester"] is None
    behalf = agent.post(
        "/api/v1/cases",
        {
            "category": "water",
            "subject": "No water",
            "answers": {"kind": "hot"},
            "channel": "walk_in",
            "requester": resident.email.upper(),
        },
    )
    assert behalf.status_code == 201
    assert behalf.json()["handling"]["requester"] == {
        "email": resident.email,
        "full_name": "Thandi Mokoena",
    }
    assert Case.objects.get(reference=behalf.json()["reference"]).requester == resident
    nobody = agent.post(
        "/api/v1/cases",
        {"category": "water", "subject": "x", "answers": {"kind": "hot"}, "channel": "email"},
    )
    assert nobody.status_code == 422
    assert nobody.json()["errors"][0]["field"] == "contact_email"
    unknown = agent.post(
        "/api/v1/cases",
        {"category": "water", "subject": "x", "requester": "nobody@example.org"},
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "requester"
    assert Case.objects.count() == 2


def test_staff_filter_the_case_list(staff, make_user, operator):
    north = rf.territory("north")
    north_area = rf.territory("north-a", kind="area", parent=north)
    south = rf.territory("south")
    water = cf.category("water")
    leak = cf.category("leak", parent=water)
    power = cf.category("power")
    specialist = staff()
    team = cf.team("plumbers", members=[specialist.user])
    cf.rule(team, category_=water)
    resident = make_user()
    a = lodge(resident, leak, territory=north_area, answers={})
    b = lodge(resident, power, territory=south, answers={})
    c = lodge(resident, water, territory=north, answers={})
    services.case_transition(case=c, target="in_progress", actor=specialist.user)
    Case.objects.filter(pk=b.pk).update(
        created_at=timezone.now() - dt.timedelta(days=30),
        resolution_due=timezone.now() - dt.timedelta(days=1),
    )

    def refs(**params):
        response = specialist.get("/api/v1/cases", params)
        assert response.status_code == 200, response.json()
        return {r["reference"] for r in response.json()["results"]}

    assert refs() == {a.reference, b.reference, c.reference}
    assert refs(category="water") == {a.reference, c.reference}
    assert refs(territory="north") == {a.reference, c.reference}
    assert refs(territory="north-a") == {a.reference}
    assert refs(team="plumbers") == {a.reference, c.reference}
    assert refs(assignee=specialist.user.email.upper()) == {a.reference, c.reference}
    assert refs(status="in_progress") == {c.reference}
    assert refs(sla_state="breached") == {b.reference}
    assert refs(sla_state="ok") == {a.reference, c.reference}
    week_ago = (timezone.now() - dt.timedelta(days=7)).isoformat()
    assert refs(created_after=week_ago) == {a.reference, c.reference}
    assert refs(created_before=week_ago) == {b.reference}
    bad = specialist.get("/api/v1/cases", {"status": "lost"})
    assert bad.status_code == 400 and bad["Content-Type"] == PROBLEM

    detail = specialist.get(f"/api/v1/cases/{a.reference}").json()
    assert detail["handling"]["team"] == "plumbers"
    assert detail["handling"]["assignee"] == specialist.user.email
    assert detail["handling"]["contact_email"] == resident.email
    timeline = specialist.get(f"/api/v1/cases/{a.reference}/timeline").json()["results"]
    assert [e["kind"] for e in timeline] == ["created", "routed"]
    assert timeline[0]["actor"] == resident.email
    assert timeline[1]["data"]["assignee"] == specialist.user.email  # not the user's key
    assert timeline[1]["data"]["team"] == team.name


def test_staff_without_permission_are_refused(staff, make_user, category):
    case = lodge(make_user(), category)
    controller = staff(roles.QUALITY_CONTROLLER)  # reads cases, does not work on them
    assert controller.get(f"/api/v1/cases/{case.reference}").status_code == 200
    note = controller.post(f"/api/v1/cases/{case.reference}/messages", {"text": "Hi"})
    assert note.status_code == 403
    lodge_ = controller.post("/api/v1/cases", {"category": "water", "subject": "x"})
    assert lodge_.status_code == 403
    rating = staff().post(f"/api/v1/cases/{case.reference}/rating", {"rating": 5})
    assert rating.status_code == 403


def test_transition_outside_the_table_is_422_and_changes_nothing(staff, make_user, category):
    case = lodge(make_user(), category)
    specialist = staff()
    events = case.events.count()
    response = specialist.post(f"/api/v1/cases/{case.reference}/status", {"status": "closed"})
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "status"
    case.refresh_from_db()
    assert case.status == "new" and case.events.count() == events and case.closed_at is None
    moved = specialist.post(
        f"/api/v1/cases/{case.reference}/status",
        {"status": "waiting_customer", "note": "Which floor?", "public": True},
    )
    assert moved.status_code == 200 and moved.json()["status"] == "waiting_customer"
    unknown = specialist.post(f"/api/v1/cases/{case.reference}/status", {"status": "lost"})
    assert unknown.status_code == 400


def test_staff_notes_internal_by_default_and_public_on_request(staff, make_user, category):
    resident = make_user()
    case = lodge(resident, category)
    specialist = staff()
    internal = specialist.post(f"/api/v1/cases/{case.reference}/messages", {"text": "Check"})
    public = specialist.post(
        f"/api/v1/cases/{case.reference}/messages", {"text": "On our way", "public": True}
    )
    assert internal.status_code == public.status_code == 201
    assert internal.json()["public"] is False and public.json()["public"] is True
    assert public.json()["actor"] == specialist.user.email
    seen = client_for(resident).get(f"/api/v1/cases/{case.reference}/timeline").json()
    assert [e["text"] for e in seen["results"] if e["kind"] == "note"] == ["On our way"]


def test_assign_needs_a_reason_and_a_team_member(staff, make_user, category):
    case = lodge(make_user(), category)
    specialist = staff()
    outsider = make_user(role=roles.CASE_SPECIALIST)
    cf.team("plumbers", members=[specialist.user])
    url = f"/api/v1/cases/{case.reference}/assign"
    assert specialist.post(url, {"team": "plumbers", "reason": " "}).status_code == 400
    assert specialist.post(url, {"team": "plumbers"}).status_code == 400
    unknown = specialist.post(url, {"team": "nobody", "reason": "Skills"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "team"
    outside = specialist.post(
        url, {"team": "plumbers", "assignee": outsider.email, "reason": "Skills"}
    )
    assert outside.status_code == 422 and outside.json()["errors"][0]["field"] == "assignee"
    assert Case.objects.get(pk=case.pk).assignee is None
    done = specialist.post(
        url, {"team": "plumbers", "assignee": specialist.user.email, "reason": "Skills"}
    )
    assert done.status_code == 200
    assert done.json()["handling"]["assignee"] == specialist.user.email
    assert done.json()["status"] == "assigned"
    event = case.events.get(kind="assigned")
    assert event.text == "Skills" and not event.public


# --- categories, teams, routing rules -------------------------------------------------------


def test_categories_in_the_callers_language(api, category):
    cf.category("closed").__class__.objects.filter(code="closed").update(active=False)
    english = api.get("/api/v1/categories").json()["results"]
    assert [c["code"] for c in english] == ["water"]
    assert english[0]["name"] == category.names["en"]
    assert english[0]["resolution_target"] == {"amount": 5, "unit": "working_days"}
    assert english[0]["questions"][1] == {
        "key": "kind",
        "type": "choice",
        "label": "What kind?",
        "required": True,
        "choices": [{"value": "cold", "label": "cold"}, {"value": "hot", "label": "hot"}],
    }
    afrikaans = api.get("/api/v1/categories/water", HTTP_ACCEPT_LANGUAGE="af").json()
    assert afrikaans["name"] == category.names["af"]
    assert afrikaans["questions"][0]["label"] == "Sedert wanneer?"
    assert api.get("/api/v1/categories/closed").status_code == 404


def test_routing_rules_crud_for_operator_admins_only(staff, category):
    admin = staff(roles.OPERATOR_ADMIN)
    north = rf.territory("north")
    team = cf.team("plumbers", members=[admin.user])
    created = admin.post(
        "/api/v1/routing-rules",
        {"order": 10, "category": "water", "territory": "north", "team": "plumbers"},
    )
    assert created.status_code == 201, created.json()
    rule = created.json()
    assert rule["category"] == "water" and rule["territory"] == "north"
    assert rule["assignee"] is None and rule["active"] is True
    url = f"/api/v1/routing-rules/{rule['id']}"
    assert admin.get("/api/v1/routing-rules").json()["results"][0]["id"] == rule["id"]
    changed = admin.patch(url, {"priority": "urgent", "assignee": admin.user.email})
    assert changed.status_code == 200 and changed.json()["priority"] == "urgent"
    assert RoutingRule.objects.get().assignee == admin.user
    unknown = admin.patch(url, {"team": "nobody"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "team"
    assert RoutingRule.objects.get().team == team
    assert admin.delete(url).status_code == 204
    assert not RoutingRule.objects.exists()

    cf.rule(team, territory=north)
    agent = staff(roles.CALL_CENTRE_AGENT)
    assert agent.get("/api/v1/routing-rules").status_code == 403
    assert agent.post("/api/v1/routing-rules", {"team": "plumbers"}).status_code == 403
    rule_id = RoutingRule.objects.get().pk
    assert agent.delete(f"/api/v1/routing-rules/{rule_id}").status_code == 403
    assert RoutingRule.objects.count() == 1
    assert agent.get("/api/v1/teams").json()["results"][0]["members"] == [admin.user.email]


def test_residents_see_no_teams_rules_or_calls(api):
    for url in ("/api/v1/teams", "/api/v1/routing-rules", "/api/v1/calls"):
        response = api.get(url)
        assert response.status_code == 403 and response["Content-Type"] == PROBLEM


# --- calls ----------------------------------------------------------------------------------


def test_agents_log_calls_and_supervisors_see_all(staff, make_user, category):
    case = lodge(make_user(), category)
    agent, colleague = staff(roles.CALL_CENTRE_AGENT), staff(roles.CALL_CENTRE_AGENT)
    started = timezone.now() - dt.timedelta(minutes=10)
    response = agent.post(
        "/api/v1/calls",
        {
            "started_at": started.isoformat(),
            "ended_at": (started + dt.timedelta(seconds=245)).isoformat(),
            "reason": "Asked about the leak",
            "outcome": "case_updated",
            "caller_phone": "082 555 0101",
            "account_number": "1000000017",
            "case": case.reference,
        },
    )
    assert response.status_code == 201, response.json()
    call = response.json()
    assert call["handling_seconds"] == 245 and call["caller_phone"] == "+27825550101"
    assert call["case"] == case.reference and call["agent"] == agent.user.email
    colleague.post(
        "/api/v1/calls",
        {
            "started_at": started.isoformat(),
            "ended_at": started.isoformat(),
            "reason": "Wrong number",
            "outcome": "dropped",
        },
    )
    assert [c["id"] for c in agent.get("/api/v1/calls").json()["results"]] == [call["id"]]
    assert agent.get(f"/api/v1/calls/{call['id']}").status_code == 200
    other = Call.objects.exclude(pk=call["id"]).get()
    assert agent.get(f"/api/v1/calls/{other.pk}").status_code == 404
    supervisor = staff(roles.QUALITY_CONTROLLER)
    assert len(supervisor.get("/api/v1/calls").json()["results"]) == 2
    assert supervisor.post("/api/v1/calls", {}).status_code == 403

    backwards = agent.post(
        "/api/v1/calls",
        {
            "started_at": started.isoformat(),
            "ended_at": (started - dt.timedelta(minutes=1)).isoformat(),
            "reason": "x",
            "outcome": "resolved",
        },
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "ended_at"
    no_case = agent.post(
        "/api/v1/calls",
        {
            "started_at": started.isoformat(),
            "ended_at": started.isoformat(),
            "reason": "x",
            "outcome": "resolved",
            "case": "C-1999-000001",
        },
    )
    assert no_case.status_code == 422 and no_case.json()["errors"][0]["field"] == "case"
    assert Call.objects.count() == 2


def test_date_filters_take_any_offset_and_refuse_out_of_range_moments(make_user, operator):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(make_user())
    ok = client.get("/api/v1/cases", {"created_after": "0685-05-14T15:08:40+17:01"})
    assert ok.status_code == 200
    bad = client.get("/api/v1/cases", {"created_before": "0001-01-01T00:30:00+01:00"})
    assert bad.status_code == 400
