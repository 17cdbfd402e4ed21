"""Resident case pages: choose a category, lodge with its questions, an account, a place and
photos; join a known problem; follow the public timeline; reply, reopen, rate; download one's
own files; the public known-problems page. Another resident's case is a 404 everywhere."""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import formats, timezone, translation

from civicdesk.cases import services
from civicdesk.cases.models import Attachment, Case, CaseEvent, CaseLink
from civicdesk.cases.services import Intake
from civicdesk.cases.tests import factories as cf
from civicdesk.registry import services as registry_services
from civicdesk.registry.tests import factories as rf

pytestmark = pytest.mark.django_db

QUESTIONS = [
    {
        "key": "litres",
        "type": "number",
        "label": {"en": "How many litres a day?", "uk": "Скільки літрів на день?"},
    },
    {
        "key": "since",
        "type": "date",
        "label": {"en": "Since when?", "uk": "З якого часу?"},
        "required": True,
    },
    {
        "key": "where",
        "type": "choice",
        "label": {"en": "Where is it?", "uk": "Де це?"},
        "choices": [
            {"value": "street", "label": {"en": "In the street", "uk": "На вулиці"}},
            {"value": "home", "label": {"en": "In my home", "uk": "Вдома"}},
        ],
        "required": True,
    },
    {"key": "meter", "type": "boolean", "label": {"en": "Is the meter turning?"}},
    {"key": "note", "type": "text", "label": {"en": "Anything else?"}},
]
GOOD_ANSWERS = {
    "q_litres": "2,5",
    "q_since": "2026-03-01",
    "q_where": "street",
    "q_meter": "yes",
    "q_note": "Near the school",
}


def png_bytes() -> bytes:
    """A real 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x2a\x7f\xd4")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def photo(name="leak.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def resident(client, make_user, operator):
    user = make_user(full_name="Thandi Mokoena")
    client.force_login(user)
    return user


@pytest.fixture
def agent(make_user):
    return make_user(role="case_specialist")


@pytest.fixture
def leak():
    return cf.category("water-leak", kind="leak", questions=QUESTIONS, requires_location=True)


def _lodge(client, category, **data):
    return client.post(f"/requests/new/{category.code}/", {"subject": "Water leak", **data})


def _case_for(user, category=None, **kw) -> Case:
    return services.case_create(
        Intake(
            category=category or cf.category(),
            channel="portal",
            subject=kw.pop("subject", "Broken street light"),
            requester=user,
            **kw,
        )
    )


# --- choosing and lodging -------------------------------------------------------------------


def test_pages_need_a_login(client, operator, leak):
    for url in ("/requests/", "/requests/new/", f"/requests/new/{leak.code}/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_categories_are_grouped_by_parent_in_my_language(client, resident):
    resident.preferred_language = "uk"
    resident.save()
    water = cf.category("water", names={"en": "Water", "uk": "Вода"})
    cf.category("water-leak", parent=water, names={"en": "Leak", "uk": "Протікання"})
    closed = cf.category("old", names={"en": "Retired", "uk": "Застаріле"})
    closed.active = False
    closed.save()
    page = client.get("/requests/new/").content.decode()
    assert "<h2" in page and "Вода" in page and "Протікання" in page
    assert "/requests/new/water-leak/" in page
    assert "/requests/new/water/" not in page  # a group heading, not a choice
    assert "Застаріле" not in page
    assert client.get("/requests/new/water/").status_code == 404
    assert client.get("/requests/new/old/").status_code == 404


def test_the_form_has_a_widget_per_question_type_labelled_in_my_language(client, resident, leak):
    resident.preferred_language = "uk"
    resident.save()
    page = client.get(f"/requests/new/{leak.code}/").content.decode()
    assert "Скільки літрів на день?" in page and "На вулиці" in page
    assert 'type="number"' in page and 'name="q_litres"' in page
    assert 'type="date"' in page and 'name="q_since"' in page
    assert 'type="radio" name="q_where"' in page and 'type="radio" name="q_meter"' in page
    assert 'name="address"' in page and 'name="latitude"' in page and 'name="longitude"' in page
    assert 'type="file" name="photos"' in page and "multiple" in page
    assert "Is the meter turning?" in page  # no Ukrainian label: the English one


def test_lodge_with_good_answers_shows_reference_and_due_date(
    client, resident, operator, leak, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _lodge(
            client,
            leak,
            description="Water running down the street.",
            address="12 Church Street",
            photos=[photo()],
            **GOOD_ANSWERS,
        )
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{case.reference}/"
    assert case.requester == resident and case.channel == "portal"
    assert case.answers == {
        "litres": "2.5",
        "since": "2026-03-01",
        "where": "street",
        "meter": True,
        "note": "Near the school",
    }
    assert case.attachments.get().content_type == "image/png"
    page = client.get(response["Location"]).content.decode()
    assert case.reference in page
    assert "We aim to resolve it by" in page
    due = timezone.localtime(case.resolution_due, ZoneInfo(operator.timezone))
    with translation.override("en"):
        assert formats.date_format(due, "DATETIME_FORMAT") in page
    assert "In the street" in page and "2.5" in page  # the answers, with their labels
    assert [m.to for m in mailoutbox] == [[resident.email]]


def test_missing_and_bad_answers_give_translated_errors_and_create_nothing(client, resident, leak):
    resident.preferred_language = "uk"
    resident.save()
    page = _lodge(client, leak, address="12 Church Street", q_where="street").content.decode()
    with translation.override("uk"):
        needs_answer = translation.gettext("This question needs an answer.")
        not_a_number = translation.gettext("Give a number.")
        not_a_date = translation.gettext("Give a date as YYYY-MM-DD.")
    assert needs_answer in page  # "since" is required
    page = _lodge(
        client,
        leak,
        address="12 Church Street",
        q_where="street",
        q_since="yesterday",
        q_litres="lots",
    ).content.decode()
    assert not_a_number in page and not_a_date in page
    assert 'id="id_q_litres_error"' in page and 'id="id_q_since_error"' in page
    page = _lodge(client, leak, **{**GOOD_ANSWERS, "q_where": "roof"}).content.decode()
    assert 'id="id_q_where_error"' in page
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


def test_a_place_is_needed_for_a_leak(client, resident, leak):
    page = _lodge(client, leak, **GOOD_ANSWERS).content.decode()
    assert "Say where: an address or a point on the map." in page
    page = _lodge(client, leak, latitude="-25.75", **GOOD_ANSWERS).content.decode()
    assert "Give both the latitude and the longitude, or neither." in page
    page = _lodge(client, leak, latitude="-95", longitude="28.1", **GOOD_ANSWERS).content.decode()
    assert 'id="id_latitude_error"' in page
    assert not Case.objects.exists()
    _lodge(client, leak, latitude="-25.7461234567", longitude="28.1881", **GOOD_ANSWERS)
    case = Case.objects.get()
    assert (str(case.latitude), str(case.longitude)) == ("-25.746123", "28.188100")


def test_my_account_is_preselected_and_linked(client, resident, leak):
    mine, theirs = rf.account(), rf.account()
    registry_services.link_by_staff(user=resident, account=mine, role="owner")
    page = client.get(f"/requests/new/{leak.code}/?account={mine.number}").content.decode()
    assert f'<option value="{mine.number}" selected>' in page
    assert theirs.number not in page
    # Someone else's account is not a choice: nothing is created.
    page = _lodge(client, leak, account=theirs.number, **GOOD_ANSWERS).content.decode()
    assert 'id="id_account_error"' in page and not Case.objects.exists()
    _lodge(client, leak, account=mine.number, **GOOD_ANSWERS)
    case = Case.objects.get()
    assert case.territory == mine.premises.building.territory
    linked = {link.target for link in CaseLink.objects.filter(case=case)}
    assert linked == {mine, mine.premises}


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_created(client, resident, leak):
    fake = SimpleUploadedFile("photo.jpg", b"MZ\x90\x00 not a picture", content_type="image/jpeg")
    page = _lodge(
        client, leak, address="12 Church Street", photos=[photo(), fake], **GOOD_ANSWERS
    ).content.decode()
    assert "This file type is not accepted." in page
    assert 'id="id_photos_error"' in page
    assert not Case.objects.exists() and not Attachment.objects.exists()


def test_a_category_without_location_has_no_place_fields(client, resident):
    category = cf.category("question", kind="enquiry")
    page = client.get(f"/requests/new/{category.code}/").content.decode()
    assert 'name="address"' not in page and "use-location" not in page
    assert "Already reported" not in page  # known problems are for outages, leaks, …
    response = client.post(f"/requests/new/{category.code}/", {"subject": "When is my bill?"})
    assert response.status_code == 302


# --- known problems -------------------------------------------------------------------------


def _known_outage(make_user, territory):
    outage = cf.category("outage", kind="outage", requires_location=True)
    reporter = make_user(full_name="Pieter Secret", email="pieter@example.org")
    original = _case_for(
        reporter,
        outage,
        subject="No power at 7 Hidden Lane",
        description="Call me on 082 555 0101",
        address="7 Hidden Lane",
        territory=territory,
    )
    return outage, reporter, original


def test_known_problems_page_is_public_and_shows_no_personal_data(client, make_user, operator):
    district = rf.territory("east", name="East District")
    area = rf.territory("sunny", name="Sunnyside", kind="area", parent=district)
    outage, _reporter, original = _known_outage(make_user, area)
    joined = _case_for(make_user(), outage, subject="Also dark", territory=area)
    services.case_mark_duplicate(case=joined, parent=original)
    leak_elsewhere = cf.category("leak", kind="leak")
    _case_for(make_user(), leak_elsewhere, territory=rf.territory("west", name="West District"))
    _case_for(make_user(), cf.category("enquiry"), subject="Private enquiry", territory=area)
    response = client.get("/requests/known-problems/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Sunnyside" in page and "East District" in page and "West District" in page
    assert outage.name in page and leak_elsewhere.name in page
    assert "<td>2</td>" in page  # the original and the one that joined it
    for private in (
        "Pieter",
        "pieter@example.org",
        "Hidden Lane",
        "082 555",
        "Also dark",
        "Private enquiry",
        original.reference,
    ):
        assert private not in page
    only_east = client.get("/requests/known-problems/?territory=east").content.decode()
    assert "West District</h2>" in page  # a heading per area
    assert "Sunnyside <span" in only_east and "West District</h2>" not in only_east


def test_same_problem_joins_the_known_one_and_is_resolved_with_it(
    client, resident, make_user, agent, mailoutbox, django_capture_on_commit_callbacks
):
    territory = rf.territory("north", name="North")
    account = rf.account(premises_=rf.premises(building_=rf.building(territory_=territory)))
    registry_services.link_by_staff(user=resident, account=account, role="tenant")
    outage, _reporter, original = _known_outage(make_user, territory)
    far_away = _case_for(make_user(), outage, territory=rf.territory("south", name="South"))
    url = f"/requests/new/{outage.code}/?account={account.number}"
    page = client.get(url).content.decode()
    assert "Already reported in North" in page and "I have the same problem" in page
    assert f'value="{original.pk}"' in page and f'value="{far_away.pk}"' not in page
    assert "Hidden Lane" not in page and "Pieter" not in page

    response = client.post(url, {"same_as": str(original.pk), "account": account.number})
    mine = Case.objects.get(requester=resident)
    assert response["Location"] == f"/requests/{mine.reference}/"
    assert mine.parent == original and mine.subject == outage.name
    assert mine.events.filter(kind="duplicate", public=True).exists()
    page = client.get(response["Location"]).content.decode()
    assert "will be resolved with it" in page
    assert "You reported this" in client.get(url).content.decode()

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.case_transition(case=original, target="resolved", actor=agent)
    mine.refresh_from_db()
    assert mine.status == "resolved"
    assert any(resident.email in m.to and mine.reference in m.subject for m in mailoutbox)


def test_joining_a_problem_still_asks_the_required_questions(client, resident, make_user):
    territory = rf.territory()
    outage, _reporter, original = _known_outage(make_user, territory)
    outage.questions = [
        {"key": "phase", "type": "choice", "label": {"en": "Which phase?"}, "required": True,
         "choices": ["one", "all"]}
    ]  # fmt: skip
    outage.save()
    page = client.post(
        f"/requests/new/{outage.code}/", {"same_as": str(original.pk)}
    ).content.decode()
    assert "You are joining the report" in page and "This question needs an answer." in page
    assert not Case.objects.filter(requester=resident).exists()
    client.post(f"/requests/new/{outage.code}/", {"same_as": str(original.pk), "q_phase": "all"})
    mine = Case.objects.get(requester=resident)
    assert mine.parent == original and mine.territory == territory


def test_a_closed_problem_cannot_be_joined(client, resident, make_user, agent):
    outage, _reporter, original = _known_outage(make_user, rf.territory())
    services.case_transition(case=original, target="resolved", actor=agent)
    page = client.post(
        f"/requests/new/{outage.code}/", {"same_as": str(original.pk), "address": "1 Main Rd"}
    ).content.decode()
    assert "That problem is no longer open." in page
    assert not Case.objects.filter(requester=resident).exists()


# --- one's own cases ------------------------------------------------------------------------


def test_my_cases_list_only_mine(client, resident, make_user):
    mine = _case_for(resident, subject="My light")
    theirs = _case_for(make_user(), subject="Their light")
    page = client.get("/requests/").content.decode()
    assert mine.reference in page and "My light" in page
    assert theirs.reference not in page and "Their light" not in page


def test_the_timeline_shows_public_events_only(client, resident, agent):
    case = _case_for(resident)
    services.case_note(case=case, actor=agent, text="Crew on the way", public=True)
    services.case_note(case=case, actor=agent, text="Internal: resident is rude", public=False)
    page = client.get(f"/requests/{case.reference}/").content.decode()
    assert "Crew on the way" in page
    assert "Internal" not in page and agent.email not in page and agent.full_name not in page


def test_another_residents_case_is_404_everywhere(client, resident, make_user, agent):
    other = make_user()
    case = _case_for(other)
    attachment = services.attachment_add(case=case, upload=photo(), actor=other)
    services.case_transition(case=case, target="resolved", actor=agent)
    events = CaseEvent.objects.count()
    base = f"/requests/{case.reference}/"
    assert client.get(base).status_code == 404
    assert client.get(f"{base}attachments/{attachment.pk}/").status_code == 404
    assert client.post(f"{base}reply/", {"text": "Hi"}).status_code == 404
    assert client.post(f"{base}reopen/", {"note": "No"}).status_code == 404
    assert client.post(f"{base}rate/", {"rating": "1"}).status_code == 404
    assert client.get("/requests/C-2099-999999/").status_code == 404
    case.refresh_from_db()
    assert case.status == "resolved" and case.rating is None
    assert CaseEvent.objects.count() == events


def test_reply_with_a_file_resumes_a_waiting_case(client, resident, agent):
    case = _case_for(resident)
    services.case_transition(case=case, target="waiting_customer", actor=agent, note="Photo?")
    response = client.post(
        f"/requests/{case.reference}/reply/", {"text": "Here it is", "photos": [photo("a.png")]}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == "in_progress"
    message = case.events.get(kind="message")
    assert message.public and message.text == "Here it is" and message.actor == resident
    attachment = case.attachments.get()
    page = client.get(f"/requests/{case.reference}/").content.decode()
    url = f"/requests/{case.reference}/attachments/{attachment.pk}/"
    assert "Here it is" in page and url in page and "a.png" in page
    download = client.get(url)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Type"] == "image/png"
    assert b"".join(download.streaming_content) == png_bytes()


def test_an_empty_or_bad_reply_is_refused(client, resident):
    case = _case_for(resident)
    page = client.post(f"/requests/{case.reference}/reply/", {"text": " "}).content.decode()
    assert "Write your message." in page
    fake = SimpleUploadedFile("x.png", b"<svg onload=alert(1)>", content_type="image/png")
    page = client.post(
        f"/requests/{case.reference}/reply/", {"text": "See", "photos": [fake]}
    ).content.decode()
    assert "This file type is not accepted." in page
    assert not case.events.filter(kind="message").exists() and not case.attachments.exists()


def test_staff_only_files_are_not_downloadable(client, resident, agent):
    case = _case_for(resident)
    hidden = services.attachment_add(case=case, upload=photo(), actor=agent, public=False)
    assert client.get(f"/requests/{case.reference}/attachments/{hidden.pk}/").status_code == 404
    assert str(hidden.pk) not in client.get(f"/requests/{case.reference}/").content.decode()


def test_reopen_within_the_window_and_refused_after(client, resident, agent):
    category = cf.category()
    category.reopen_days = 7
    category.save()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        first = _case_for(resident, category)
        second = _case_for(resident, category)
        for case in (first, second):
            services.case_transition(case=case, target="resolved", actor=agent)
        traveller.shift(dt.timedelta(days=6))
        client.force_login(resident)  # the session itself would have timed out
        page = client.get(f"/requests/{first.reference}/").content.decode()
        assert "Reopen the request" in page
        response = client.post(f"/requests/{first.reference}/reopen/", {"note": "Still dark"})
        assert response.status_code == 302
        first.refresh_from_db()
        assert first.status == "reopened"
        assert first.events.filter(kind="status", text="Still dark", public=True).exists()

        traveller.shift(dt.timedelta(days=2))
        client.force_login(resident)
        page = client.get(f"/requests/{second.reference}/").content.decode()
        assert "Reopen the request" not in page and "too long ago to reopen" in page
        page = client.post(f"/requests/{second.reference}/reopen/", {}).content.decode()
        assert "This case was resolved too long ago to reopen" in page
        second.refresh_from_db()
        assert second.status == "resolved"


def test_rating_from_1_to_5_once_resolved(client, resident, agent):
    case = _case_for(resident)
    url = f"/requests/{case.reference}/rate/"
    assert "How did we do?" not in client.get(f"/requests/{case.reference}/").content.decode()
    page = client.post(url, {"rating": "5"}).content.decode()
    assert "You can rate a case once it is resolved." in page
    services.case_transition(case=case, target="resolved", actor=agent)
    assert "How did we do?" in client.get(f"/requests/{case.reference}/").content.decode()
    for bad in ("0", "6", "x", ""):
        page = client.post(url, {"rating": bad}).content.decode()
        assert "Give a rating from 1 to 5." in page
    case.refresh_from_db()
    assert case.rating is None
    assert client.post(url, {"rating": "4", "comment": " Quick, thanks "}).status_code == 302
    case.refresh_from_db()
    assert (case.rating, case.rating_comment) == (4, "Quick, thanks")
    assert "4 out of 5" in client.get(f"/requests/{case.reference}/").content.decode()


def test_home_and_account_pages_lead_here(client, resident):
    account = rf.account()
    registry_services.link_by_staff(user=resident, account=account, role="owner")
    assert 'href="/requests/"' in client.get("/").content.decode()
    page = client.get(f"/accounts/{account.number}/").content.decode()
    assert f'href="/requests/new/?account={account.number}"' in page
    category = cf.category("streetlight")
    page = client.get(f"/requests/new/?account={account.number}").content.decode()
    assert f'href="/requests/new/{category.code}/?account={account.number}"' in page
    page = client.get(f"/requests/new/?account={rf.account().number}").content.decode()
    assert f'href="/requests/new/{category.code}/"' in page  # not theirs: not carried on
