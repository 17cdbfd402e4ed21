"""The inbound SMS endpoints: generic JSON, Twilio (signed) and Africa's Talking (token)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from civicdesk.notifications.models import Delivery, InboundMessage

pytestmark = pytest.mark.django_db

GENERIC = "/api/v1/sms/inbound"
TWILIO = "/api/v1/sms/inbound/twilio"
TWILIO_URL = "http://testserver/api/v1/sms/inbound/twilio"  # what Twilio signs: the full URL
AFRICASTALKING = "/api/v1/sms/inbound/africastalking"
SECRET = "generic-sms-secret"
TWILIO_TOKEN = "twilio-auth-token-0123"
AT_TOKEN = "at-callback-token"
PHONE = "+27821234567"
HELP_KAROO = (
    "Karoo Water: send your meter readings as: ACCOUNT CODE VALUE, e.g. 12345 CW 11 HW 12 EL 14. "
    "Reply HELP for this message."
)
# Stands in for the help text to show which language and operator name it was rendered with.
HELP_PROBE = {
    "notifications/sms_help.txt": (
        "{% load i18n %}{% get_current_language as lang %}"
        "{{ operator_name|default:'-' }}|{{ lang }}"
    )
}


@pytest.fixture(autouse=True)
def endpoint_settings(settings):
    settings.SMS_INBOUND_SECRET = SECRET
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.AFRICASTALKING_INBOUND_TOKEN = AT_TOKEN


def post_generic(client, body, secret: str | None = SECRET):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {} if secret is None else {"X-Civicdesk-Sms-Secret": secret}
    return client.post(GENERIC, data=data, content_type="application/json", headers=headers)


def twilio_params(**fields) -> dict[str, str]:
    return {
        "MessageSid": "SM0123456789abcdef0123456789abcdef",
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": PHONE,
        "To": "+15005550006",
        "Body": "12345 CW 11",
        "NumMedia": "0",
        **fields,
    }


def post_twilio(client, params, *, signature: str | None = None, token=TWILIO_TOKEN, **extra):
    if signature is None:
        signature = RequestValidator(token).compute_signature(TWILIO_URL, params)
    return client.post(
        TWILIO,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature} if signature else {},
        **extra,
    )


def post_africastalking(client, fields, token: str | None = AT_TOKEN):
    url = AFRICASTALKING if token is None else f"{AFRICASTALKING}?{urlencode({'token': token})}"
    return client.post(
        url, data=urlencode(fields), content_type="application/x-www-form-urlencoded"
    )


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"]
    return body


def nothing_logged() -> bool:
    return not InboundMessage.objects.exists() and not Delivery.objects.exists()


# --- generic JSON -------------------------------------------------------------------------------


def test_generic_logs_the_message_and_answers_the_help_text(client, operator):
    received = "2026-03-01T08:30:00Z"
    response = post_generic(client, {"from": PHONE, "text": "hello", "received_at": received})

    assert response.status_code == 200
    assert response.json() == {"reply": HELP_KAROO}
    row = InboundMessage.objects.get()
    assert (row.provider, row.sender, row.text, row.handler) == ("generic", PHONE, "hello", "help")
    assert row.reply == HELP_KAROO
    assert row.received_at == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    assert row.user is None


def test_without_an_operator_the_help_text_names_civicdesk(client):
    response = post_generic(client, {"from": PHONE, "text": "?"})

    assert response.json()["reply"].startswith("civicdesk: send your meter readings")


@pytest.mark.parametrize(
    ("sender", "verified", "with_operator", "expected"),
    [
        ("+27821234567", True, True, "Karoo Water|uk"),  # the user's own language
        ("27821234567", True, True, "Karoo Water|uk"),  # gateways that drop the "+"
        ("+27821234567", False, True, "Karoo Water|af"),  # unverified: the operator's default
        ("+27829999999", True, True, "Karoo Water|af"),  # a stranger: the operator's default
        ("+27829999999", True, False, "-|en"),  # no operator yet: LANGUAGE_CODE
    ],
    ids=["verified", "verified-no-plus", "unverified", "stranger", "no-operator"],
)
def test_the_reply_is_in_the_senders_language(
    client, make_user, make_operator, extra_templates, sender, verified, with_operator, expected
):
    extra_templates(HELP_PROBE)
    if with_operator:
        make_operator(language="af")
    user = make_user(language="uk", phone=PHONE, verified_phone=verified)
    response = post_generic(client, {"from": sender, "text": "help"})

    assert response.json() == {"reply": expected}
    row = InboundMessage.objects.get()
    assert row.user == (user if verified and sender.endswith("1234567") else None)


@pytest.mark.parametrize("language", ["af", "uk", "ru"])
def test_the_help_text_is_translated_and_names_the_operator(
    client, make_user, make_operator, language
):
    make_operator(language="en")
    make_user(language=language, phone=PHONE, verified_phone=True)
    reply = post_generic(client, {"from": PHONE, "text": "?"}).json()["reply"]

    assert reply.startswith("Karoo Water: ")
    assert reply != HELP_KAROO  # the catalogue's wording, not the English source
    assert "12345 CW 11 HW 12 EL 14" in reply and "HELP" in reply


def test_a_time_is_recorded_when_the_gateway_gives_none(client):
    before = timezone.now()
    post_generic(client, {"from": PHONE, "text": "x"})

    assert before <= InboundMessage.objects.get().received_at <= timezone.now()


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
def test_generic_refuses_a_missing_or_wrong_secret(client, secret):
    response = post_generic(client, {"from": PHONE, "text": "x"}, secret=secret)

    body = assert_problem(response, 403)
    assert body["detail"] == "The SMS shared secret is missing or wrong."
    assert nothing_logged()


def test_generic_is_closed_when_no_secret_is_configured(client, settings):
    settings.SMS_INBOUND_SECRET = ""
    response = post_generic(client, {"from": PHONE, "text": "x"}, secret="")

    assert_problem(response, 403)
    assert nothing_logged()


def test_generic_refuses_malformed_json(client):
    response = post_generic(client, b'{"from": "+27821234567", "text": ')

    body = assert_problem(response, 400)
    assert "JSON parse error" in body["detail"]
    assert nothing_logged()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "hello"}, "from"),
        ({"from": "", "text": "hello"}, "from"),
        ({"from": "   ", "text": "hello"}, "from"),
        ({"from": "+2782" + "1" * 40, "text": "hello"}, "from"),
        ({"from": {"n": 1}, "text": "hello"}, "from"),
        ({"from": 27821234567, "text": "hello"}, "from"),
        ({"from": PHONE, "text": 12345}, "text"),
        ({"from": PHONE}, "text"),
        ({"from": PHONE, "text": "x" * 1601}, "text"),
        ({"from": PHONE, "text": "nul\x00"}, "text"),
        ({"from": PHONE, "text": "x", "received_at": "yesterday"}, "received_at"),
    ],
    ids=[
        "from-missing",
        "from-empty",
        "from-blank",
        "from-too-long",
        "from-not-text",
        "from-a-number",
        "text-a-number",
        "text-missing",
        "text-too-long",
        "text-nul",
        "received_at-bad",
    ],
)
def test_generic_names_the_field_that_is_wrong(client, body, field):
    response = post_generic(client, body)

    problem = assert_problem(response, 400)
    assert [error["field"] for error in problem["errors"]] == [field]
    assert problem["detail"].startswith(f"{field}: ")
    assert nothing_logged()


@pytest.mark.parametrize("body", [[], "a string", 42, None])
def test_generic_refuses_a_body_that_is_not_an_object(client, body):
    assert_problem(post_generic(client, body), 400)
    assert nothing_logged()


def test_generic_refuses_a_form_encoded_body(client):
    response = client.post(
        GENERIC,
        data=urlencode({"from": PHONE, "text": "x"}),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Civicdesk-Sms-Secret": SECRET},
    )

    assert_problem(response, 415)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
# st.text() includes lone surrogates, NUL and every other oddity a gateway could forward.
generic_bodies = st.one_of(
    st.fixed_dictionaries(
        {"from": st.text(max_size=40), "text": st.text(max_size=40)},
        optional={
            "received_at": st.one_of(
                st.text(max_size=30),
                st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
            ),
            "extra": json_values,
        },
    ),
    st.fixed_dictionaries({"from": json_values, "text": json_values}),
    json_values,
    st.binary(max_size=60),
)


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=generic_bodies)
def test_property_generic_never_fails_with_a_server_error(client, operator, body):
    response = post_generic(client, body)

    assert response.status_code < 500
    if response.status_code == 200:
        assert response["Content-Type"] == "application/json"
        assert response.json()["reply"] == HELP_KAROO
    else:
        problem = assert_problem(response, response.status_code)
        assert 400 <= problem["status"] < 500 and problem["detail"]


# --- Twilio -------------------------------------------------------------------------------------


def test_twilio_with_a_valid_signature_gets_twiml(client, operator):
    response = post_twilio(client, twilio_params(Body="Hallo"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Response"
    assert [(m.tag, m.text) for m in root] == [("Message", HELP_KAROO)]
    row = InboundMessage.objects.get()
    assert (row.provider, row.sender, row.text, row.reply) == ("twilio", PHONE, "Hallo", HELP_KAROO)
    assert not Delivery.objects.exists()  # Twilio replies in the answer: no second SMS


def test_twilio_text_loses_nul_characters_no_database_could_store(client):
    response = post_twilio(client, twilio_params(Body="12345\x00 CW 11"))

    assert response.status_code == 200
    assert InboundMessage.objects.get().text == "12345 CW 11"


def test_twilio_reply_text_is_xml_escaped(client, settings, extra_templates):
    extra_templates({"notifications/sms_help.txt": "Send <ACCOUNT> & <READING>"})
    response = post_twilio(client, twilio_params())

    assert b"<Message>Send &lt;ACCOUNT&gt; &amp; &lt;READING&gt;</Message>" in response.content
    assert ElementTree.fromstring(response.content)[0].text == "Send <ACCOUNT> & <READING>"


@pytest.mark.parametrize(
    "forge",
    [
        {"signature": ""},
        {"signature": "bm90LWEtc2lnbmF0dXJl"},
        {"token": "someone-elses-token"},
    ],
    ids=["missing", "garbage", "other-token"],
)
def test_twilio_refuses_a_missing_or_forged_signature(client, forge):
    response = post_twilio(client, twilio_params(), **forge)

    body = assert_problem(response, 403)
    assert body["detail"] == "The Twilio signature is missing or wrong."
    assert nothing_logged()


def test_twilio_refuses_a_signature_over_other_fields(client):
    signed = twilio_params(Body="12345 CW 11")
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_URL, signed)
    response = post_twilio(client, twilio_params(Body="12345 CW 99"), signature=signature)

    assert_problem(response, 403)
    assert nothing_logged()


def test_twilio_refuses_a_signature_for_another_url(client):
    params = twilio_params()
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        "http://testserver/api/v1/sms/inbound", params
    )

    assert_problem(post_twilio(client, params, signature=signature), 403)
    assert nothing_logged()


def test_twilio_is_closed_when_no_auth_token_is_configured(client, settings):
    settings.TWILIO_AUTH_TOKEN = ""

    assert_problem(post_twilio(client, twilio_params(), token=""), 403)
    assert nothing_logged()


def test_twilio_refuses_an_out_of_range_port_instead_of_crashing(client):
    response = post_twilio(client, twilio_params(), HTTP_HOST="testserver:99999")

    assert_problem(response, 403)
    assert nothing_logged()


@pytest.mark.parametrize("sender", [None, "", "  "])
def test_twilio_signed_but_without_a_sender_names_the_field(client, sender):
    params = twilio_params()
    if sender is None:
        del params["From"]
    else:
        params["From"] = sender
    response = post_twilio(client, params)

    problem = assert_problem(response, 400)
    assert [e["field"] for e in problem["errors"]] == ["From"]
    assert nothing_logged()


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sender=st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40),
    text=st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=200),
)
def test_property_twilio_signed_posts_never_fail_with_a_server_error(client, sender, text):
    response = post_twilio(client, twilio_params(From=sender, Body=text))

    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert ElementTree.fromstring(response.content)[0].tag == "Message"


# --- Africa's Talking ---------------------------------------------------------------------------


def at_fields(**fields) -> dict[str, str]:
    return {
        "from": PHONE,
        "to": "40404",
        "text": "12345 CW 11",
        "id": "0b1c2d3e-aaaa-bbbb-cccc-0123456789ab",
        "linkId": "SampleLinkId123",
        "date": "2026-03-01 10:04:22",
        **fields,
    }


def test_africastalking_with_the_right_token_queues_the_reply_as_an_sms(
    client, operator, sms_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_africastalking(client, at_fields())

    # "12345 CW 11" is a meter reading in South Africa's codes: the metering handler answers.
    answer = "Account 12345 was not found: check the number on your bill."
    assert response.status_code == 200
    assert response.json() == {"reply": answer}
    assert sms_outbox == [(PHONE, answer)]
    row = InboundMessage.objects.get()
    assert (row.provider, row.sender, row.text) == ("africastalking", PHONE, "12345 CW 11")
    assert row.received_at == datetime(2026, 3, 1, 10, 4, 22, tzinfo=UTC)
    reply = Delivery.objects.get()
    assert (reply.template_key, reply.channel, reply.recipient) == ("sms/reply", "sms", PHONE)
    assert (reply.status, reply.body, reply.language) == ("sent", answer, "en")


@pytest.mark.parametrize("token", [None, "", "wrong", AT_TOKEN.upper()])
def test_africastalking_refuses_a_missing_or_wrong_token(client, sms_outbox, token):
    response = post_africastalking(client, at_fields(), token=token)

    body = assert_problem(response, 403)
    assert body["detail"] == "The callback token is missing or wrong."
    assert nothing_logged()
    assert sms_outbox == []


def test_africastalking_is_closed_in_production_without_a_token(client, settings):
    settings.AFRICASTALKING_INBOUND_TOKEN = ""
    settings.PRODUCTION = True

    assert_problem(post_africastalking(client, at_fields(), token=None), 403)
    assert nothing_logged()


def test_africastalking_without_a_sender_names_the_field(client):
    fields = at_fields()
    del fields["from"]

    problem = assert_problem(post_africastalking(client, fields), 400)
    assert [e["field"] for e in problem["errors"]] == ["from"]
    assert nothing_logged()


@pytest.mark.parametrize("date", ["", "not a date", "2026-13-45 99:99:99"])
def test_africastalking_unreadable_date_means_now(client, date):
    before = timezone.now()
    response = post_africastalking(client, at_fields(date=date))

    assert response.status_code == 200
    assert before <= InboundMessage.objects.get().received_at <= timezone.now()


def test_africastalking_aware_date_is_kept(client):
    post_africastalking(client, at_fields(date="2026-03-01T12:04:22+02:00"))

    assert InboundMessage.objects.get().received_at == datetime(2026, 3, 1, 10, 4, 22, tzinfo=UTC)


def test_africastalking_does_not_text_back_a_sender_that_is_not_a_number(
    client, sms_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_africastalking(client, at_fields(**{"from": "MTN-INFO"}))

    assert response.status_code == 200
    assert InboundMessage.objects.get().sender == "MTN-INFO"
    assert sms_outbox == [] and not Delivery.objects.exists()


def test_the_reply_sms_waits_for_the_commit(client, sms_outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post_africastalking(client, at_fields())

    assert len(callbacks) == 1 and sms_outbox == []
    assert Delivery.objects.get().status == "queued"
    assert timezone.now() - Delivery.objects.get().created_at < timedelta(minutes=1)
