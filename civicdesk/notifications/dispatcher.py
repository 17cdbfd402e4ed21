"""Inbound SMS dispatch. Apps register handlers (e.g. meter readings); the first that answers wins.

A handler takes an `InboundSms` and returns a reply text, or None to pass. It runs with the
sender's language active, inside a savepoint: a handler that raises has its writes rolled back,
is logged, and the next handler is asked. When nobody answers, the sender gets the help text in
their language, naming the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import translation

from civicdesk.notifications.rendering import render_text, supported_language

log = logging.getLogger(__name__)

HELP_TEMPLATE = "notifications/sms_help.txt"


@dataclass(frozen=True)
class InboundSms:
    sender: str  # E.164 where it could be parsed, else as received
    text: str
    received_at: datetime
    provider: str
    user: object | None = None  # the user whose verified phone sent it, if any
    language: str = "en"
    operator_name: str = ""


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


def help_text(language: str, operator_name: str = "") -> str:
    """The help SMS in `language`, naming the operator (or "civicdesk" when there is none)."""
    return render_text(
        HELP_TEMPLATE, {"operator_name": operator_name}, supported_language(language)
    ).strip()


def _ask(registered: _Registered, message: InboundSms, language: str) -> str:
    try:
        with transaction.atomic(), translation.override(language):
            reply = registered.handler(message)
            # str() inside the override: a lazy translation resolves in the sender's language.
            return str(reply).strip() if reply else ""
    except Exception:
        log.exception("SMS handler %r failed on a message from %s", registered.name, message.sender)
        return ""


def dispatch(message: InboundSms) -> DispatchResult:
    language = supported_language(message.language)
    for registered in list(_handlers):
        reply = _ask(registered, message, language)
        if reply:
            return DispatchResult(reply=reply, handler=registered.name)
    return DispatchResult(reply=help_text(language, message.operator_name), handler="help")
