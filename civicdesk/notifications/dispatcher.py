"""Inbound SMS dispatch. Apps register handlers (e.g. meter readings); the first that answers wins.

A handler takes an `InboundSms` and returns a reply text, or None to pass. When nobody answers,
the sender gets the help text in their language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation


@dataclass(frozen=True)
class InboundSms:
    sender: str  # E.164 where it could be parsed, else as received
    text: str
    received_at: datetime
    provider: str
    user: object | None = None  # the user whose verified phone sent it, if any
    language: str = "en"


@dataclass(frozen=True)
class DispatchResult:
    reply: str
    handler: str


Handler = Callable[[InboundSms], str | None]


@dataclass(order=True)
class _Registered:
    priority: int
    name: str = field(compare=False)
    handler: Handler = field(compare=False)


_handlers: list[_Registered] = []


def register(name: str, handler: Handler, *, priority: int = 100) -> None:
    """Add (or replace) a handler. Lower priority numbers are asked first."""
    unregister(name)
    _handlers.append(_Registered(priority, name, handler))
    _handlers.sort()


def unregister(name: str) -> None:
    _handlers[:] = [h for h in _handlers if h.name != name]


def help_text(language: str) -> str:
    with translation.override(language):
        return render_to_string("notifications/sms_help.txt").strip()


def dispatch(message: InboundSms) -> DispatchResult:
    for registered in list(_handlers):
        with translation.override(message.language):
            reply = registered.handler(message)
        if reply:
            return DispatchResult(reply=reply, handler=registered.name)
    language = message.language if message.language in dict(settings.LANGUAGES) else "en"
    return DispatchResult(reply=help_text(language), handler="help")
