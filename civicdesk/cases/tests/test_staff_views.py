"""Staff case pages through the real URLs: the work queue and its filters, the case page, each
form (status within the transition table only, notes, reassignment, category, duplicate,
attachment), the attachment download, and who may do what."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from civicdesk.cases import services, workflow
from civicdesk.cases.models import Attachment, Case, CaseEvent
from civicdesk.cases.tests import factories as cf
from civicdesk.registry.tests import factories as rf

pytestmark = pytest.mark.django_db
pytest_plugins = ["civicdesk.cases.tests.staff_support"]  # staff_login, make_case, media
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _text(response) -> str:
    return response.content.decode()


def _url(case, action: str = "") -> str:
    return f"/staff/cases/{case.reference}/{action + '/' if action else ''}"


@pytest.fixture
def category(operator):
    return cf.category(
        "water-leak",
        names={"en": "Water leak", "af": "Waterlek", "uk": "Витік", "ru": "Утечка"},
        questions=[
            {"key": "since", "type": "date", "label": {"en": "Since when?"}},
            {"key": "metered", "type": "boolean", "label": {"en": "Is it metered?"}},
        ],
    )


# --- access -----------------------------------------------------------------------------------


def test_a_resident_gets_403_on_every_staff_page(
    client, make_user, staff_login, category, make_case
):
    case = make_case(category)
    staff_login(user=make_user())
    for url in (
        "/staff/cases/",
        _url(case),
        "/staff/cases/console/",
        "/staff/cases/dashboards/",
        "/staff/cases/metrics/",
    ):
        assert client.get(url).status_code == 403, url
    response = client.post(_url(case, "status"), {"status-target": "in_progress"})
    assert response.status_code == 403
    assert Case.objects.get(pk=case.pk).status == workflow.NEW


def test_anonymous_visitors_are_sent_to_log_in(client, category, make_case):
    case = make_case(category)
    response = client.get(_url(case))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_quality_controller_reads_but_cannot_change(
    client, staff_login, category, media, make_case
):
    case = make_case(category)
    staff_login("quality_controller")
    page = client.get(_url(case))
    assert page.status_code == 200
    html = _text(page)
    assert case.reference in html and "You may read this case but not change it." in html
    assert 'action="/staff/cases/' not in html  # no forms at all
    events = CaseEvent.objects.filter(case=case).count()
    for action, data in (
        ("status", {"status-target": "in_progress", "status-visibility": "internal"}),
        ("note", {"note-text": "Checked.", "note-visibility": "internal"}),
        ("assign", {"assign-reason": "Mine now"}),
        ("category", {"category-category": cf.category().code}),
        ("duplicate", {"duplicate-parent": make_case(category).reference}),
        (
            "attachments",
            {
                "attachment-file": SimpleUploadedFile("x.png", PNG),
                "attachment-visibility": "internal",
            },
        ),
    ):
        assert client.post(_url(case, action), data).status_code == 403, action
    case.refresh_from_db()
    assert case.status == workflow.NEW and case.parent is None
    assert CaseEvent.objects.filter(case=case).count() == events
    assert not Attachment.objects.exists()


def test_writes_need_post(client, staff_login, category, make_case):
    case = make_case(category)
    staff_login("case_specialist")
    assert client.get(_url(case, "status")).status_code == 405


def test_unknown_reference_is_404(client, staff_login, operator):
    staff_login("case_specialist")
    assert client.get("/staff/cases/C-2026-999999/").status_code == 404


# --- the work queue -------------------------------------------------------------------------


def test_queue_tabs_and_filters(client, staff_login, make_user, category, make_case):
    me = staff_login("case_specialist")
    colleague = make_user(role="case_specialist")
    my_team = cf.team(members=[me, colleague])
    north = rf.territory("north", name="North")
    other_category = cf.category("billing", names={"en": "Billing"})
    mine = make_case(category, subject="Mine", territory=north)
    services.case_assign(case=mine, team=my_team, assignee=me, reason="r")
    theirs = make_case(other_category, subject="Theirs")
    services.case_assign(case=theirs, team=my_team, assignee=colleague, reason="r")
    loose = make_case(category, subject="Loose")
    late = make_case(category, subject="Late")
    Case.objects.filter(pk=late.pk).update(resolution_due=timezone.now() - dt.timedelta(hours=1))
    risky = make_case(category, subject="Risky")
    Case.objects.filter(pk=risky.pk).update(sla_state="at_risk")
    done = make_case(category, subject="Done")
    services.case_transition(case=done, target=workflow.RESOLVED)

    def refs(**params) -> set[str]:
        response = client.get("/staff/cases/", params)
        assert response.status_code == 200
        return set(re.findall(r"C-\d{4}-\d{6}", _text(response)))

    assert refs() == {mine.reference}  # "mine" by default
    assert refs(queue="team") == {mine.reference, theirs.reference}
    assert refs(queue="unassigned") == {loose.reference, late.reference, risky.reference}
    assert refs(queue="breached") == {late.reference}
    assert refs(queue="at_risk") == {risky.reference}
    all_open = {mine.reference, theirs.reference, loose.reference, late.reference}
    assert refs(queue="open") == all_open | {risky.reference}
    assert refs(queue="open", category="billing") == {theirs.reference}
    assert refs(queue="open", territory="north") == {mine.reference}
    assert refs(queue="open", status="resolved") == {done.reference}
    # a stale filter is said to be wrong; the others still apply
    stale = client.get("/staff/cases/", {"queue": "open", "category": "gone", "territory": "north"})
    assert "Select a valid choice." in _text(stale)
    assert set(re.findall(r"C-\d{4}-\d{6}", _text(stale))) == {mine.reference}
    html = _text(client.get("/staff/cases/", {"queue": "open"}))
    assert 'aria-current="page"' in html and '<th scope="col">' in html
    assert re.search(r"All open <span class=\"badge\">5</span>", html)
    assert "sla-breached" in html


def test_queue_is_paginated(client, staff_login, category):
    staff_login("case_specialist")
    cases = services.cases_create_bulk(
        [
            services.Intake(
                category=category, channel="phone", subject=f"n{i}", contact_phone="+27820000000"
            )
            for i in range(30)
        ]
    )
    first = _text(client.get("/staff/cases/", {"queue": "unassigned"}))
    second = _text(client.get("/staff/cases/", {"queue": "unassigned", "page": 2}))
    found = set(re.findall(r"C-\d{4}-\d{6}", first)), set(re.findall(r"C-\d{4}-\d{6}", second))
    assert len(found[0]) == 25 and len(found[1]) == 5
    assert found[0] | found[1] == {c.reference for c in cases}
    assert "queue=unassigned&amp;page=2" in first


# --- the case page ----------------------------------------------------------------------------


def test_case_page_shows_details_answers_links_and_the_whole_timeline(
    client, staff_login, make_user, category, make_case
):
    resident = make_user(full_name="Naledi Mahlangu")
    account = rf.account()
    case = make_case(
        category,
        requester=resident,
        description="Water on the floor.",
        answers={"since": "2026-03-01", "metered": "yes"},
        concerns=[account],
    )
    agent = make_user(role="case_specialist")
    services.case_note(case=case, actor=agent, text="Called the plumber.", public=False)
    services.case_note(case=case, actor=agent, text="A plumber is on the way.", public=True)
    staff_login("case_specialist")
    html = _text(client.get(_url(case)))
    assert f"<h1>{case.reference}" in html and "No water since morning" in html
    assert "Naledi Mahlangu" in html and "Water on the floor." in html
    assert "Since when?" in html and "2026-03-01" in html
    assert "Is it metered?" in html and "<dd>Yes</dd>" in html
    assert f'href="/staff/customers/account/{account.number}/"' in html
    assert "Called the plumber." in html and "A plumber is on the way." in html
    assert html.count('class="internal"') >= 1 and html.count('class="public"') >= 1
    # only the transitions the table allows are offered
    options = re.findall(r'<option value="(\w+)"', html.split('name="status-target"')[1])
    allowed = workflow.TRANSITIONS[workflow.NEW]
    assert set(options[: len(allowed)]) == allowed
    assert '<th scope="col">' in html or "<dl" in html


# --- status -----------------------------------------------------------------------------------


def test_status_change_within_the_table(client, staff_login, category, mailoutbox, make_case):
    case = make_case(category)
    me = staff_login("case_specialist")
    response = client.post(
        _url(case, "status"),
        {
            "status-target": "in_progress",
            "status-note": "Looking into it.",
            "status-visibility": "internal",
        },
    )
    assert response.status_code == 302 and response["Location"] == _url(case) + "#timeline"
    case.refresh_from_db()
    assert case.status == workflow.IN_PROGRESS
    event = case.events.get(kind="status")
    assert event.actor == me and not event.public and event.text == "Looking into it."
    assert event.data == {"from": "new", "to": "in_progress"}
    page = _text(client.get(_url(case)))
    assert "The status is now “In progress”." in page


def test_status_change_outside_the_table_is_refused_and_nothing_changes(
    client, staff_login, category, make_case
):
    case = make_case(category)
    staff_login("case_specialist")
    events = case.events.count()
    response = client.post(
        _url(case, "status"), {"status-target": "closed", "status-visibility": "public"}
    )
    assert response.status_code == 400
    html = _text(response)
    assert "A case that is “New” cannot become “Closed”." in html
    assert "It can become: Assigned, In progress, Waiting for you, Resolved, Cancelled." in html
    assert "Nothing was changed" in html
    case.refresh_from_db()
    assert case.status == workflow.NEW and case.events.count() == events
    # a final status offers no form at all
    services.case_transition(case=case, target=workflow.CANCELLED)
    html = _text(client.get(_url(case)))
    assert "its status can no longer change" in html and 'name="status-target"' not in html
    response = client.post(
        _url(case, "status"), {"status-target": "reopened", "status-visibility": "public"}
    )
    assert response.status_code == 400
    assert Case.objects.get(pk=case.pk).status == workflow.CANCELLED


def test_reopening_outside_the_window_shows_the_service_reason(
    client, staff_login, category, make_case
):
    case = make_case(category)
    services.case_transition(case=case, target=workflow.RESOLVED)
    Case.objects.filter(pk=case.pk).update(resolved_at=timezone.now() - dt.timedelta(days=60))
    staff_login("case_specialist")
    response = client.post(
        _url(case, "status"), {"status-target": "reopened", "status-visibility": "public"}
    )
    assert response.status_code == 400
    assert "resolved too long ago to reopen" in _text(response)
    assert Case.objects.get(pk=case.pk).status == workflow.RESOLVED


# --- notes, reassignment, category, duplicate ---------------------------------------------------


def test_notes_internal_and_public(client, staff_login, category, mailoutbox, make_user, make_case):
    resident = make_user()
    case = make_case(category, requester=resident)
    staff_login("case_specialist")
    mailoutbox.clear()
    client.post(_url(case, "note"), {"note-text": "Staff only.", "note-visibility": "internal"})
    client.post(_url(case, "note"), {"note-text": "For you.", "note-visibility": "public"})
    notes = list(case.events.filter(kind="note").values_list("text", "public"))
    assert notes == [("Staff only.", False), ("For you.", True)]
    response = client.post(_url(case, "note"), {"note-text": " ", "note-visibility": "public"})
    assert response.status_code == 400 and case.events.filter(kind="note").count() == 2


def test_reassign_to_a_team_and_person_with_a_reason(
    client, staff_login, make_user, category, make_case
):
    me = staff_login("case_specialist")
    person = make_user(role="case_specialist", full_name="Sipho Dlamini")
    stranger = make_user(role="case_specialist")
    team = cf.team("leaks", members=[person])
    other = cf.team("meters", members=[stranger])
    case = make_case(category)
    page = _text(client.get(_url(case)))
    assert f'<optgroup label="{team.name}">' in page and "Sipho Dlamini" in page
    refused = client.post(
        _url(case, "assign"),
        {"assign-team": "leaks", "assign-assignee": str(person.public_id), "assign-reason": ""},
    )
    assert refused.status_code == 400
    wrong_team = client.post(
        _url(case, "assign"),
        {"assign-team": other.code, "assign-assignee": str(person.public_id), "assign-reason": "x"},
    )
    assert wrong_team.status_code == 400 and "This person is not in the team." in _text(wrong_team)
    assert Case.objects.get(pk=case.pk).assignee is None
    response = client.post(
        _url(case, "assign"),
        {
            "assign-team": "leaks",
            "assign-assignee": str(person.public_id),
            "assign-reason": "Knows the area",
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.team == team and case.assignee == person and case.status == workflow.ASSIGNED
    event = case.events.get(kind="assigned")
    assert event.actor == me and event.text == "Knows the area" and not event.public


def test_recategorise(client, staff_login, category, make_case):
    other = cf.category("meter-fault", names={"en": "Meter fault"})
    case = make_case(category)
    staff_login("case_specialist")
    response = client.post(_url(case, "category"), {"category-category": "meter-fault"})
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).category == other
    html = _text(client.get(_url(case)))
    assert "Category: Water leak → Meter fault." in html
    unknown = client.post(_url(case, "category"), {"category-category": "nope"})
    assert unknown.status_code == 400


def test_mark_duplicate(client, staff_login, category, make_case):
    parent, case = make_case(category), make_case(category)
    staff_login("case_specialist")
    missing = client.post(_url(case, "duplicate"), {"duplicate-parent": "C-2000-000001"})
    assert missing.status_code == 400
    assert "No case has the reference C-2000-000001." in _text(missing)
    itself = client.post(_url(case, "duplicate"), {"duplicate-parent": case.reference})
    assert itself.status_code == 400 and "A case cannot duplicate itself." in _text(itself)
    response = client.post(_url(case, "duplicate"), {"duplicate-parent": parent.reference.lower()})
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).parent == parent
    assert f'href="/staff/cases/{parent.reference}/"' in _text(client.get(_url(case)))


# --- attachments ------------------------------------------------------------------------------


def test_upload_and_download_an_attachment(client, staff_login, category, media, make_case):
    case = make_case(category)
    staff_login("case_specialist")
    response = client.post(
        _url(case, "attachments"),
        {
            # the name and the browser's type lie: the bytes decide
            "attachment-file": SimpleUploadedFile("photo.html", PNG, content_type="text/html"),
            "attachment-visibility": "internal",
        },
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get(case=case)
    assert attachment.content_type == "image/png" and not attachment.public
    html = _text(client.get(_url(case)))
    url = f"/staff/cases/{case.reference}/attachments/{attachment.id}/"
    assert f'href="{url}"' in html
    download = client.get(url)
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"] == 'attachment; filename="photo.html"'
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in download["Cache-Control"]
    assert b"".join(download.streaming_content) == PNG
    refused = client.post(
        _url(case, "attachments"),
        {
            "attachment-file": SimpleUploadedFile("evil.exe", b"MZ\x90\x00" * 10),
            "attachment-visibility": "public",
        },
    )
    assert refused.status_code == 400 and "This file type is not accepted" in _text(refused)
    assert Attachment.objects.count() == 1


def test_attachment_download_needs_staff_and_the_right_case(
    client, staff_login, make_user, category, media, make_case
):
    case, other = make_case(category), make_case(category)
    attachment = services.attachment_add(
        case=case, upload=SimpleUploadedFile("a.png", PNG), actor=None
    )
    url = f"/staff/cases/{case.reference}/attachments/{attachment.id}/"
    resident = Client()
    staff_login(user=make_user(), as_client=resident)
    assert resident.get(url).status_code == 403
    staff_login("quality_controller")
    assert client.get(url).status_code == 200  # reading is enough
    assert (
        client.get(f"/staff/cases/{other.reference}/attachments/{attachment.id}/").status_code
        == 404
    )
