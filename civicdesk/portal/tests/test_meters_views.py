"""The resident's meter pages: the meters with their previous readings, the instant check
while typing, sending a reading (accepted, flagged for review, rejected with nothing written),
photos, multi-register meters, history and consumption charts; another resident's account or
meter is 404; the pages speak the resident's language."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import formats, timezone, translation

from civicdesk.metering import selectors, services
from civicdesk.metering.models import Meter, Reading
from civicdesk.metering.tests import factories
from civicdesk.portal.meters_forms import field_name, prefix_for
from civicdesk.registry import services as registry_services
from civicdesk.registry.tests import factories as registry_factories

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def resident(client, make_user, operator):
    user = make_user()
    client.force_login(user)
    return user


@pytest.fixture
def account(resident):
    account = registry_factories.account()
    registry_services.link_by_staff(user=resident, account=account, role="owner")
    return account


def history(meter: Meter, values: list[str], *, register: str = "T") -> None:
    """Readings a month apart ending a month ago, through the services (as staff enter them)."""
    now = timezone.now()
    for i, value in enumerate(values):
        taken_at = now - timedelta(days=30 * (len(values) - i))
        services.readings_submit(
            meter=meter, values={register: value}, taken_at=taken_at, source="staff"
        )


@pytest.fixture
def water(account):
    meter = factories.meter(account_=account, serial="CW-0001")
    history(meter, ["100", "110", "120", "130"])  # 10 m³ a month
    return meter


def url(account, meter=None, action=""):
    base = f"/accounts/{account.number}/meters/"
    if meter is None:
        return base
    return f"{base}{meter.public_id}/{action + '/' if action else ''}"


def data(meter, **values) -> dict:
    prefix = prefix_for(meter)
    return {f"{prefix}-{field_name(register)}": value for register, value in values.items()}


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 200, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- the list -----------------------------------------------------------------------------


def test_the_meters_page_lists_each_meter_with_its_previous_reading_and_a_form(client, water):
    account = water.account
    page = text_of(client.get(url(account)))
    assert "CW-0001" in page and "Cold water" in page
    state = water.register_states.get(register="T")
    shown_date = formats.date_format(state.last_real_taken_at, "DATE_FORMAT")
    assert "130 m³" in page and shown_date in page
    assert f"Previous reading: 130 m³, taken on {shown_date}" in page  # under the field too
    assert f'name="{prefix_for(water)}-value_T"' in page and 'inputmode="decimal"' in page
    assert f'hx-post="{url(account, water, "check")}"' in page
    assert f'action="{url(account, water, "submit")}"' in page
    assert 'enctype="multipart/form-data"' in page
    assert f'href="/accounts/{account.number}/consumption/"' in page
    assert f'href="{url(account, water)}"' in page


def test_the_account_page_links_to_the_meters(client, account):
    page = client.get(f"/accounts/{account.number}/").content.decode()
    assert f'href="/accounts/{account.number}/meters/"' in page


def test_verification_due_soon_or_overdue_is_shown_on_the_meter(client, water):
    today = selectors.local_today()
    water.verification_due_on = today + timedelta(days=10)
    water.save()
    page = text_of(client.get(url(water.account)))
    due = formats.date_format(water.verification_due_on, "DATE_FORMAT")
    assert f"Verification due soon: on {due}." in page
    water.verification_due_on = today - timedelta(days=1)
    water.save()
    page = text_of(client.get(url(water.account)))
    assert "verification was due on" in page
    water.verification_due_on = today + timedelta(days=400)
    water.save()
    assert 'data-testid="verification"' not in client.get(url(water.account)).content.decode()


def test_removed_meters_are_not_listed_and_a_faulty_one_takes_no_reading(client, account):
    factories.meter(account_=account, serial="OLD-1", status="removed")
    faulty = factories.meter(account_=account, serial="BAD-1", status="faulty")
    page = text_of(client.get(url(account)))
    assert "OLD-1" not in page and "BAD-1" in page
    assert "This meter is marked faulty." in page
    assert f'action="{url(account, faulty, "submit")}"' not in page
    response = client.post(url(account, faulty, "submit"), data(faulty, T="5"))
    assert response.status_code == 302
    assert not Reading.objects.filter(meter=faulty).exists()


def test_an_account_without_meters_says_so(client, account):
    page = text_of(client.get(url(account)))
    assert "No meters are registered on this account." in page


# --- the instant check --------------------------------------------------------------------


def test_the_check_gives_the_use_since_the_last_reading_and_writes_nothing(client, water):
    before = Reading.objects.count()
    response = client.post(url(water.account, water, "check"), data(water, T="142,5"))
    assert response.status_code == 200
    fragment = text_of(response)
    assert "Use since last reading: 12.5 m³" in fragment and 'data-kind="ok"' in fragment
    assert "<html" not in fragment  # a fragment, not a page
    assert Reading.objects.count() == before


def test_the_check_explains_a_value_lower_than_the_previous_one(client, water):
    fragment = text_of(client.post(url(water.account, water, "check"), data(water, T="120")))
    assert "The reading is lower than the previous one (130)." in fragment
    assert 'data-kind="error"' in fragment


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("abc", "Give the reading as a number"),
        ("123456", "at most 5 digits before the decimal point"),
        ("-4", "cannot be negative"),
    ],
)
def test_the_check_explains_bad_values(client, water, typed, expected):
    fragment = text_of(client.post(url(water.account, water, "check"), data(water, T=typed)))
    assert expected in fragment


def test_the_check_warns_of_a_spike_that_will_be_reviewed(client, water):
    fragment = text_of(client.post(url(water.account, water, "check"), data(water, T="700")))
    assert "Use since last reading: 570 m³" in fragment
    assert "far above your usual" in fragment and 'data-kind="flagged"' in fragment


def test_the_check_of_nothing_typed_is_empty(client, water):
    fragment = client.post(url(water.account, water, "check"), data(water, T=" ")).content
    assert fragment.strip() == b""


def test_the_check_is_post_only(client, water):
    assert client.get(url(water.account, water, "check")).status_code == 405


# --- sending a reading --------------------------------------------------------------------


def test_an_accepted_reading_is_saved_and_confirmed(client, water, resident):
    response = client.post(url(water.account, water, "submit"), data(water, T="142.5"))
    assert response.status_code == 302
    assert response["Location"].endswith(f"/meters/#m-{prefix_for(water)}")
    reading = Reading.objects.filter(meter=water).order_by("-created_at").first()
    assert reading.value == Decimal("142.5") and reading.status == "accepted"
    assert reading.source == "portal" and reading.submitted_by == resident
    assert reading.consumption == Decimal("12.5")
    page = text_of(client.get(response["Location"].split("#")[0]))
    assert "Your reading of meter CW-0001 is accepted." in page
    assert "Use since last reading: 12.5 m³" in page
    assert "142.5 m³" in page  # now the previous reading


def test_a_spike_is_accepted_for_review(client, water):
    response = client.post(url(water.account, water, "submit"), data(water, T="700"), follow=True)
    reading = Reading.objects.filter(meter=water).order_by("-created_at").first()
    assert reading.status == "flagged" and reading.value == Decimal("700")
    assert "Your reading of meter CW-0001 is accepted for review." in text_of(response)


def test_a_rejected_reading_shows_the_form_again_with_the_reason_and_writes_nothing(client, water):
    before = list(Reading.objects.values_list("pk", flat=True))
    state = water.register_states.get(register="T")
    response = client.post(url(water.account, water, "submit"), data(water, T="120"))
    assert response.status_code == 200
    page = text_of(response)
    assert "The reading is lower than the previous one (130)." in page
    assert "Nothing was saved." in page
    assert 'aria-invalid="true"' in page and 'value="120"' in page  # the typed value kept
    assert list(Reading.objects.values_list("pk", flat=True)) == before
    state.refresh_from_db()
    assert state.last_real_value == Decimal("130")


def test_an_empty_reading_is_refused_by_the_form(client, water):
    before = Reading.objects.count()
    page = text_of(client.post(url(water.account, water, "submit"), data(water, T="")))
    assert "Enter the reading shown on the meter." in page
    assert Reading.objects.count() == before


def test_a_photo_that_is_not_an_image_is_refused_on_the_form(client, water):
    before = Reading.objects.count()
    fake = SimpleUploadedFile("dial.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg")
    payload = {**data(water, T="142.5"), f"{prefix_for(water)}-photo": fake}
    page = text_of(client.post(url(water.account, water, "submit"), payload))
    assert "The photo must be a JPEG, PNG or WebP image" in page
    assert re.search(r'class="field invalid">\s*<label for="[^"]*photo', page)
    assert Reading.objects.count() == before


def test_a_photo_is_kept_with_the_reading(client, water):
    photo = SimpleUploadedFile("dial.png", png_bytes(), content_type="image/png")
    payload = {**data(water, T="142.5"), f"{prefix_for(water)}-photo": photo}
    assert client.post(url(water.account, water, "submit"), payload).status_code == 302
    reading = Reading.objects.filter(meter=water, source="portal").get()
    assert reading.photo.name and reading.photo.size == len(png_bytes())


def test_a_day_night_meter_takes_both_registers(client, account):
    meter = factories.meter(account_=account, resource="electricity", rates="day_night")
    services.readings_submit(
        meter=meter,
        values={"T1": "1000", "T2": "500"},
        taken_at=timezone.now() - timedelta(days=30),
        source="staff",
    )
    page = text_of(client.get(url(account)))
    assert "Day / peak" in page and "Night" in page
    assert f'name="{prefix_for(meter)}-value_T1"' in page
    assert f'name="{prefix_for(meter)}-value_T2"' in page

    # One register typed: the check waits for the other, and the form refuses to send.
    only_day = data(meter, T1="1100")
    assert client.post(url(account, meter, "check"), only_day).content.strip() == b""
    page = text_of(client.post(url(account, meter, "submit"), only_day))
    assert "Enter the reading shown on the meter." in page
    assert not Reading.objects.filter(meter=meter, source="portal").exists()

    # Both typed: a line per register in the check, two readings saved.
    both = data(meter, T1="1100", T2="480")
    fragment = text_of(client.post(url(account, meter, "check"), both))
    assert "Day / peak:</strong> Use since last reading: 100 kWh" in fragment
    assert "Night:</strong> The reading is lower than the previous one (500)." in fragment
    assert client.post(url(account, meter, "submit"), both).status_code == 200
    assert not Reading.objects.filter(meter=meter, source="portal").exists()
    both = data(meter, T1="1100", T2="540.25")
    assert client.post(url(account, meter, "submit"), both).status_code == 302
    saved = dict(
        Reading.objects.filter(meter=meter, source="portal").values_list("register", "value")
    )
    assert saved == {"T1": Decimal("1100"), "T2": Decimal("540.25")}


# --- history and consumption --------------------------------------------------------------


def _svg(page: str) -> ET.Element:
    match = re.search(
        r"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"usage-chart\".*?</svg>", page, re.S
    )
    assert match, "no chart on the page"
    return ET.fromstring(match.group(0))


def test_the_meter_page_has_its_history_paged_and_a_chart(client, water):
    for i in range(22):
        Reading.objects.create(
            meter=water,
            register="T",
            value=Decimal(10 + i),
            taken_at=timezone.now() - timedelta(days=400 + i),
            period=date(2020, 1, 1),
            source="import",
            status="accepted",
            created_at=timezone.now(),
        )
    response = client.get(url(water.account, water))
    page = response.content.decode()
    assert response.status_code == 200 and "Page 1 of 2" in page
    assert "130" in page and "Staff" in page
    svg = _svg(page)
    assert svg.get("role") == "img" and svg.get("aria-label")
    bars = svg.findall(f"{SVG}g")
    titled = [g for g in bars if "usage-bar" in (g.get("class") or "")]
    assert len(titled) == 36
    with_use = [g for g in titled if "missing" not in g.get("class")]
    assert len(with_use) == 3  # three months of 10 m³ each
    assert all(g.find(f"{SVG}title").text.endswith(": 10 m³") for g in with_use)
    assert "Page 2 of 2" in client.get(url(water.account, water), {"page": 2}).content.decode()


def test_the_consumption_page_has_a_chart_and_table_per_resource(client, water, account):
    power = factories.meter(account_=account, resource="electricity", serial="EL-1")
    history(power, ["1000", "1250"])
    # An estimated month is marked.
    period = selectors.local_today().replace(day=1)
    Reading.objects.create(
        meter=water,
        register="T",
        value=Decimal("140"),
        taken_at=timezone.now(),
        period=period,
        consumption=Decimal("10"),
        source="estimate",
        status="accepted",
        created_at=timezone.now(),
    )
    page = client.get(f"/accounts/{account.number}/consumption/").content.decode()
    assert 'data-resource="cold_water"' in page and 'data-resource="electricity"' in page
    assert page.count('class="usage-chart"') == 2
    assert "Estimated (no reading that month)" in page
    assert 'class="usage-bar estimated"' in page
    assert "url(#use-cold_water-hatch)" in page
    month = formats.date_format(period, "F Y")
    assert re.search(rf'<th scope="row">{month}</th><td class="num">10</td><td>Estimated', page)
    assert "250" in page  # the electricity month in its table
    # The tables start where the history starts; the charts keep all 36 months.
    first = formats.date_format(selectors.meter_consumption(water)[0].period, "F Y")
    assert f'<th scope="row">{first}</th>' not in page


def test_consumption_without_meters(client, account):
    page = text_of(client.get(f"/accounts/{account.number}/consumption/"))
    assert "no consumption to show" in page


# --- access -------------------------------------------------------------------------------


def test_another_residents_account_and_meters_are_404(client, resident, water, make_user):
    other_account = registry_factories.account()
    other_meter = factories.meter(account_=other_account)
    number = other_account.number
    assert client.get(f"/accounts/{number}/meters/").status_code == 404
    assert client.get(f"/accounts/{number}/consumption/").status_code == 404
    assert client.get(url(other_account, other_meter)).status_code == 404
    # Another account's meter under the resident's own account number.
    own = water.account
    assert client.get(url(own, other_meter)).status_code == 404
    for action in ("check", "submit"):
        response = client.post(url(own, other_meter, action), data(other_meter, T="5"))
        assert response.status_code == 404
        response = client.post(url(other_account, other_meter, action), data(other_meter, T="5"))
        assert response.status_code == 404
    assert not Reading.objects.filter(meter=other_meter).exists()
    # An unknown meter id.
    assert client.get(f"{url(own)}00000000-0000-0000-0000-000000000000/").status_code == 404


def test_an_unlinked_resident_loses_access(client, resident, water):
    registry_services.link_revoke(user=resident, account=water.account)
    assert client.get(url(water.account)).status_code == 404
    assert client.get(url(water.account, water)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(water):
    from django.test import Client

    anonymous = Client()
    for path in (
        url(water.account),
        url(water.account, water),
        f"/accounts/{water.account.number}/consumption/",
    ):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]
    response = anonymous.post(url(water.account, water, "submit"), data(water, T="150"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Reading.objects.filter(source="portal").exists()


# --- languages ----------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ru", "uk", "af"])
def test_the_pages_speak_the_residents_language(client, resident, water, language):
    resident.preferred_language = language
    resident.save()
    state = water.register_states.get(register="T")
    page = text_of(client.get(url(water.account)))
    assert f'lang="{language}"' in page
    with translation.override(language):
        # Dates come out in the resident's language (Django's own month names).
        assert formats.date_format(state.last_real_taken_at, "DATE_FORMAT") in page
        month = formats.date_format(selectors.local_today().replace(day=1), "F Y")
        decimal_mark = formats.get_format("DECIMAL_SEPARATOR")
    # The check speaks the resident's number format.
    fragment = text_of(client.post(url(water.account, water, "check"), data(water, T="142.5")))
    assert f"12{decimal_mark}5" in fragment
    use = client.get(f"/accounts/{water.account.number}/consumption/").content.decode()
    assert month in use
