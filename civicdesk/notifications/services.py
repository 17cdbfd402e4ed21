"""notify(): render a message in the user's language and send it on their channel."""

from __future__ import annotations

import contextlib
import mimetypes
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, NamedTuple

import phonenumbers
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.utils import timezone
from django.utils.text import get_valid_filename

from civicdesk.notifications import sms
from civicdesk.notifications.models import Delivery, InboundMessage
from civicdesk.notifications.rendering import render_html, render_text, supported_language

MAX_SMS_TEXT = 1600  # ten concatenated segments: more than any provider delivers as one message
ATTACHMENTS_DIR = "notifications/attachments"


class Attachment(NamedTuple):
    """A file sent with an e-mail; its type is taken from the name's extension."""

    filename: str
    content: bytes


def _language_for(user) -> str:
    return supported_language(getattr(user, "preferred_language", "") or settings.LANGUAGE_CODE)


def render_message(template_key: str, channel: str, language: str, context: dict[str, Any]):
    """(subject, text, html) rendered in `language`. Raises TemplateDoesNotExist if missing."""
    base = f"notifications/{template_key}"
    if channel == Delivery.Channel.SMS:
        return "", render_text(f"{base}.sms.txt", context, language).strip(), ""
    # A subject is one line: newlines would be refused by the mail library (header injection).
    subject = " ".join(render_text(f"{base}.subject.txt", context, language).split())
    text = render_text(f"{base}.email.txt", context, language).strip() + "\n"
    try:
        html = render_html(f"{base}.email.html", context, language)
    except TemplateDoesNotExist:
        html = ""
    return subject, text, html


def _attachments_folder(delivery: Delivery) -> str:
    return f"{ATTACHMENTS_DIR}/{delivery.pk}"


def _attachments_save(delivery: Delivery, attachments: Sequence[Attachment]) -> None:
    """Keep an e-mail's files in the default storage until it is sent: a delivery is sent by a
    worker (and retried) after the request or run that queued it has gone. The names keep
    their order ("00-bill.pdf", "01-…"). If the caller's transaction is rolled back, the
    files stay behind with no delivery (harmless, and rare: callers queue last)."""
    for index, attachment in enumerate(attachments):
        name = get_valid_filename(PurePosixPath(attachment.filename.replace("\\", "/")).name)
        default_storage.save(
            f"{_attachments_folder(delivery)}/{index:02d}-{name}", ContentFile(attachment.content)
        )


def _attachments_load(delivery: Delivery) -> list[tuple[str, bytes, str]]:
    """The delivery's files as (name, content, MIME type), in the order they were given."""
    folder = _attachments_folder(delivery)
    if not default_storage.exists(folder):
        return []
    _dirs, files = default_storage.listdir(folder)
    loaded = []
    for stored in sorted(files):
        with default_storage.open(f"{folder}/{stored}", "rb") as handle:
            content = handle.read()
        name = stored.split("-", 1)[1] if "-" in stored else stored
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        loaded.append((name, content, mime))
    return loaded


def _attachments_delete(delivery: Delivery) -> None:
    folder = _attachments_folder(delivery)
    if not default_storage.exists(folder):
        return
    for stored in default_storage.listdir(folder)[1]:
        default_storage.delete(f"{folder}/{stored}")
    try:  # a local disk keeps the emptied folder: remove it too
        path = default_storage.path(folder)
    except NotImplementedError:  # object stores have no folders
        return
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _queue(delivery: Delivery) -> None:
    """Send `delivery` through Celery once the surrounding transaction commits.

    robust=True: a broker that is down must not turn the caller's committed work into an error;
    the delivery row stays queued.
    """
    from civicdesk.notifications.tasks import deliver

    transaction.on_commit(lambda: deliver.delay(str(delivery.pk)), robust=True)


@transaction.atomic
def notify(
    user,
    template_key: str,
    context: dict[str, Any] | None = None,
    *,
    channel: str | None = None,
    recipient: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> Delivery:
    """Queue a message for `user` and send it once the surrounding transaction commits.

    The channel is the user's own (SMS only when their phone is verified) unless given. SMS falls
    back to e-mail when the template has no SMS version or there is no number to send to.
    `attachments` go with an e-mail (an SMS carries none).
    Raises TemplateDoesNotExist when the template is missing, ValueError on an unknown channel.
    """
    channel = channel or user.effective_channel
    if channel not in Delivery.Channel.values:
        raise ValueError(f"Unknown notification channel: {channel!r}")
    context = {"user": user, **(context or {})}
    language = _language_for(user)
    if channel == Delivery.Channel.SMS and recipient is None and not user.phone:
        channel = Delivery.Channel.EMAIL
    if channel == Delivery.Channel.SMS:
        try:
            subject, text, html = render_message(template_key, channel, language, context)
        except TemplateDoesNotExist:
            channel, recipient = Delivery.Channel.EMAIL, None
    if channel == Delivery.Channel.EMAIL:
        subject, text, html = render_message(template_key, channel, language, context)
    if recipient is None:
        recipient = str(user.phone) if channel == Delivery.Channel.SMS else user.email
    delivery = Delivery.objects.create(
        user=user if getattr(user, "pk", None) else None,
        template_key=template_key,
        channel=channel,
        language=language,
        recipient=recipient,
        subject=subject[:250],
        body=text,
        html_body=html,
    )
    if channel == Delivery.Channel.EMAIL and attachments:
        _attachments_save(delivery, attachments)
    _queue(delivery)
    return delivery


@transaction.atomic
def notify_contact(
    *,
    channel: str,
    recipient: str,
    template_key: str,
    context: dict[str, Any] | None = None,
    language: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> Delivery:
    """Like notify(), for a contact who is not a user (an account holder's e-mail or phone on
    file, an invited person). The language defaults to the operator's default; `attachments`
    go with an e-mail."""
    if channel not in Delivery.Channel.values:
        raise ValueError(f"Unknown notification channel: {channel!r}")
    if language is None:
        from civicdesk.registry.selectors import operator_get

        operator = operator_get()
        language = operator.default_language if operator else settings.LANGUAGE_CODE
    language = supported_language(language)
    subject, text, html = render_message(template_key, channel, language, context or {})
    delivery = Delivery.objects.create(
        template_key=template_key,
        channel=channel,
        language=language,
        recipient=recipient,
        subject=subject[:250],
        body=text,
        html_body=html,
    )
    if channel == Delivery.Channel.EMAIL and attachments:
        _attachments_save(delivery, attachments)
    _queue(delivery)
    return delivery


def delivery_send(*, delivery_id: str) -> Delivery:
    """Send one queued delivery through its channel's backend and count the attempt.

    Raises whatever the backend raised, after recording it on the row; the row is marked failed
    once NOTIFICATION_MAX_ATTEMPTS attempts have been made. Not atomic on purpose: the attempt is
    committed before the (slow, external) send, so it counts even if the process dies mid-send.
    """
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
        if delivery.status == Delivery.Status.SENT:
            return delivery
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    try:
        if delivery.channel == Delivery.Channel.SMS:
            provider_id = (
                sms.get_backend().send(delivery.recipient, delivery.body).provider_message_id
            )
        else:
            message = EmailMultiAlternatives(
                subject=delivery.subject,
                body=delivery.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[delivery.recipient],
                headers={"X-Civicdesk-Delivery": str(delivery.pk)},
            )
            if delivery.html_body:
                message.attach_alternative(delivery.html_body, "text/html")
            for name, content, mime in _attachments_load(delivery):
                message.attach(name, content, mime)
            message.send(fail_silently=False)
            provider_id = ""
    except Exception as exc:
        final = delivery.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS
        Delivery.objects.filter(pk=delivery.pk).update(
            error=f"{type(exc).__name__}: {exc}"[:2000],
            status=Delivery.Status.FAILED if final else Delivery.Status.QUEUED,
        )
        raise
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.SENT,
        sent_at=timezone.now(),
        error="",
        provider_message_id=provider_id[:120],
    )
    _attachments_delete(delivery)  # sent: the files were only kept for the sending
    delivery.refresh_from_db()
    return delivery


def _normalise_sender(sender: str) -> str:
    """E.164 when `sender` is a possible phone number (with or without its "+"), else as given."""
    raw = (sender or "").strip()
    try:
        number = phonenumbers.parse(raw if raw.startswith("+") else f"+{raw}", None)
    except phonenumbers.NumberParseException:
        return raw[:32]
    if not phonenumbers.is_possible_number(number):
        return raw[:32]
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@transaction.atomic
def sms_reply_send(*, to: str, body: str, language: str, user=None) -> Delivery:
    """Queue an SMS reply to a number (which may belong to nobody we know)."""
    delivery = Delivery.objects.create(
        user=user,
        template_key="sms/reply",
        channel=Delivery.Channel.SMS,
        language=language,
        recipient=to,
        body=body,
    )
    _queue(delivery)
    return delivery


@transaction.atomic
def inbound_sms_receive(
    *,
    provider: str,
    sender: str,
    text: str,
    received_at: datetime | None = None,
    reply_by_sms: bool = False,
) -> InboundMessage:
    """Log an inbound SMS, hand it to the dispatcher and keep the reply. Returns the log row.

    The reply is in the language of the user whose verified phone sent it, else the operator's
    default language. With `reply_by_sms` (providers that cannot reply in the webhook's answer)
    the reply is also queued as an SMS to a sender that is a phone number.
    """
    from civicdesk.notifications.dispatcher import InboundSms, dispatch
    from civicdesk.registry.selectors import operator_get

    # NUL cannot be stored in a PostgreSQL text column, and no handset sends one.
    sender_e164 = _normalise_sender((sender or "").replace("\x00", ""))
    text = (text or "").replace("\x00", "")
    is_number = sender_e164.startswith("+")
    user = (
        get_user_model()
        .objects.filter(phone=sender_e164, phone_verified_at__isnull=False, is_active=True)
        .order_by("pk")
        .first()
        if is_number
        else None
    )
    operator = operator_get()
    if user is not None:
        language = user.preferred_language
    elif operator is not None:
        language = operator.default_language
    else:
        language = settings.LANGUAGE_CODE
    language = supported_language(language)
    message = InboundSms(
        sender=sender_e164,
        text=text[:MAX_SMS_TEXT],
        received_at=received_at or timezone.now(),
        provider=provider,
        user=user,
        language=language,
        operator_name=operator.name if operator is not None else "",
    )
    result = dispatch(message)
    row = InboundMessage.objects.create(
        provider=provider,
        sender=sender_e164,
        text=message.text,
        received_at=message.received_at,
        reply=result.reply,
        handler=result.handler,
        user=user,
    )
    if reply_by_sms and is_number and result.reply:
        sms_reply_send(to=sender_e164, body=result.reply, language=language, user=user)
    return row
