"""Every write to call-centre calls: start, identify the caller, raise a case or add a note for
them, end with the handling time, reason, outcome and first-contact resolution.

A call belongs to its agent; an agent has at most one call open at a time (the agent's row is
locked while a call starts, so a double click cannot open two). Each later write locks the
call row and refuses a call that has ended. The handling time is from the start to the end
as the server saw them (talk, hold and wrap-up together)."""

from __future__ import annotations

import datetime as dt

import phonenumbers
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicdesk.cases.models import Call, Case, CaseEvent, Channel
from civicdesk.cases.services import Intake, case_create, case_note

Outcome = Call.Outcome
# Outcomes that leave something to do: a call ending so was not resolved at first contact.
FOLLOW_UP = frozenset({Outcome.CALLBACK, Outcome.TRANSFERRED, Outcome.DROPPED})
REASON_MAX = 200


def phone_normalise(text: str) -> str:
    """A phone number in E.164, read in the operator's country; "" for nothing. Anything that
    cannot be a phone number is refused."""
    from civicdesk.registry.selectors import operator_get

    text = " ".join((text or "").split())
    if not text:
        return ""
    operator = operator_get()
    region = operator.jurisdiction if operator else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise ValidationError({"caller_phone": _("This is not a phone number.")})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@transaction.atomic
def call_start(*, agent, caller_phone: str = "", now: dt.datetime | None = None) -> Call:
    """Open a call for `agent` now; refused while the agent has another call open."""
    phone = phone_normalise(caller_phone)
    get_user_model().objects.select_for_update().filter(pk=agent.pk).first()
    if Call.objects.filter(agent=agent, ended_at__isnull=True).exists():
        raise ValidationError(
            {"call": _("You are on a call already: end it before you start another.")}
        )
    return Call.objects.create(agent=agent, caller_phone=phone, started_at=now or timezone.now())


def _open(call: Call) -> Call:
    call = Call.objects.select_for_update().get(pk=call.pk)
    if call.ended_at is not None:
        raise ValidationError({"call": _("This call has ended.")})
    return call


@transaction.atomic
def call_identify(*, call: Call, caller=None, account_number: str = "") -> Call:
    """Record who is calling: a portal user, an account, or both."""
    call = _open(call)
    call.caller = caller
    call.account_number = (account_number or "")[:20]
    if caller is not None and not call.caller_phone and caller.phone:
        call.caller_phone = str(caller.phone)
    call.save(update_fields=["caller", "account_number", "caller_phone"])
    return call


@transaction.atomic
def call_case_create(*, call: Call, intake: Intake) -> Case:
    """Raise a case for the caller during the call: channel phone, the agent as the actor, the
    call linked to the case."""
    call = _open(call)
    intake.channel = Channel.PHONE
    intake.actor = call.agent
    case = case_create(intake)
    call.case = case
    fields = ["case"]
    if intake.requester is not None and call.caller_id is None:
        call.caller = intake.requester
        fields.append("caller")
    call.save(update_fields=fields)
    return case


@transaction.atomic
def call_case_note(*, call: Call, case: Case, text: str, public: bool = False) -> CaseEvent:
    """Add the agent's note to an existing case during the call, and link the call to it."""
    call = _open(call)
    event = case_note(case=case, actor=call.agent, text=text, public=public)
    call.case = case
    call.save(update_fields=["case"])
    return event


@transaction.atomic
def call_end(
    *,
    call: Call,
    reason: str,
    outcome: str,
    first_contact_resolution: bool = False,
    now: dt.datetime | None = None,
) -> Call:
    """End the call: handling time in whole seconds, why they called, how it ended and whether
    it was resolved at first contact (never so when it needs a follow-up)."""
    reason = " ".join((reason or "").split())
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Say briefly why they called.")]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [
            _("Keep the reason under %(count)d characters.") % {"count": REASON_MAX}
        ]
    if outcome not in Outcome.values:
        errors["outcome"] = [_("Choose how the call ended.")]
    elif first_contact_resolution and outcome in FOLLOW_UP:
        errors["first_contact_resolution"] = [
            _("A call that needs a follow-up was not resolved at first contact.")
        ]
    if errors:
        raise ValidationError(errors)
    call = _open(call)
    ended = max(now or timezone.now(), call.started_at)
    call.ended_at = ended
    call.handling_seconds = round((ended - call.started_at).total_seconds())
    call.reason = reason
    call.outcome = outcome
    call.first_contact_resolution = bool(first_contact_resolution)
    call.save(
        update_fields=[
            "ended_at",
            "handling_seconds",
            "reason",
            "outcome",
            "first_contact_resolution",
        ]
    )
    return call
