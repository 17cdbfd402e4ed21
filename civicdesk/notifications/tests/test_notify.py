"""notify(): channel and language choice, rendering, the delivery row, retries with backoff."""

from __future__ import annotations

import pytest
from celery import Signature
from celery.exceptions import Retry
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.utils import translation

from civicdesk.identity.models import User
from civicdesk.notifications import tasks
from civicdesk.notifications.models import Delivery
from civicdesk.notifications.services import delivery_send, notify

pytestmark = pytest.mark.django_db

CODE = {"code": "123456", "minutes": 15}

HELLO_TEMPLATES = {
    # "Yes" is in Django's own catalogues: en Yes, af Ja, uk Так, ru Да.
    "notifications/test/hello.subject.txt": "{% load i18n %}{% translate 'Yes' %}\nsecond line",
    "notifications/test/hello.email.txt": (
        "{% load i18n %}{% get_current_language as lang %}{{ lang }}: {% translate 'Yes' %}, "
        "{{ user.full_name }}"
    ),
    "notifications/test/hello.sms.txt": (
        "{% load i18n %}{% get_current_language as lang %}{{ lang }}: {% translate 'Yes' %}"
    ),
    "notifications/test/hello.email.html": "<p>{{ user.full_name }}</p>",
}


class FlakyEmailBackend(BaseEmailBackend):
    """Fails `failures_left` times, then delivers into `sent`."""

    failures_left = 0
    sent: list = []

    def send_messages(self, email_messages):
        if FlakyEmailBackend.failures_left > 0:
            FlakyEmailBackend.failures_left -= 1
            raise ConnectionError("mail relay down")
        FlakyEmailBackend.sent.extend(email_messages)
        return len(email_messages)


@pytest.fixture
def flaky_email(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyEmailBackend"
    FlakyEmailBackend.sent = []
    yield FlakyEmailBackend
    FlakyEmailBackend.failures_left = 0
    FlakyEmailBackend.sent = []


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (the Celery hand-off) at the end of the block, as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_email_user_gets_the_rendered_email_and_a_sent_delivery(make_user, mailoutbox, committed):
    user = make_user(full_name="Thandi Nkosi")
    with committed():
        delivery = notify(user, "identity/verify_email", CODE)

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [user.email]
    assert mail.subject == "Your civicdesk verification code"
    assert mail.body.startswith("Hello Thandi Nkosi,\n")
    assert "Your verification code is: 123456" in mail.body
    assert "It expires in 15 minutes." in mail.body
    assert mail.extra_headers["X-Civicdesk-Delivery"] == str(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.channel == Delivery.Channel.EMAIL
    assert delivery.recipient == user.email
    assert delivery.template_key == "identity/verify_email"
    assert delivery.user == user
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 1, "")
    assert delivery.sent_at is not None
    assert delivery.body == mail.body


def test_nothing_is_sent_before_the_transaction_commits(
    make_user, mailoutbox, django_capture_on_commit_callbacks
):
    user = make_user()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delivery = notify(user, "identity/verify_email", CODE)

    assert len(callbacks) == 1
    assert mailoutbox == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("queued", 0)


def test_a_rolled_back_transaction_sends_nothing_and_keeps_no_row(make_user, mailoutbox, committed):
    user = make_user()
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        notify(user, "identity/verify_email", CODE)
        raise RuntimeError("the caller's work failed")

    assert mailoutbox == []
    assert not Delivery.objects.exists()


def test_sms_user_with_a_verified_phone_gets_an_sms(make_user, sms_outbox, mailoutbox, committed):
    user = make_user(channel="sms", phone="+27821234567", verified_phone=True)
    with committed():
        delivery = notify(user, "identity/reset_password", CODE)

    assert sms_outbox == [
        (
            "+27821234567",
            "civicdesk password reset code: 123456. It expires in 15 minutes. "
            "If you did not ask, ignore this.",
        )
    ]
    assert mailoutbox == []
    delivery.refresh_from_db()
    assert (delivery.channel, delivery.recipient, delivery.subject) == ("sms", "+27821234567", "")
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert delivery.provider_message_id == "locmem-1"


@pytest.mark.parametrize(
    ("phone", "verified"),
    [("+27821234567", False), ("", True)],
    ids=["phone-not-verified", "no-phone"],
)
def test_sms_user_without_a_verified_phone_gets_email(
    make_user, sms_outbox, mailoutbox, committed, phone, verified
):
    user = make_user(channel="sms", phone=phone, verified_phone=verified)
    with committed():
        delivery = notify(user, "identity/reset_password", CODE)

    assert sms_outbox == []
    assert [m.to for m in mailoutbox] == [[user.email]]
    assert (delivery.channel, delivery.recipient) == ("email", user.email)


def test_sms_falls_back_to_email_when_the_template_has_no_sms_version(
    make_user, sms_outbox, mailoutbox, committed
):
    user = make_user(channel="sms", phone="+27821234567", verified_phone=True)
    with committed():
        delivery = notify(
            user, "identity/reset_password_link", {"link": "https://x.test/r/1", "minutes": 60}
        )

    assert sms_outbox == []
    assert len(mailoutbox) == 1 and "https://x.test/r/1" in mailoutbox[0].body
    assert (delivery.channel, delivery.recipient) == ("email", user.email)


def test_an_explicit_channel_and_recipient_are_honoured(make_user, sms_outbox, committed):
    # identity texts a code to a phone that is not verified yet: that is how it gets verified.
    user = make_user(channel="email", phone="+27821234567")
    with committed():
        delivery = notify(
            user, "identity/verify_phone", CODE, channel="sms", recipient="+27829999999"
        )

    assert sms_outbox == [("+27829999999", "civicdesk code: 123456. It expires in 15 minutes.")]
    assert (delivery.channel, delivery.recipient) == ("sms", "+27829999999")


@pytest.mark.parametrize(
    ("language", "yes"), [("en", "Yes"), ("af", "Ja"), ("uk", "Так"), ("ru", "Да")]
)
def test_messages_are_rendered_in_the_users_language(
    make_user, extra_templates, mailoutbox, sms_outbox, committed, language, yes
):
    extra_templates(HELLO_TEMPLATES)
    reader = make_user(language=language, full_name="Olena")
    texter = make_user(language=language, channel="sms", phone="+380671234567", verified_phone=True)
    with committed():
        email = notify(reader, "test/hello")
        text = notify(texter, "test/hello")

    assert mailoutbox[0].subject == f"{yes} second line"  # one line, whatever the template did
    assert mailoutbox[0].body == f"{language}: {yes}, Olena\n"
    assert sms_outbox == [("+380671234567", f"{language}: {yes}")]
    assert email.language == text.language == language
    assert translation.get_language() == "en"  # the caller's language is left as it was


@pytest.mark.parametrize("language", ["af", "uk", "ru"])
def test_the_real_templates_come_out_of_the_catalogue(
    make_user, mailoutbox, sms_outbox, committed, language
):
    reader = make_user(language=language, full_name="Olena")
    texter = make_user(language=language, channel="sms", phone="+380671234567", verified_phone=True)
    with committed():
        notify(reader, "identity/verify_email", CODE)
        notify(texter, "identity/reset_password", CODE)

    (mail,) = mailoutbox
    assert mail.subject and mail.subject != "Your civicdesk verification code"
    assert "Olena" in mail.body and "123456" in mail.body
    assert "Your verification code is" not in mail.body
    ((_phone, text),) = sms_outbox
    assert "123456" in text and not text.startswith("civicdesk password reset code")


def test_an_unsupported_language_falls_back_to_the_default(
    make_user, extra_templates, mailoutbox, committed
):
    extra_templates(HELLO_TEMPLATES)
    user = make_user()
    User.objects.filter(pk=user.pk).update(preferred_language="de")
    user.refresh_from_db()
    with committed():
        delivery = notify(user, "test/hello")

    assert delivery.language == "en"
    assert mailoutbox[0].body.startswith("en: Yes")


def test_plain_text_is_not_html_escaped_but_the_html_part_is(
    make_user, extra_templates, mailoutbox, committed
):
    extra_templates(HELLO_TEMPLATES)
    user = make_user(full_name="O'Brien & <Sons>")
    with committed():
        notify(user, "test/hello")
        notify(user, "identity/verify_email", CODE)

    hello, verify = mailoutbox
    assert hello.body.endswith("Yes, O'Brien & <Sons>\n")
    assert verify.body.startswith("Hello O'Brien & <Sons>,")
    assert hello.alternatives[0].content == "<p>O&#x27;Brien &amp; &lt;Sons&gt;</p>"
    assert hello.alternatives[0].mimetype == "text/html"


def test_a_missing_template_raises_and_records_nothing(make_user):
    with pytest.raises(TemplateDoesNotExist):
        notify(make_user(), "identity/no_such_message", CODE)
    assert not Delivery.objects.exists()


def test_an_unknown_channel_is_refused(make_user):
    with pytest.raises(ValueError, match="fax"):
        notify(make_user(), "identity/verify_email", CODE, channel="fax")
    assert not Delivery.objects.exists()


def test_a_failing_send_is_retried_with_backoff_until_it_succeeds(
    make_user, flaky_email, retry_countdowns, committed
):
    flaky_email.failures_left = 2
    with committed():
        delivery = notify(make_user(), "identity/verify_email", CODE)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 3, "")
    assert retry_countdowns == [30, 60]
    assert len(flaky_email.sent) == 1


def test_a_send_that_keeps_failing_ends_failed_with_the_error_and_attempts(
    make_user, flaky_email, retry_countdowns, committed, settings
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 4
    flaky_email.failures_left = 100
    with committed():
        delivery = notify(make_user(), "identity/verify_email", CODE)

    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.attempts == 4
    assert delivery.error == "ConnectionError: mail relay down"
    assert delivery.sent_at is None
    assert retry_countdowns == [30, 60, 120]
    assert flaky_email.sent == []


def test_backoff_doubles_from_thirty_seconds_and_stops_at_an_hour():
    assert [tasks.backoff_seconds(n) for n in range(1, 10)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]


def test_a_broker_that_is_down_leaves_the_delivery_queued_and_the_caller_unharmed(
    make_user, mailoutbox, committed, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("no broker")

    monkeypatch.setattr(tasks.deliver, "delay", broker_down)
    with committed():
        delivery = notify(make_user(), "identity/verify_email", CODE)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("queued", 0)
    assert mailoutbox == []


def test_a_sent_delivery_is_not_sent_twice(make_user, mailoutbox, committed):
    with committed():
        delivery = notify(make_user(), "identity/verify_email", CODE)
    again = delivery_send(delivery_id=str(delivery.pk))

    assert len(mailoutbox) == 1
    assert (again.status, again.attempts) == ("sent", 1)


def test_the_task_gives_up_quietly_on_a_delivery_that_does_not_exist():
    assert tasks.deliver.delay("00000000-0000-0000-0000-000000000000").get() == "failed"


def test_on_a_worker_a_failure_schedules_a_retry_after_the_backoff(
    make_user, flaky_email, monkeypatch, django_capture_on_commit_callbacks
):
    # Outside eager mode the task raises Retry and Celery re-queues it with the countdown.
    flaky_email.failures_left = 1
    with django_capture_on_commit_callbacks(execute=False):
        delivery = notify(make_user(), "identity/verify_email", CODE)
    scheduled = []
    monkeypatch.setattr(Signature, "apply_async", lambda sig, *a, **kw: scheduled.append(sig))
    tasks.deliver.push_request(
        id="worker-1",
        args=[str(delivery.pk)],
        kwargs={},
        retries=0,
        is_eager=False,
        called_directly=False,
    )
    try:
        with pytest.raises(Retry) as raised:
            tasks.deliver.run(str(delivery.pk))
    finally:
        tasks.deliver.pop_request()

    assert raised.value.when == 30
    assert [(s.args, s.options["countdown"], s.options["retries"]) for s in scheduled] == [
        ((str(delivery.pk),), 30, 1)
    ]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert delivery.error == "ConnectionError: mail relay down"
