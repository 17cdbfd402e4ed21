"""Outbound SMS backends. The active one is settings.SMS_BACKEND (a dotted path)."""

from __future__ import annotations

import abc
import logging
import uuid
from dataclasses import dataclass

import requests
from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 15


class SmsError(RuntimeError):
    """The provider refused or could not be reached; the delivery is retried."""


@dataclass(frozen=True)
class SentSms:
    provider_message_id: str


class BaseSmsBackend(abc.ABC):
    """An SMS provider: `send` delivers one message or raises SmsError."""

    @abc.abstractmethod
    def send(self, to: str, body: str) -> SentSms: ...


class ConsoleSmsBackend(BaseSmsBackend):
    """Writes messages to the log: the default, so `make run` needs no provider."""

    def send(self, to: str, body: str) -> SentSms:
        log.info("SMS to %s: %s", to, body)
        print(f"--- SMS to {to} ---\n{body}\n---", flush=True)
        return SentSms(provider_message_id=f"console-{uuid.uuid4()}")


outbox: list[tuple[str, str]] = []


class LocmemSmsBackend(BaseSmsBackend):
    """Keeps messages in `outbox` for tests (like Django's locmem e-mail backend)."""

    def send(self, to: str, body: str) -> SentSms:
        outbox.append((to, body))
        return SentSms(provider_message_id=f"locmem-{len(outbox)}")


class TwilioSmsBackend(BaseSmsBackend):
    """Twilio Programmable Messaging: POST /2010-04-01/Accounts/{sid}/Messages.json."""

    def send(self, to: str, body: str) -> SentSms:
        sid = settings.TWILIO_ACCOUNT_SID
        url = f"{settings.TWILIO_API_BASE.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
        try:
            response = requests.post(
                url,
                data={"To": to, "From": settings.SMS_SENDER, "Body": body},
                auth=(sid, settings.TWILIO_AUTH_TOKEN),
                timeout=HTTP_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise SmsError(f"Twilio unreachable: {exc}") from exc
        if response.status_code >= 300:
            raise SmsError(f"Twilio answered {response.status_code}: {response.text[:300]}")
        try:
            sid = response.json()["sid"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SmsError(f"Twilio sent no message sid: {response.text[:300]}") from exc
        return SentSms(provider_message_id=str(sid))


class AfricasTalkingSmsBackend(BaseSmsBackend):
    """Africa's Talking bulk SMS: POST /version1/messaging with the apiKey header."""

    def send(self, to: str, body: str) -> SentSms:
        url = f"{settings.AFRICASTALKING_API_BASE.rstrip('/')}/version1/messaging"
        data = {"username": settings.AFRICASTALKING_USERNAME, "to": to, "message": body}
        if settings.SMS_SENDER and settings.SMS_SENDER != "civicdesk":
            data["from"] = settings.SMS_SENDER
        try:
            response = requests.post(
                url,
                data=data,
                headers={"apiKey": settings.AFRICASTALKING_API_KEY, "Accept": "application/json"},
                timeout=HTTP_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise SmsError(f"Africa's Talking unreachable: {exc}") from exc
        if response.status_code >= 300:
            raise SmsError(
                f"Africa's Talking answered {response.status_code}: {response.text[:300]}"
            )
        try:
            first = response.json()["SMSMessageData"]["Recipients"][0]
            status = first.get("status", "")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise SmsError(f"Africa's Talking sent no recipient: {response.text[:300]}") from exc
        if str(status).lower() != "success":
            raise SmsError(f"Africa's Talking refused {to}: {status}")
        return SentSms(provider_message_id=str(first.get("messageId", "")))


def get_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()
