"""The call-centre console through the real URLs: look the caller up by phone or account number
(htmx partials and plain pages), a whole call (start, identify, raise a case, end with the
handling time), notes on open cases, and the call services' rules."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError

from civicdesk.cases import calls
from civicdesk.cases.models import Call, Case
from civicdesk.cases.tests import factories as cf
from civicdesk.registry.models import AccountHolder, AccountLink
from civicdesk.registry.tests import factories as rf

pytestmark = pytest.mark.django_db
pytest_plugins = ["civicdesk.cases.tests.staff_support"]  # staff_login, make_case, media
CONSOLE = "/staff/cases/console/"
START = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)


def _text(response) -> str:
    return response.content.decode()


@pytest.fixture
def account(operator):
    building = rf.building(address="14 Jacaranda Avenue, Hatfield")
    account = rf.account(
        premises_=rf.premises(building_=building, number="3"), holder_phone="+27821110000"
    )
    AccountHolder.objects.filter(account=account).update(full_name="Naledi Mahlangu")
    return account


@pytest.fixture
def category(operator):
    return cf.category(
        "water-leak",
        names={"en": "Water leak"},
        questions=[
            {"key": "since", "type": "date", "label": {"en": "Since when?"}, "required": True}
        ],
    )


# --- lookup -----------------------------------------------------------------------------------


def test_lookup_by_phone_in_the_local_format(client, staff_login, account):
    staff_login()
    partial = client.get(
        f"{CONSOLE}lookup/", {"q": "082 111 0000"}, HTTP_HX_REQUEST="true"
    )  # +27 82 111 0000 read in the operator's country (ZA)
    assert partial.status_code == 200
    body = _text(partial)
    assert "<html" not in body and "Naledi Mahlangu" in body
    assert f'name="account" value="{account.number}"' in body
    assert "Found by: Phone" in body
    assert "HX-Request" in partial["Vary"]
    page = client.get(CONSOLE, {"q": "+27 82 111 0000"})
    assert page.status_code == 200 and "Naledi Mahlangu" in _text(page)
    # without htmx the lookup URL sends the browser to the console with the query
    plain = client.get(f"{CONSOLE}lookup/", {"q": "0821110000"})
    assert plain.status_code == 302 and plain["Location"] == f"{CONSOLE}?q=0821110000"


def test_lookup_by_account_number(client, staff_login, account):
    staff_login()
    body = _text(client.get(f"{CONSOLE}lookup/", {"q": account.number}, HTTP_HX_REQUEST="true"))
    assert f'name="account" value="{account.number}"' in body
    assert "Found by: Account number" in body
    nothing = _text(client.get(f"{CONSOLE}lookup/", {"q": "99999999"}, HTTP_HX_REQUEST="true"))
    assert "Nothing matches" in nothing


def test_lookup_finds_a_portal_user_by_phone(client, staff_login, make_user, account):
    resident = make_user(full_name="Thandi Nkosi", phone="+27825550000")
    AccountLink.objects.create(user=resident, account=account, role="tenant", method="code")
    staff_login()
    body = _text(client.get(f"{CONSOLE}lookup/", {"q": "0825550000"}, HTTP_HX_REQUEST="true"))
    assert f'name="person" value="{resident.public_id}"' in body
    caller = client.post(
        f"{CONSOLE}identify/", {"person": str(resident.public_id)}, HTTP_HX_REQUEST="true"
    )
    html = _text(caller)
    assert "Thandi Nkosi" in html and account.number in html
    assert caller["HX-Push-Url"] == f"{CONSOLE}?person={resident.public_id}"


def test_unknown_callers_are_404(client, staff_login, operator):
    staff_login()
    assert client.get(CONSOLE, {"account": "nope"}).status_code == 404
    assert client.get(CONSOLE, {"person": "not-a-uuid"}).status_code == 404
    assert client.post(f"{CONSOLE}identify/", {}).status_code == 404


# --- a whole call -------------------------------------------------------------------------------


def test_a_whole_call_start_identify_raise_a_case_end(client, staff_login, account, category):
    agent = staff_login()
    page = _text(client.get(CONSOLE))
    assert "Start a call" in page and 'name="caller_phone"' in page and "autofocus" in page
    with time_machine.travel(START, tick=False) as clock:
        response = client.post(f"{CONSOLE}start/", {"caller_phone": "082 111 0000"})
        assert response.status_code == 302
        assert response["Location"] == f"{CONSOLE}?q=%2B27821110000"
        call = Call.objects.get(agent=agent)
        assert call.started_at == START and call.caller_phone == "+27821110000"
        # the console shows the call, its timer and the lookup's results straight away
        page = _text(client.get(response["Location"]))
        assert 'id="call-timer"' in page and 'role="timer"' in page
        assert "Naledi Mahlangu" in page
        clock.shift(dt.timedelta(seconds=40))
        caller = client.post(
            f"{CONSOLE}identify/", {"account": account.number}, HTTP_HX_REQUEST="true"
        )
        assert caller.status_code == 200
        assert caller["HX-Push-Url"] == f"{CONSOLE}?account={account.number}"
        html = _text(caller)
        assert "Raise a case for the caller" in html
        assert f'<option value="{account.number}" selected>' in html  # preselected
        call.refresh_from_db()
        assert call.account_number == account.number
        # the category's questions come in for the new-case form
        questions = _text(
            client.get(
                f"{CONSOLE}questions/", {"case-category": "water-leak"}, HTTP_HX_REQUEST="true"
            )
        )
        assert "Since when?" in questions and 'name="case-answer_since"' in questions
        clock.shift(dt.timedelta(seconds=80))
        form = {
            "case-caller_account": account.number,
            "case-category": "water-leak",
            "case-subject": "Burst pipe in the street",
            "case-account": account.number,
            "case-contact_name": "Naledi Mahlangu",
            "case-contact_phone": "082 111 0000",
        }
        refused = client.post(f"{CONSOLE}case/", form)
        assert refused.status_code == 400
        assert "This question needs an answer." in _text(refused)
        assert not Case.objects.exists()
        created = client.post(f"{CONSOLE}case/", {**form, "case-answer_since": "2026-03-02"})
        assert created.status_code == 302
        assert created["Location"] == f"{CONSOLE}?account={account.number}#caller"
        case = Case.objects.get()
        assert case.channel == "phone" and case.requester is None
        assert case.contact_name == "Naledi Mahlangu" and case.contact_phone == "+27821110000"
        assert case.answers == {"since": "2026-03-02"}
        assert case.links.get().label == account.number
        assert case.events.get(kind="created").actor == agent
        call.refresh_from_db()
        assert call.case == case
        page = _text(client.get(created["Location"]))
        assert f"Case {case.reference} raised for the caller." in page
        assert '<option value="case_created" selected>' in page  # the outcome suggested
        clock.shift(dt.timedelta(seconds=75))
        ended = client.post(
            f"{CONSOLE}end/",
            {
                "end-reason": "Water leak",
                "end-outcome": "case_created",
                "end-first_contact_resolution": "",
            },
        )
    assert ended.status_code == 302 and ended["Location"] == CONSOLE
    call.refresh_from_db()
    assert call.ended_at == START + dt.timedelta(seconds=195)
    assert call.handling_seconds == 195
    assert call.outcome == "case_created" and call.reason == "Water leak"
    assert not call.first_contact_resolution
    page = _text(client.get(CONSOLE))
    assert "Call ended after 3:15." in page and "Start a call" in page
    assert "Water leak" in page and "195 s" in page  # in the recent calls


def test_a_case_for_an_identified_portal_user_has_them_as_requester(
    client, staff_login, make_user, account, operator
):
    resident = make_user(full_name="Thandi Nkosi", phone="+27825550000")
    AccountLink.objects.create(user=resident, account=account, role="tenant", method="code")
    category = cf.category("enquiry")
    staff_login()
    client.post(f"{CONSOLE}start/", {"caller_phone": ""})
    html = _text(client.get(CONSOLE, {"person": str(resident.public_id)}))
    assert 'name="case-contact_name"' not in html  # we know who they are
    response = client.post(
        f"{CONSOLE}case/",
        {
            "case-caller_person": str(resident.public_id),
            "case-category": category.code,
            "case-subject": "When is my next reading?",
            "case-account": account.number,
        },
    )
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.requester == resident and case.channel == "phone"
    assert Call.objects.get().caller == resident


def test_an_unidentified_caller_needs_a_number_to_answer(client, staff_login, operator):
    category = cf.category("enquiry")
    staff_login()
    client.post(f"{CONSOLE}start/", {})
    form = {"case-category": category.code, "case-subject": "Where do I pay?"}
    refused = client.post(f"{CONSOLE}case/", form)
    assert refused.status_code == 400
    assert "Give an e-mail address or a phone number to answer." in _text(refused)
    bad_phone = client.post(f"{CONSOLE}case/", {**form, "case-contact_phone": "call me"})
    assert "This is not a phone number." in _text(bad_phone)
    created = client.post(f"{CONSOLE}case/", {**form, "case-contact_phone": "0821234567"})
    assert created.status_code == 302
    assert Case.objects.get().contact_phone == "+27821234567"


def test_a_note_on_an_open_case_during_the_call(client, staff_login, account, operator, make_case):
    category = cf.category("enquiry")
    case = make_case(category, concerns=[account])
    agent = staff_login()
    client.post(f"{CONSOLE}start/", {})
    html = _text(client.get(CONSOLE, {"account": account.number}))
    assert case.reference in html and "Add a note to an open case" in html
    response = client.post(
        f"{CONSOLE}note/",
        {
            "note-caller_account": account.number,
            "note-case": case.reference,
            "note-text": "Caller asked for an update.",
            "note-visibility": "internal",
        },
    )
    assert response.status_code == 302
    note = case.events.get(kind="note")
    assert note.actor == agent and note.text == "Caller asked for an update." and not note.public
    call = Call.objects.get()
    assert call.case == case
    page = _text(client.get(CONSOLE, {"account": account.number}))
    assert '<option value="case_updated" selected>' in page
    # a case that is not the caller's cannot be chosen
    stranger = make_case(category)
    refused = client.post(
        f"{CONSOLE}note/",
        {
            "note-caller_account": account.number,
            "note-case": stranger.reference,
            "note-text": "x",
            "note-visibility": "internal",
        },
    )
    assert refused.status_code == 400 and not stranger.events.filter(kind="note").exists()


def test_no_case_or_note_without_a_call_and_no_second_call(client, staff_login, account):
    category = cf.category("enquiry")
    staff_login()
    response = client.post(
        f"{CONSOLE}case/",
        {
            "case-caller_account": account.number,
            "case-category": category.code,
            "case-subject": "x",
        },
        follow=True,
    )
    assert "There is no call in progress" in _text(response)
    assert not Case.objects.exists()
    client.post(f"{CONSOLE}start/", {})
    again = client.post(f"{CONSOLE}start/", {}, follow=True)
    assert "You are on a call already" in _text(again) and 'id="call-timer"' in _text(again)
    bad = client.post(f"{CONSOLE}end/", {"end-outcome": "resolved"})
    assert bad.status_code == 400
    client.post(f"{CONSOLE}end/", {"end-reason": "x", "end-outcome": "dropped"})
    refused = client.post(f"{CONSOLE}start/", {"caller_phone": "not a phone"})
    assert refused.status_code == 400 and "This is not a phone number." in _text(refused)
    assert Call.objects.count() == 1


def test_ending_needs_a_reason_and_a_consistent_outcome(client, staff_login, operator):
    staff_login()
    client.post(f"{CONSOLE}start/", {})
    refused = client.post(
        f"{CONSOLE}end/",
        {"end-reason": "", "end-outcome": "callback", "end-first_contact_resolution": "on"},
    )
    assert refused.status_code == 400
    html = _text(refused)
    assert "This field is required." in html
    refused = client.post(
        f"{CONSOLE}end/",
        {"end-reason": "Tariffs", "end-outcome": "callback", "end-first_contact_resolution": "on"},
    )
    assert "A call that needs a follow-up was not resolved at first contact." in _text(refused)
    assert Call.objects.get().ended_at is None
    ok = client.post(
        f"{CONSOLE}end/",
        {"end-reason": "Tariffs", "end-outcome": "resolved", "end-first_contact_resolution": "on"},
    )
    assert ok.status_code == 302
    call = Call.objects.get()
    assert call.first_contact_resolution and call.handling_seconds is not None


def test_the_console_is_for_those_who_take_calls(client, staff_login, operator):
    staff_login("quality_controller")
    assert client.get(CONSOLE).status_code == 403
    assert client.post(f"{CONSOLE}start/", {}).status_code == 403
    assert not Call.objects.exists()


# --- services -------------------------------------------------------------------------------


def test_call_services_record_handling_time(make_user, operator):
    agent = make_user(role="call_centre_agent")
    call = calls.call_start(agent=agent, caller_phone="+27 82 111 0000", now=START)
    with pytest.raises(ValidationError):
        calls.call_start(agent=agent, now=START)
    ended = calls.call_end(
        call=call,
        reason="  Meter   reading ",
        outcome="resolved",
        first_contact_resolution=True,
        now=START + dt.timedelta(minutes=3, seconds=30),
    )
    assert ended.handling_seconds == 210 and ended.reason == "Meter reading"
    with pytest.raises(ValidationError) as exc:
        calls.call_end(call=call, reason="again", outcome="resolved")
    assert "call" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        calls.call_start(agent=agent, caller_phone="hello")
    assert "caller_phone" in exc.value.message_dict
    second = calls.call_start(agent=agent, now=START + dt.timedelta(minutes=5))
    with pytest.raises(ValidationError) as exc:
        calls.call_end(call=second, reason="x" * 201, outcome="nonsense")
    assert set(exc.value.message_dict) == {"reason", "outcome"}
