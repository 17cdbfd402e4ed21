"""Outbound SMS backends, against a fake provider on 127.0.0.1 (never the internet).

The requests are checked against the providers' documented APIs:
- Twilio: POST /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP basic auth sid:token, form
  fields To, From, Body; the JSON answer carries the message "sid".
- Africa's Talking: POST /version1/messaging, header apiKey, Accept: application/json, form
  fields username, to, message and optionally from; the answer is
  {"SMSMessageData": {"Recipients": [{"status": "Success", "messageId": ...}]}}.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest

from civicdesk.notifications import sms
from civicdesk.notifications.services import notify
from civicdesk.notifications.tests.conftest import free_port

pytestmark = pytest.mark.django_db

PHONE = "+27821234567"
CODE = {"code": "246810", "minutes": 15}
SMS_TEXT = "civicdesk code: 246810. It expires in 15 minutes."

TWILIO = "civicdesk.notifications.sms.TwilioSmsBackend"
AFRICASTALKING = "civicdesk.notifications.sms.AfricasTalkingSmsBackend"
TWILIO_OK = (201, {"sid": "SM0123456789abcdef", "status": "queued"})
AT_OK = (
    201,
    {
        "SMSMessageData": {
            "Message": "Sent to 1/1 Total Cost: ZAR 0.2000",
            "Recipients": [
                {
                    "statusCode": 101,
                    "number": PHONE,
                    "status": "Success",
                    "cost": "ZAR 0.2000",
                    "messageId": "ATXid_0123",
                }
            ],
        }
    },
)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


class FakeProvider:
    """An HTTP server in a thread that records requests and plays back canned answers."""

    def __init__(self):
        self.received: list[Received] = []
        self.answers: list[tuple[int, object]] = [(200, {})]
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.received.append(
                    Received(
                        method="POST",
                        path=self.path,
                        headers=dict(self.headers.items()),
                        form=parse_qs(body.decode(), keep_blank_values=True, strict_parsing=True),
                    )
                )
                status, payload = fake.answers.pop(0) if len(fake.answers) > 1 else fake.answers[0]
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def answer(self, *answers: tuple[int, object]) -> None:
        """Answer with these in turn; the last one repeats."""
        self.answers = list(answers)


@pytest.fixture
def provider():
    fake = FakeProvider()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        fake.thread.join(timeout=5)


@pytest.fixture
def twilio(settings, provider):
    settings.SMS_BACKEND = TWILIO
    settings.TWILIO_API_BASE = provider.url + "/"
    settings.TWILIO_ACCOUNT_SID = "AC0123456789"
    settings.TWILIO_AUTH_TOKEN = "twilio-auth-token"
    settings.SMS_SENDER = "+15005550006"
    return provider


@pytest.fixture
def africastalking(settings, provider):
    settings.SMS_BACKEND = AFRICASTALKING
    settings.AFRICASTALKING_API_BASE = provider.url
    settings.AFRICASTALKING_USERNAME = "karoo"
    settings.AFRICASTALKING_API_KEY = "at-api-key"
    settings.SMS_SENDER = "civicdesk"  # the default: no sender id of our own
    return provider


@pytest.fixture
def text_a_code(make_user, django_capture_on_commit_callbacks, settings):
    """Send SMS_TEXT to PHONE through notify(), with three attempts at most."""
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    user = make_user(channel="sms", phone=PHONE, verified_phone=True)

    def send():
        with django_capture_on_commit_callbacks(execute=True):
            delivery = notify(user, "identity/verify_phone", CODE)
        delivery.refresh_from_db()
        return delivery

    return send


def test_twilio_request_matches_its_messages_api(twilio, text_a_code):
    twilio.answer(TWILIO_OK)
    delivery = text_a_code()

    (request,) = twilio.received
    assert (request.method, request.path) == (
        "POST",
        "/2010-04-01/Accounts/AC0123456789/Messages.json",
    )
    credentials = base64.b64encode(b"AC0123456789:twilio-auth-token").decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {"To": [PHONE], "From": ["+15005550006"], "Body": [SMS_TEXT]}
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 1, "")
    assert delivery.provider_message_id == "SM0123456789abcdef"


def test_twilio_carries_non_ascii_text_intact(twilio):
    twilio.answer(TWILIO_OK)
    sent = sms.get_backend().send(PHONE, "Показання прийнято: 123 м³ & більше")

    assert twilio.received[0].form["Body"] == ["Показання прийнято: 123 м³ & більше"]
    assert sent.provider_message_id == "SM0123456789abcdef"


@pytest.mark.parametrize("sender", ["civicdesk", "KAROO"])
def test_africastalking_request_matches_its_messaging_api(
    africastalking, text_a_code, settings, sender
):
    settings.SMS_SENDER = sender
    africastalking.answer(AT_OK)
    delivery = text_a_code()

    (request,) = africastalking.received
    assert (request.method, request.path) == ("POST", "/version1/messaging")
    assert request.headers["apiKey"] == "at-api-key"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected = {"username": ["karoo"], "to": [PHONE], "message": [SMS_TEXT]}
    if sender != "civicdesk":  # a registered sender id or short code goes in "from"
        expected["from"] = [sender]
    assert request.form == expected
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 1, "")
    assert delivery.provider_message_id == "ATXid_0123"


@pytest.mark.parametrize(
    ("backend", "answer", "error"),
    [
        (TWILIO, (500, {"message": "boom"}), 'SmsError: Twilio answered 500: {"message": "boom"}'),
        (TWILIO, (401, {"code": 20003}), "SmsError: Twilio answered 401"),
        (TWILIO, (201, b"<html>not json</html>"), "SmsError: Twilio sent no message sid"),
        (AFRICASTALKING, (500, {"error": "boom"}), "SmsError: Africa's Talking answered 500"),
        (
            AFRICASTALKING,
            (
                201,
                {
                    "SMSMessageData": {
                        "Message": "Sent to 0/1",
                        "Recipients": [
                            {"statusCode": 403, "number": PHONE, "status": "InvalidPhoneNumber"}
                        ],
                    }
                },
            ),
            f"SmsError: Africa's Talking refused {PHONE}: InvalidPhoneNumber",
        ),
        (
            AFRICASTALKING,
            (201, {"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}}),
            "SmsError: Africa's Talking sent no recipient",
        ),
    ],
    ids=[
        "twilio-500",
        "twilio-401",
        "twilio-not-json",
        "at-500",
        "at-refused",
        "at-no-recipient",
    ],
)
def test_an_error_answer_is_retried_then_failed_with_the_error(
    settings, provider, text_a_code, retry_countdowns, backend, answer, error
):
    settings.SMS_BACKEND = backend
    settings.TWILIO_API_BASE = settings.AFRICASTALKING_API_BASE = provider.url
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "token"
    provider.answer(answer)
    delivery = text_a_code()

    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.error.startswith(error)
    assert delivery.sent_at is None and delivery.provider_message_id == ""
    assert len(provider.received) == 3
    assert retry_countdowns == [30, 60]


@pytest.mark.parametrize("backend", [TWILIO, AFRICASTALKING])
def test_a_failure_then_success_is_sent_on_the_retry(
    settings, provider, text_a_code, retry_countdowns, backend
):
    settings.SMS_BACKEND = backend
    settings.TWILIO_API_BASE = settings.AFRICASTALKING_API_BASE = provider.url
    provider.answer((503, {"message": "busy"}), TWILIO_OK if backend == TWILIO else AT_OK)
    delivery = text_a_code()

    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 2, "")
    assert len(provider.received) == 2
    assert retry_countdowns == [30]


@pytest.mark.parametrize(
    ("backend", "name"), [(TWILIO, "Twilio"), (AFRICASTALKING, "Africa's Talking")]
)
def test_an_unreachable_provider_is_retried_then_failed(
    settings, text_a_code, retry_countdowns, backend, name
):
    settings.SMS_BACKEND = backend
    settings.TWILIO_API_BASE = settings.AFRICASTALKING_API_BASE = f"http://127.0.0.1:{free_port()}"
    delivery = text_a_code()

    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.error.startswith(f"SmsError: {name} unreachable:")
    assert retry_countdowns == [30, 60]


def test_the_console_backend_prints_and_logs_the_message(settings, text_a_code, capsys, caplog):
    settings.SMS_BACKEND = "civicdesk.notifications.sms.ConsoleSmsBackend"
    with caplog.at_level("INFO", logger="civicdesk.notifications.sms"):
        delivery = text_a_code()

    assert f"--- SMS to {PHONE} ---\n{SMS_TEXT}\n---" in capsys.readouterr().out
    assert f"SMS to {PHONE}: {SMS_TEXT}" in caplog.messages
    assert delivery.status == "sent"
    assert delivery.provider_message_id.startswith("console-")
