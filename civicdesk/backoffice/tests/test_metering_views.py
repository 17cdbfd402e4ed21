"""Back-office metering pages: search by serial or account, the meter page (registers,
readings with status and reasons, replacements, alerts), staff entry of a caller's reading
(refusals kept on record), the flagged-readings queue with accept/reject, permissions, and the
metering slot of the customer 360 page (a fixed number of queries)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from civicdesk.core import slots
from civicdesk.metering import services
from civicdesk.metering.models import ConsumptionAlert, Meter, Reading
from civicdesk.metering.tests import factories
from civicdesk.metering.tests.api_helpers import NOW, household, png_bytes, submit
from civicdesk.registry.tests import factories as registry_factories

pytestmark = pytest.mark.django_db

BASE = "/staff/metering/"


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def home(make_user, operator):
    return household(make_user, email="naledi@example.org")


@pytest.fixture
def flagged(home):
    """170 m³ against a usual 10 a month: flagged for review."""
    [outcome] = submit(home.water, {"T": "300"}, NOW, source="api")
    assert outcome.reading.status == "flagged"
    return outcome.reading


def _text(response) -> str:
    return response.content.decode()


def _meter_url(meter) -> str:
    return f"{BASE}meters/{meter.public_id}/"


# --- permissions ----------------------------------------------------------------------------


def test_residents_and_anonymous_visitors_are_kept_out(client, home, flagged):
    assert client.get(BASE).status_code == 302  # to the login page
    client.force_login(home.user)
    for url in (BASE, f"{BASE}flagged/", _meter_url(home.water)):
        assert client.get(url).status_code == 403, url
    review = client.post(f"{BASE}readings/{flagged.public_id}/review/", {"decision": "accept"})
    assert review.status_code == 403


def test_staff_without_the_review_permission_do_not_get_the_queue(client, staff_login, flagged):
    staff_login("call_centre_agent")  # reads meters and enters readings; does not review
    assert client.get(f"{BASE}flagged/").status_code == 403
    response = client.post(f"{BASE}readings/{flagged.public_id}/review/", {"decision": "accept"})
    assert response.status_code == 403
    flagged.refresh_from_db()
    assert flagged.status == "flagged"
    page = _text(client.get(_meter_url(flagged.meter)))
    assert 'value="accept"' not in page  # no review buttons on the meter page either


def test_staff_who_may_only_read_get_no_entry_form(client, staff_login, home):
    staff_login("quality_controller")
    page = client.get(_meter_url(home.water))
    assert page.status_code == 200
    assert "Enter a reading for the caller" not in _text(page)
    refused = client.post(_meter_url(home.water), {"T": "140"})
    assert refused.status_code == 403
    assert Reading.objects.filter(meter=home.water).count() == 4


# --- search ---------------------------------------------------------------------------------


def test_search_by_serial_or_account(client, staff_login, home, make_user):
    other = household(make_user, email="thabo@example.org")
    staff_login()
    empty = client.get(BASE)
    assert empty.status_code == 200 and 'role="search"' in _text(empty)
    by_account = _text(client.get(BASE, {"q": home.account.number}))
    assert home.water.serial in by_account and home.power.serial in by_account
    assert other.water.serial not in by_account
    assert f'href="{_meter_url(home.power)}"' in by_account
    # one match goes straight to the meter
    one = client.get(BASE, {"q": other.power.serial.lower()})
    assert one.status_code == 302 and one["Location"] == _meter_url(other.power)
    assert "No meter matches" in _text(client.get(BASE, {"q": "XX-NOTHING"}))


# --- the meter page -------------------------------------------------------------------------


def test_the_meter_page_shows_registers_readings_and_reasons(client, staff_login, home):
    submit(home.power, {"T1": "1250", "T2": "700"}, NOW)  # T1 lower than 1300: rejected
    staff_login()
    page = client.get(_meter_url(home.power))
    assert page.status_code == 200
    html = _text(page)
    assert home.account.number in html
    assert home.account.premises.address in html
    assert "Day/night" in html and "T1 · Day / peak" in html and "T2 · Night" in html
    readings = html[html.index('data-testid="readings"') :]
    assert "The reading is lower than the previous one." in readings
    assert "Rejected" in readings and "Accepted" in readings
    assert readings.index("1250.000") < readings.index("1300.000")  # newest first
    assert "has not replaced another" in html
    assert "No alerts." in html


def test_an_unknown_meter_is_not_found(client, staff_login):
    staff_login()
    assert client.get(f"{BASE}meters/00000000-0000-4000-8000-000000000000/").status_code == 404


def test_the_replacement_chain_and_alerts(client, staff_login, home, make_user):
    officer = staff_login("revenue_officer")
    new = services.meter_replace(
        old=home.water,
        removed_on=dt.date(2026, 5, 11),
        final_values={"T": "135"},
        new_serial="NEW-0001",
        initial_values={"T": "0"},
        actor=officer,
    )
    ConsumptionAlert.objects.create(
        meter=new,
        kind="high_use",
        period=dt.date(2026, 5, 1),
        consumption=Decimal("90"),
        baseline=Decimal("10"),
    )
    html = _text(client.get(_meter_url(new)))
    chain = html[html.index('data-testid="replacement-chain"') :]
    assert chain.index(home.water.serial) < chain.index("NEW-0001")
    assert f'href="{_meter_url(home.water)}"' in chain
    alerts = html[html.index('data-testid="alerts"') :]
    assert "Use far above the household" in alerts and "Open" in alerts
    old_page = _text(client.get(_meter_url(home.water)))
    assert "Removed" in old_page and f'href="{_meter_url(new)}"' in old_page


# --- staff entry ----------------------------------------------------------------------------


def test_staff_enter_a_callers_reading(client, staff_login, home):
    agent = staff_login("call_centre_agent")
    response = client.post(_meter_url(home.water), {"T": "141.5", "taken_at": ""}, follow=True)
    assert response.status_code == 200
    assert "Accepted." in _text(response)
    reading = Reading.objects.filter(meter=home.water).order_by("-created_at").first()
    assert reading.value == Decimal("141.5") and reading.status == "accepted"
    assert reading.source == "staff" and reading.submitted_by == agent


def test_a_refused_staff_entry_is_kept_on_record_with_its_reason(client, staff_login, home):
    staff_login("call_centre_agent")
    response = client.post(_meter_url(home.water), {"T": "99"}, follow=True)
    html = _text(response)
    assert "Not accepted. The reading is lower than the previous one (130)." in html
    reading = Reading.objects.filter(meter=home.water).order_by("-created_at").first()
    assert reading.status == "rejected" and reading.reasons == "lower_than_previous"
    assert reading.source == "staff"


def test_staff_entry_for_a_multi_register_meter_with_a_photo(client, staff_login, home):
    staff_login("call_centre_agent")
    photo = SimpleUploadedFile("dial.png", png_bytes(), content_type="image/png")
    response = client.post(
        _meter_url(home.power),
        {"T1": "1400", "T2": "720", "taken_at": "2026-05-12T09:30", "photo": photo},
    )
    assert response.status_code == 302
    rows = Reading.objects.filter(meter=home.power, source="staff").order_by("register")
    assert [(r.register, r.value, r.status) for r in rows] == [
        ("T1", Decimal("1400.000"), "accepted"),
        ("T2", Decimal("720.000"), "accepted"),
    ]
    assert rows[0].photo and rows[0].taken_at == dt.datetime(2026, 5, 12, 7, 30, tzinfo=dt.UTC)


def test_staff_entry_errors_name_the_field(client, staff_login, home):
    staff_login("call_centre_agent")
    missing = client.post(_meter_url(home.power), {"T1": "1400"})
    assert missing.status_code == 400
    assert re.search(r'id="id_T2_error">This field is required', _text(missing))
    fake = SimpleUploadedFile("dial.jpg", b"not an image", content_type="image/jpeg")
    bad_photo = client.post(_meter_url(home.water), {"T": "140", "photo": fake})
    assert bad_photo.status_code == 400
    assert 'id="id_photo_error"' in _text(bad_photo)
    assert Reading.objects.filter(source="staff").count() == 0


# --- the review queue -----------------------------------------------------------------------


def test_the_queue_lists_flagged_readings_oldest_first(client, staff_login, home, make_user):
    other = household(make_user, email="thabo@example.org")
    first = submit(home.water, {"T": "300"}, NOW, source="api")[0].reading
    later = NOW + dt.timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        second = submit(other.water, {"T": "500"}, later, source="sms")[0].reading
    staff_login("case_specialist")
    html = _text(client.get(f"{BASE}flagged/"))
    queue = html[html.index('data-testid="flagged-queue"') :]
    assert queue.index(str(first.public_id)) < queue.index(str(second.public_id))
    row = queue[queue.index(str(first.public_id)) : queue.index(str(second.public_id))]
    assert "300.000" in row  # the reading
    assert "130.000" in row  # the previous one
    assert "170.000" in row  # its use
    assert "10.000" in row  # the usual month
    assert "17.0 × usual" in row
    assert home.account.number in row
    assert "far above your usual" in row


def test_a_reviewer_accepts_with_a_note(client, staff_login, flagged):
    reviewer = staff_login("case_specialist")
    response = client.post(
        f"{BASE}readings/{flagged.public_id}/review/",
        {"decision": "accept", "note": "Pool filled"},
    )
    assert response.status_code == 302 and response["Location"] == f"{BASE}flagged/"
    flagged.refresh_from_db()
    assert flagged.status == "accepted" and flagged.reviewed_by == reviewer
    assert flagged.consumption == Decimal("170.000")
    from civicdesk.core.models import AuditEvent

    event = AuditEvent.objects.get(actor=reviewer, action=services.AUDIT_READING_REVIEWED)
    assert "Pool filled" in str(event.data)
    assert "No reading waits for review." in _text(client.get(f"{BASE}flagged/"))


def test_a_reviewer_rejects_from_the_meter_page(client, staff_login, flagged):
    staff_login("revenue_officer")
    back = _meter_url(flagged.meter)
    response = client.post(
        f"{BASE}readings/{flagged.public_id}/review/",
        {"decision": "reject", "note": "typo", "next": back},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == back
    assert "rejected" in _text(response)
    flagged.refresh_from_db()
    assert flagged.status == "rejected"


def test_review_refuses_a_foreign_next_an_unknown_decision_and_a_second_decision(
    client, staff_login, flagged
):
    staff_login("case_specialist")
    url = f"{BASE}readings/{flagged.public_id}/review/"
    assert client.post(url, {"decision": "maybe"}).status_code == 400
    response = client.post(url, {"decision": "reject", "next": "https://evil.example/"})
    assert response["Location"] == f"{BASE}flagged/"
    again = client.post(url, {"decision": "accept"}, follow=True)
    assert "Only a reading flagged for review can be decided." in _text(again)
    flagged.refresh_from_db()
    assert flagged.status == "rejected"
    assert client.get(f"{BASE}readings/{flagged.public_id}/review/").status_code == 405


# --- the customer 360 slot ------------------------------------------------------------------


def test_the_customer_360_page_shows_the_meters(client, staff_login, home, flagged):
    home.water.verification_due_on = dt.date(2026, 5, 1)
    home.water.save()
    ConsumptionAlert.objects.create(
        meter=home.power,
        kind="high_use",
        period=dt.date(2026, 4, 1),
        consumption=Decimal("900"),
        baseline=Decimal("150"),
    )
    staff_login()
    html = _text(client.get(f"/staff/customers/account/{home.account.number}/"))
    slot = html[html.index('id="slot-metering-meters"') :]
    assert "Meters and readings" in slot
    assert f'href="{_meter_url(home.water)}"' in slot
    assert "130.000 m3" in slot  # the last accepted reading
    assert "T1: 1300.000 kWh" in slot and "T2: 650.000 kWh" in slot
    assert "overdue" in slot
    alerts = slot[slot.index('data-testid="metering-alerts"') :]
    assert home.power.serial in alerts and "900.000" in alerts
    waiting = slot[slot.index('data-testid="metering-flagged"') :]
    assert home.water.serial in waiting and "300.000" in waiting


def test_the_slot_needs_the_meter_permission(rf, home, make_user):
    from civicdesk.core.slots import Subject

    request = rf.get("/")
    request.user = make_user(role="managing_agent")
    subject = Subject(accounts=[home.account])
    assert not any(filled.key == "metering.meters" for filled in slots.compose(request, subject))


def test_the_slot_takes_a_fixed_number_of_queries(
    rf, make_user, operator, django_assert_max_num_queries
):
    from civicdesk.core.slots import Subject

    def subject_with(n_accounts: int) -> Subject:
        accounts = []
        for _ in range(n_accounts):
            account = registry_factories.account()
            for resource, rates in (("cold_water", "single"), ("electricity", "three_rate")):
                meter = factories.meter(account_=account, resource=resource, rates=rates)
                values = dict.fromkeys(meter.registers, "100")
                submit(meter, values, NOW - dt.timedelta(days=30))
                submit(meter, dict.fromkeys(meter.registers, "400"), NOW - dt.timedelta(days=1))
            accounts.append(account)
        return Subject(accounts=accounts)

    request = rf.get("/")
    request.user = make_user(role="call_centre_agent")
    slot = next(s for s in slots.registered() if s.key == "metering.meters")
    small, large = subject_with(1), subject_with(4)
    with django_assert_max_num_queries(4):
        data = slot.context(request, small)
    assert len(data["meters"]) == 2
    with django_assert_max_num_queries(4):
        data = slot.context(request, large)
    assert len(data["meters"]) == 8
    assert Meter.objects.count() == 10
    without_meters = Subject(accounts=[registry_factories.account()])
    with django_assert_max_num_queries(1):
        assert slot.context(request, without_meters)["meters"] == []


def test_a_building_meter_has_no_account(client, staff_login, home):
    common = factories.meter(account_=home.account, resource="heat", building_meter=True)
    staff_login()
    found = _text(client.get(BASE, {"q": "SN"}))  # every test meter
    assert "Building meter" in found
    page = client.get(_meter_url(common))
    assert page.status_code == 200
    assert "Building meter (common property)" in _text(page)
    assert home.account.premises.building.address in _text(page)


def test_the_pages_render_in_the_staff_members_language(client, staff_login, home, flagged):
    staff_login("revenue_officer", preferred_language="ru")
    for url in (BASE, f"{BASE}flagged/", _meter_url(home.power), _meter_url(home.water)):
        page = client.get(url, {"q": home.account.number} if url == BASE else {})
        assert page.status_code == 200, url
        assert '<html lang="ru">' in _text(page)
    assert "Холодная вода" in _text(client.get(_meter_url(home.water)))
