"""The inbound SMS dispatcher: registered handlers first, then the help text."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.utils.translation import gettext_lazy

from civicdesk.notifications import dispatcher
from civicdesk.notifications.dispatcher import InboundSms, dispatch, help_text
from civicdesk.notifications.models import Delivery, InboundMessage

pytestmark = pytest.mark.django_db

PHONE = "+27821234567"
SECRET = "generic-sms-secret"
HELP_EN = (
    "{name}: send your meter readings as: ACCOUNT CODE VALUE, e.g. 12345 CW 11 HW 12 EL 14. "
    "Reply HELP for this message."
)


@pytest.fixture
def register():
    """dispatcher.register for a test of the dispatcher alone: the apps' own handlers (e.g.
    meter readings) step aside and come back afterwards, with nothing the test added."""
    saved = list(dispatcher._handlers)
    dispatcher._handlers.clear()

    yield dispatcher.register
    dispatcher._handlers[:] = saved


@pytest.fixture
def text_in(client, settings):
    """Post an SMS to the generic endpoint; returns the reply."""
    settings.SMS_INBOUND_SECRET = SECRET

    def send(text: str, sender: str = PHONE) -> str:
        response = client.post(
            "/api/v1/sms/inbound",
            data=json.dumps({"from": sender, "text": text}),
            content_type="application/json",
            headers={"X-Civicdesk-Sms-Secret": SECRET},
        )
        assert response.status_code == 200, response.content
        return response.json()["reply"]

    return send


def message(**fields) -> InboundSms:
    return InboundSms(
        **{
            "sender": PHONE,
            "text": "12345 CW 11",
            "received_at": datetime(2026, 3, 1, tzinfo=UTC),
            "provider": "test",
            **fields,
        }
    )


def test_a_registered_handlers_reply_wins_over_the_help_text(register, text_in, operator):
    register("readings", lambda sms: "Reading accepted" if sms.text.startswith("12345") else None)

    assert text_in("12345 CW 11") == "Reading accepted"
    assert text_in("what?") == HELP_EN.format(name="Karoo Water")
    accepted, helped = InboundMessage.objects.order_by("received_at")
    assert (accepted.handler, accepted.reply) == ("readings", "Reading accepted")
    assert helped.handler == "help"


def test_unregistering_brings_the_help_text_back(register, text_in):
    register("readings", lambda sms: "Reading accepted")
    dispatcher.unregister("readings")

    assert text_in("12345 CW 11") == HELP_EN.format(name="civicdesk")


def test_the_handler_sees_the_message_its_sender_and_the_language(
    register, text_in, make_user, operator
):
    user = make_user(language="uk", phone=PHONE, verified_phone=True)
    seen: list[InboundSms] = []
    register("spy", lambda sms: seen.append(sms))

    text_in(" 12345 CW 11 ", sender="27821234567")

    (sms,) = seen
    assert (sms.sender, sms.text, sms.provider) == (PHONE, " 12345 CW 11 ", "generic")
    assert (sms.user, sms.language, sms.operator_name) == (user, "uk", "Karoo Water")
    assert sms.received_at == InboundMessage.objects.get().received_at


def test_a_lazy_reply_is_translated_into_the_senders_language(register, text_in, make_user):
    make_user(language="uk", phone=PHONE, verified_phone=True)
    register("yes", lambda sms: gettext_lazy("Yes"))  # in Django's own catalogue: uk "Так"

    assert text_in("12345") == "Так"


def test_handlers_are_asked_by_priority_and_the_first_answer_wins(register):
    asked: list[str] = []

    def handler(name, answer):
        return lambda sms: asked.append(name) or answer

    register("late", handler("late", "from late"), priority=200)
    register("passes", handler("passes", None), priority=10)
    register("early", handler("early", "from early"), priority=50)

    assert dispatch(message()) == dispatcher.DispatchResult("from early", "early")
    assert asked == ["passes", "early"]


def test_registering_a_name_again_replaces_the_handler(register):
    register("readings", lambda sms: "old")
    register("readings", lambda sms: "new")

    assert dispatch(message()).reply == "new"
    assert [h.name for h in dispatcher._handlers].count("readings") == 1


def test_a_failing_handler_is_rolled_back_logged_and_passed_over(
    register, text_in, caplog, operator
):
    def broken(sms):
        Delivery.objects.create(
            template_key="half-written", channel="sms", language="en", recipient=PHONE, body="x"
        )
        raise RuntimeError("handler bug")

    register("broken", broken, priority=1)
    register("readings", lambda sms: "Reading accepted", priority=2)

    assert text_in("12345 CW 11") == "Reading accepted"
    assert not Delivery.objects.filter(template_key="half-written").exists()
    assert "SMS handler 'broken' failed" in caplog.text
    assert "RuntimeError: handler bug" in caplog.text


def test_a_failing_handler_alone_leaves_the_sender_with_the_help_text(register, text_in):
    register("broken", lambda sms: 1 / 0)

    assert text_in("12345 CW 11") == HELP_EN.format(name="civicdesk")
    assert InboundMessage.objects.get().handler == "help"


def test_the_help_text_names_the_operator_as_written():
    assert help_text("en", "Smith & Sons <Water>") == HELP_EN.format(name="Smith & Sons <Water>")
    assert help_text("en") == HELP_EN.format(name="civicdesk")


def test_an_unknown_language_gets_the_default_help_text():
    assert dispatch(message(language="xx")).reply == HELP_EN.format(name="civicdesk")
    assert help_text("xx", "Karoo Water") == HELP_EN.format(name="Karoo Water")
