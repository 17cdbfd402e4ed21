"""notify(): render a message in the user's language and send it on their channel."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone, translation

from civicdesk.notifications import sms
from civicdesk.notifications.models import Delivery

SUPPORTED = {code for code, _name in settings.LANGUAGES}


def _language_for(user) -> str:
    language = getattr(user, "preferred_language", "") or settings.LANGUAGE_CODE
    return language if language in SUPPORTED else settings.LANGUAGE_CODE


def render_message(template_key: str, channel: str, language: str, context: dict[str, Any]):
    """(subject, text, html) rendered in `language`. Raises TemplateDoesNotExist if missing."""
    base = f"notifications/{template_key}"
    with translation.override(language):
        if channel == Delivery.Channel.SMS:
            return "", render_to_string(f"{base}.sms.txt", context).strip(), ""
        subject = " ".join(render_to_string(f"{base}.subject.txt", context).split())
        text = render_to_string(f"{base}.email.txt", context).strip() + "\n"
        try:
            html = render_to_string(f"{base}.email.html", context)
        except TemplateDoesNotExist:
            html = ""
        return subject, text, html


def notify(
    user,
    template_key: str,
    context: dict[str, Any] | None = None,
    *,
    channel: str | None = None,
    recipient: str | None = None,
) -> Delivery:
    """Queue a message for `user` and send it once the surrounding transaction commits.

    The channel is the user's own (SMS only when their phone is verified) unless given.
    A missing SMS template falls back to e-mail.
    """
    context = {"user": user, **(context or {})}
    language = _language_for(user)
    channel = channel or user.effective_channel
    if channel == Delivery.Channel.SMS:
        try:
            subject, text, html = render_message(template_key, channel, language, context)
        except TemplateDoesNotExist:
            channel = Delivery.Channel.EMAIL
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
    from civicdesk.notifications.tasks import deliver

    transaction.on_commit(lambda: deliver.delay(str(delivery.pk)))
    return delivery


def delivery_send(*, delivery_id: str) -> Delivery:
    """Send one queued delivery through its channel's backend. Raises on failure."""
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
        provider_message_id=provider_id,
    )
    delivery.refresh_from_db()
    return delivery


def _normalise_sender(sender: str) -> str:
    import phonenumbers

    raw = (sender or "").strip()
    try:
        number = phonenumbers.parse(raw if raw.startswith("+") else f"+{raw}", None)
    except phonenumbers.NumberParseException:
        return raw[:32]
    if not phonenumbers.is_possible_number(number):
        return raw[:32]
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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
    from civicdesk.notifications.tasks import deliver

    transaction.on_commit(lambda: deliver.delay(str(delivery.pk)))
    return delivery


@transaction.atomic
def inbound_sms_receive(*, provider: str, sender: str, text: str, received_at=None):
    """Log an inbound SMS, hand it to the dispatcher and keep the reply. Returns the log row."""
    from django.contrib.auth import get_user_model

    from civicdesk.notifications.dispatcher import InboundSms, dispatch
    from civicdesk.notifications.models import InboundMessage
    from civicdesk.registry.selectors import operator_get

    sender_e164 = _normalise_sender(sender)
    user = (
        get_user_model()
        .objects.filter(phone=sender_e164, phone_verified_at__isnull=False, is_active=True)
        .first()
    )
    operator = operator_get()
    language = (
        user.preferred_language
        if user is not None
        else (operator.default_language if operator else settings.LANGUAGE_CODE)
    )
    message = InboundSms(
        sender=sender_e164,
        text=(text or "")[:1600],
        received_at=received_at or timezone.now(),
        provider=provider,
        user=user,
        language=language,
    )
    result = dispatch(message)
    return InboundMessage.objects.create(
        provider=provider,
        sender=sender_e164,
        text=message.text,
        received_at=message.received_at,
        reply=result.reply,
        handler=result.handler,
        user=user,
    ), language
