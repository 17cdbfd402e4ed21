"""Meter readings by SMS end to end: through `inbound_sms_receive` and the generic webhook,
the handler reads the message, checks the account, the sender and the meters, submits the
readings and replies in the sender's language with what was accepted and what was not."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from django.utils import timezone

from civicdesk.metering import selectors, sms_handler
from civicdesk.metering.models import Reading
from civicdesk.metering.tests import factories
from civicdesk.notifications import dispatcher
from civicdesk.notifications.models import InboundMessage
from civicdesk.notifications.services import inbound_sms_receive
from civicdesk.registry.tests import factories as registry

pytestmark = pytest.mark.django_db

HOLDER = "+79161234567"
STRANGER = "+79990000000"
SECRET = "sms-secret-for-tests"
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)  # inside the Russian window (15th-25th)
D = Decimal


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def ru_operator(db):
    from civicdesk.registry.models import Operator

    return Operator.objects.create(
        name="Расчётный центр",
        jurisdiction="RU",
        currency="RUB",
        timezone="Europe/Moscow",
        default_language="en",
        enabled_languages=["en", "af", "uk", "ru"],
    )


@pytest.fixture
def metering(ru_operator):
    return selectors.metering_settings()


@pytest.fixture
def home(ru_operator):
    """An account whose holder's phone is HOLDER, with cold and hot water, day/night electricity
    and gas meters."""
    account = registry.account(holder_phone=HOLDER)
    return SimpleNamespace(
        account=account,
        number=account.number,
        cold=factories.meter(account_=account, resource="cold_water", serial="CW-1"),
        hot=factories.meter(account_=account, resource="hot_water", serial="HW-1"),
        power=factories.meter(account_=account, resource="electricity", rates="day_night"),
        gas=factories.meter(account_=account, resource="gas"),
    )


@pytest.fixture
def resident(make_user, home):
    """A resident with a verified phone, linked to the account, writing in English."""
    from civicdesk.registry.services import link_by_staff

    user = make_user(
        phone="+79165550101", phone_verified_at=timezone.now(), preferred_language="en"
    )
    link_by_staff(user=user, account=home.account, role="tenant")
    return user


def send(text: str, sender: str = HOLDER) -> InboundMessage:
    return inbound_sms_receive(provider="test", sender=str(sender), text=text)


def stored(meter) -> list[tuple[str, str, str]]:
    return [
        (r.register, format(r.value, "f"), r.status)
        for r in Reading.objects.filter(meter=meter).order_by("created_at", "register", "pk")
    ]


def test_the_handler_is_registered_first_at_start_up():
    (entry,) = [h for h in dispatcher._handlers if h.name == "meter-readings"]

    assert entry.priority == 10
    assert entry.handler is sms_handler.handle


def test_the_stavropol_format_from_a_linked_resident(home, resident):
    row = send(f"{home.number} ХВ 11 ГВ 12 ЭЛ 1234 567 ГЗ 15", sender=resident.phone)

    assert row.handler == "meter-readings"
    assert row.reply == (
        f"Account {home.number}: Cold water 11 accepted. Hot water 12 accepted. "
        "Electricity 1234/567 accepted. Gas 15 accepted."
    )
    assert stored(home.cold) == [("T", "11.000", "accepted")]
    assert stored(home.power) == [("T1", "1234.000", "accepted"), ("T2", "567.000", "accepted")]
    reading = Reading.objects.get(meter=home.gas)
    assert (reading.source, reading.submitted_by, reading.taken_at) == ("sms", resident, NOW)


@pytest.mark.parametrize(
    "template",
    [
        "{n} ХВ11 ГВ12",
        "{n}ХВ11ГВ12",
        "{n}#ХВ#11#ГВ#12",
        "{n}#ХВ11#ГВ12",
        "ПОКАЗ {n} хв 11 гв 12",
        "{n} XB 11 ГB 12",  # Latin look-alikes
    ],
)
def test_every_grammar_through_the_webhook(client, settings, home, template):
    settings.SMS_INBOUND_SECRET = SECRET
    response = client.post(
        "/api/v1/sms/inbound",
        data=json.dumps({"from": HOLDER, "text": template.format(n=home.number)}),
        content_type="application/json",
        headers={"X-Civicdesk-Sms-Secret": SECRET},
    )

    assert response.status_code == 200
    assert response.json()["reply"] == (
        f"Account {home.number}: Cold water 11 accepted. Hot water 12 accepted."
    )
    assert stored(home.cold) == [("T", "11.000", "accepted")]
    assert stored(home.hot) == [("T", "12.000", "accepted")]


def test_decimal_comma_and_day_night_with_a_slash(home, resident):
    row = send(f"{home.number} ХВ 11,5 ЭЛ 1234,25/567", sender=resident.phone)

    assert row.reply == (
        f"Account {home.number}: Cold water 11,5 accepted. Electricity 1234,25/567 accepted."
    )
    assert stored(home.cold) == [("T", "11.500", "accepted")]
    assert stored(home.power)[0] == ("T1", "1234.250", "accepted")


@pytest.mark.parametrize(
    ("language", "cold_water"),
    [("ru", "Холодная вода"), ("uk", "Холодна вода"), ("af", "Koue water"), ("en", "Cold water")],
)
def test_the_reply_is_in_the_senders_language(home, resident, language, cold_water):
    resident.preferred_language = language
    resident.save()

    reply = send(f"{home.number} ХВ 11", sender=resident.phone).reply

    assert cold_water in reply
    assert stored(home.cold) == [("T", "11.000", "accepted")]


def test_a_stranger_gets_the_operators_language(home, metering, ru_operator):
    ru_operator.default_language = "ru"
    ru_operator.save()
    metering.sms_any_sender = True
    metering.save()

    assert "Холодная вода" in send(f"{home.number} ХВ 11", sender=STRANGER).reply


# --- what was wrong -------------------------------------------------------------------------


def test_lower_than_the_previous_reading(home, resident, frozen):
    send(f"{home.number} ХВ 11 ГВ 15", sender=resident.phone)
    frozen.shift(3600)

    row = send(f"{home.number} ХВ 12 ГВ 12", sender=resident.phone)

    assert row.reply == (
        f"Account {home.number}: Cold water 12 accepted. Hot water 12 not accepted: "
        "the reading is lower than the previous one (15)."
    )
    assert stored(home.hot) == [("T", "15.000", "accepted"), ("T", "12.000", "rejected")]
    assert Reading.objects.get(meter=home.hot, status="rejected").reasons == "lower_than_previous"


def test_outside_the_window_when_the_operator_rejects_late_readings(home, resident, metering):
    metering.outside_window = "reject"
    metering.save()

    with time_machine.travel(datetime(2026, 3, 5, 9, 0, tzinfo=UTC), tick=False):
        row = send(f"{home.number} ХВ 11", sender=resident.phone)

    assert row.reply == (
        f"Account {home.number}: Cold water 11 not accepted: readings are accepted only inside "
        "the monthly submission window."
    )
    assert stored(home.cold) == [("T", "11.000", "rejected")]


def test_a_late_reading_is_accepted_for_the_next_period_and_says_so(home, resident):
    with time_machine.travel(datetime(2026, 3, 27, 9, 0, tzinfo=UTC), tick=False):
        row = send(f"{home.number} ХВ 11", sender=resident.phone)

    assert row.reply == (
        f"Account {home.number}: Cold water 11 accepted. It came after this month's window "
        "closed and counts for the next period."
    )


def test_the_same_message_twice(home, resident):
    send(f"{home.number} ХВ 11", sender=resident.phone)

    reply = send(f"{home.number} ХВ 11", sender=resident.phone).reply

    assert reply == (
        f"Account {home.number}: Cold water 11 not accepted: this reading is already on record."
    )


def test_an_unknown_account(home, resident):
    row = send("1234567890 ХВ 11", sender=resident.phone)

    assert row.reply == "Account 1234567890 was not found: check the number on your bill."
    assert not Reading.objects.exists()


def test_an_unknown_code_beside_known_ones(home, resident):
    reply = send(f"{home.number} ХВ 11 ХЗ 5", sender=resident.phone).reply

    assert reply == (
        f"Account {home.number}: Cold water 11 accepted. "
        "Unknown code ХЗ (the codes are ХВ, ГВ, ЭЛ, ГЗ, ТП)."
    )


@pytest.mark.parametrize("text", ["Hello", "12345", "12345 CW 11", "", "HELP"])
def test_a_message_not_meant_as_readings_gets_the_help_text(home, text):
    row = send(text)

    assert row.handler == "help"
    assert not Reading.objects.exists()


def test_the_grammars_errors_each_spoil_one_reading(home, resident):
    reply = send(f"{home.number} ХВ ГВ 1l ЭЛ 1 2 3 4 ГЗ 15 7 ТП 5", sender=resident.phone).reply

    assert reply == (
        f"Account {home.number}: Gas: this meter takes 1 value (total). There is no heat meter "
        "on this account. ХВ has no reading after it. Hot water: 1l is not a number. ЭЛ: too "
        "many numbers (at most 3, one per register)."
    )
    assert not Reading.objects.exists()


def test_no_account_number(home, resident):
    reply = send("ХВ 11 ГВ 12", sender=resident.phone).reply

    assert reply == "Start the message with your account number. Send, e.g.: 12345 ХВ 11 ГВ 12"
    assert not Reading.objects.exists()


def test_a_format_the_operator_has_not_enabled(home, resident, metering):
    metering.sms_grammars = ["spaced"]
    metering.save()

    reply = send(f"{home.number}#ХВ#11", sender=resident.phone).reply

    assert reply == (
        f"Messages written this way are not accepted here. Send, e.g.: {home.number} ХВ 11 ГВ 12"
    )
    assert not Reading.objects.exists()


# --- who may send ---------------------------------------------------------------------------


def test_a_sender_not_linked_to_the_account(home):
    row = send(f"{home.number} ХВ 11", sender=STRANGER)

    assert row.reply == (
        f"This phone is not linked to account {home.number}: link the account in the portal, "
        "or send from the phone number on the account."
    )
    assert not Reading.objects.exists()


def test_the_holders_phone_needs_no_login(home):
    row = send(f"{home.number} ХВ 11")  # HOLDER: nobody's verified phone

    assert "11" in row.reply and row.user is None
    assert stored(home.cold) == [("T", "11.000", "accepted")]
    assert Reading.objects.get().submitted_by is None


def test_a_revoked_link_no_longer_lets_the_resident_send(home, resident):
    resident.account_links.update(revoked_at=timezone.now())

    reply = send(f"{home.number} ХВ 11", sender=resident.phone).reply

    assert reply.startswith("This phone is not linked")
    assert not Reading.objects.exists()


def test_an_unverified_phone_is_a_stranger(home, make_user):
    from civicdesk.registry.services import link_by_staff

    user = make_user(phone="+79165550199")  # not verified
    link_by_staff(user=user, account=home.account, role="tenant")

    assert send(f"{home.number} ХВ 11", sender=user.phone).reply.startswith(
        "This phone is not linked"
    )
    assert not Reading.objects.exists()


def test_any_sender_when_the_operator_allows_it(home, metering):
    metering.sms_any_sender = True
    metering.save()

    send(f"{home.number} ХВ 11", sender=STRANGER)

    assert stored(home.cold) == [("T", "11.000", "accepted")]


# --- meters ---------------------------------------------------------------------------------


def test_a_repeated_code_is_the_next_meter_in_serial_order(home, resident):
    second = factories.meter(account_=home.account, resource="cold_water", serial="CW-2")

    reply = send(f"{home.number} ХВ 11 ХВ 22 ХВ 33", sender=resident.phone).reply

    assert reply == (
        f"Account {home.number}: Cold water, meter 1 11 accepted. "
        "Cold water, meter 2 22 accepted. This account has only 2 cold water meters."
    )
    assert stored(home.cold) == [("T", "11.000", "accepted")]
    assert stored(second) == [("T", "22.000", "accepted")]


def test_removed_meters_do_not_count(home, resident):
    home.cold.status = "removed"
    home.cold.save()
    new = factories.meter(account_=home.account, resource="cold_water", serial="CW-9")

    send(f"{home.number} ХВ 11", sender=resident.phone)

    assert stored(new) == [("T", "11.000", "accepted")]


def test_a_faulty_meter_is_told_by_validation(home, resident):
    home.cold.status = "faulty"
    home.cold.save()

    reply = send(f"{home.number} ХВ 11", sender=resident.phone).reply

    assert reply == (
        f"Account {home.number}: Cold water 11 not accepted: this meter is marked faulty; "
        "report the fault instead."
    )


def test_no_meter_for_a_resource(home, resident):
    reply = send(f"{home.number} ТП 5 ХВ 11", sender=resident.phone).reply

    assert reply == (
        f"Account {home.number}: There is no heat meter on this account. Cold water 11 accepted."
    )


def test_day_night_values_and_one_register_rejected(home, resident, frozen):
    send(f"{home.number} ЭЛ 1000 600", sender=resident.phone)
    frozen.shift(3600)

    reply = send(f"{home.number} ЭЛ 1234/500", sender=resident.phone).reply

    assert reply == (
        f"Account {home.number}: Electricity (day / peak) 1234 accepted. Electricity (night) "
        "500 not accepted: the reading is lower than the previous one (600)."
    )
    assert stored(home.power)[2:] == [
        ("T1", "1234.000", "accepted"),
        ("T2", "500.000", "rejected"),
    ]


def test_a_day_night_meter_needs_both_values(home, resident):
    reply = send(f"{home.number} ЭЛ 1234", sender=resident.phone).reply

    assert reply == (
        f"Account {home.number}: Electricity: this meter takes 2 values (day / peak, night), "
        "separated by a space or /."
    )
    assert not Reading.objects.exists()


# --- settings and set-up --------------------------------------------------------------------


def test_codes_that_cannot_be_told_apart_leave_it_to_the_help_text(home, metering):
    metering.sms_codes = {"ХВ": "cold_water", "XB": "hot_water"}
    metering.save()

    assert send(f"{home.number} ХВ 11").handler == "help"


def test_without_an_operator_the_handler_passes(db):
    assert send("12345 ХВ 11").handler == "help"


def test_the_operators_own_codes_and_keywords(home, resident, metering):
    metering.sms_codes = {"ВОДА": "cold_water", "СВЕТ": "electricity"}
    metering.sms_keywords = ["СЧЁТЧИК"]
    metering.save()

    reply = send(f"счётчик {home.number} вода 11 свет 1 2", sender=resident.phone).reply

    assert reply == (f"Account {home.number}: Cold water 11 accepted. Electricity 1/2 accepted.")


def test_a_za_operator_with_its_default_codes(operator, make_user):
    account = registry.account(holder_phone="+27821234567")
    water = factories.meter(account_=account, resource="cold_water")

    reply = send(f"READ {account.number} CW 11", sender="+27821234567").reply

    assert reply == f"Account {account.number}: Cold water 11 accepted."
    assert stored(water) == [("T", "11.000", "accepted")]
