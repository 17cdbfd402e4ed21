"""E-mail through Django's SMTP backend to a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
from email import policy

import pytest
from aiosmtpd.controller import Controller

from civicdesk.notifications.services import notify
from civicdesk.notifications.tests.conftest import free_port

pytestmark = pytest.mark.django_db

CODE = {"code": "654321", "minutes": 15}
REFUSED = "nobody@example.org"


class RecordingHandler:
    """Accepts every recipient but REFUSED and keeps what it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == REFUSED:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free local port, with Django's SMTP backend pointed at it."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "Karoo Water <no-reply@karoo.example>"
    try:
        yield handler
    finally:
        controller.stop()


def read_back(envelope) -> email.message.EmailMessage:
    return email.message_from_bytes(envelope.original_content, policy=policy.default)


def test_a_notification_arrives_at_the_smtp_server_intact(
    make_user, smtp_server, django_capture_on_commit_callbacks
):
    user = make_user(full_name="Олена Коваль", email="olena@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        delivery = notify(user, "identity/verify_email", CODE)

    (envelope,) = smtp_server.envelopes
    assert envelope.mail_from == "no-reply@karoo.example"
    assert envelope.rcpt_tos == ["olena@example.org"]
    message = read_back(envelope)
    assert message["To"] == "olena@example.org"
    assert message["From"] == "Karoo Water <no-reply@karoo.example>"
    assert message["Subject"] == "Your civicdesk verification code"
    assert message["X-Civicdesk-Delivery"] == str(delivery.pk)
    body = message.get_content().replace("\r\n", "\n")  # SMTP carries CRLF line ends
    assert body.startswith("Hello Олена Коваль,\n")
    assert "Your verification code is: 654321" in body
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 1, "")


def test_an_html_alternative_travels_as_multipart_alternative(
    make_user, smtp_server, extra_templates, django_capture_on_commit_callbacks
):
    extra_templates(
        {
            "notifications/test/hello.subject.txt": "Hello",
            "notifications/test/hello.email.txt": "Hello {{ user.full_name }}",
            "notifications/test/hello.email.html": "<p>Hello {{ user.full_name }}</p>",
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        notify(make_user(full_name="Pieter & Co"), "test/hello")

    message = read_back(smtp_server.envelopes[0])
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert text.strip() == "Hello Pieter & Co"
    assert html.strip() == "<p>Hello Pieter &amp; Co</p>"


def test_a_refused_recipient_is_retried_then_failed_with_the_servers_answer(
    make_user, smtp_server, settings, retry_countdowns, django_capture_on_commit_callbacks
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    with django_capture_on_commit_callbacks(execute=True):
        delivery = notify(make_user(email=REFUSED), "identity/verify_email", CODE)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.error.startswith("SMTPRecipientsRefused:")
    assert "No such user here" in delivery.error
    assert retry_countdowns == [30, 60]
    assert smtp_server.envelopes == []


def test_an_unreachable_smtp_server_is_retried_then_failed(
    make_user, settings, retry_countdowns, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    with django_capture_on_commit_callbacks(execute=True):
        delivery = notify(make_user(), "identity/verify_email", CODE)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert delivery.error.startswith("ConnectionRefusedError:")
    assert retry_countdowns == [30]
