"""Meter readings by SMS: the inbound dispatcher's handler, and the check it shares with the
staff preview (`api/sms.py`).

A message is read with the operator's grammar settings (`sms.parse`). One that is not meant as
readings at all (neither a keyword nor one of the operator's codes) is left to the other
handlers and the help text. Otherwise the message is checked (`message_check`): the account
exists, the sender may send for it (linked to it, or its holder's phone, unless the operator
accepts any sender), and each reading has a meter (a repeated code is the resource's next
meter, in serial-number order) with as many values as the meter has registers. Then the
meters' readings go to `services.readings_submit_many` together (rejected ones kept, with
their reasons) and the reply says, in the sender's language, what was accepted and exactly
what was not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civicdesk.metering import reasons, sms, validation
from civicdesk.metering.models import REGISTER_LABELS, Meter, Resource

log = logging.getLogger(__name__)

HANDLER_NAME = "meter-readings"
SOURCE = "sms"

# Codes of problems found beyond the grammar (the grammar's own are sms.ERRORS).
UNKNOWN_ACCOUNT = "unknown_account"
SENDER_NOT_LINKED = "sender_not_linked"
NO_METER = "no_meter"
VALUE_COUNT = "value_count"  # not as many values as the meter has registers
CODE_SET = "code_set"  # the operator's codes cannot be told apart (a settings problem)
NOT_SAVED = "not_saved"  # the service refused the values (ValidationError)


@dataclass(frozen=True)
class Problem:
    code: str
    message: str  # in the active language
    resource: str | None = None


@dataclass
class Item:
    """One reading of the message and the meter it is for (None when there is none)."""

    reading: sms.ParsedReading
    meter: Meter | None = None
    problem: Problem | None = None

    @property
    def values(self) -> dict[str, Decimal]:
        """Register → value, in the meter's registers (the message's when there is no meter)."""
        registers = self.reading.registers
        if self.meter is not None and len(self.meter.registers) == len(registers):
            registers = self.meter.registers
        return dict(zip(registers, self.reading.values, strict=True))


@dataclass
class Check:
    """What a message says and whether it can be taken: `refusals` spoil the whole message;
    each item's `problem` and the `errors` (codes the grammar could not read) spoil one
    reading each."""

    parsed: sms.ParsedMessage
    account: object | None = None  # registry PersonalAccount
    refusals: list[Problem] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    example: str = ""
    meter_counts: dict[str, int] = field(default_factory=dict)  # the account's, by resource


# --- reading and checking -------------------------------------------------------------------


def parse_text(text: str, settings) -> sms.ParsedMessage:
    """Read ``text`` with the operator's codes, grammars and keywords (CodeSetError when the
    codes cannot be told apart)."""
    return sms.parse(
        text,
        codes=settings.sms_codes or {},
        grammars=settings.sms_grammars or (),
        keywords=settings.sms_keywords or (),
    )


def message_check(
    parsed: sms.ParsedMessage,
    *,
    settings,
    sender: str | None = None,
    user=None,
    check_sender: bool = True,
) -> Check:
    """Everything the handler checks before it writes: the grammar's errors, the account, the
    sender (when ``check_sender`` and the operator does not accept any sender), a meter for each
    reading, the number of values. Reads only."""
    example = example_message(settings, parsed.account_number)
    check = Check(parsed=parsed, example=example)
    for error in parsed.errors:
        problem = Problem(error.code, error_text(error, settings, example), error.resource)
        if error.code in sms.MESSAGE_ERRORS:
            check.refusals.append(problem)
        else:
            check.errors.append(problem)
    check.items = [Item(reading) for reading in parsed.readings]
    if parsed.account_number is None:
        return check
    want_sender = check_sender and not settings.sms_any_sender
    account, meters, may_send = account_and_meters(
        parsed.account_number, sender=sender, user=user, check_sender=want_sender
    )
    if account is None:
        check.refusals.append(
            Problem(
                UNKNOWN_ACCOUNT,
                _("Account %(number)s was not found: check the number on your bill.")
                % {"number": parsed.account_number},
            )
        )
        return check
    check.account = account
    if want_sender and not may_send:
        check.refusals.append(
            Problem(
                SENDER_NOT_LINKED,
                _(
                    "This phone is not linked to account %(number)s: link the account in the "
                    "portal, or send from the phone number on the account."
                )
                % {"number": account.number},
            )
        )
    check.meter_counts = {resource: len(found) for resource, found in meters.items()}
    _meters_assign(check, meters)
    return check


def account_and_meters(
    number: str, *, sender: str | None = None, user=None, check_sender: bool = True
):
    """(account or None, its meters that take readings by resource, whether the sender may send
    for it) in one query (two when the account has no such meter).

    The meters: removed ones take no readings (faulty ones are told so by validation); each
    resource's in serial-number order, the order repeated codes count in. The sender may send
    when their verified ``user`` has an active link to the account or ``sender`` is the phone
    of one of its holders (without ``check_sender``: True)."""
    from civicdesk.registry.models import PersonalAccount

    checks = _sender_checks(sender, user) if check_sender else {}
    rows = list(
        Meter.objects.filter(account__number=number)
        .exclude(status=Meter.Status.REMOVED)
        .select_related("account")
        .annotate(**{name: make(Meter, "account") for name, make in checks.items()})
        .order_by("resource", "serial", "pk")
    )
    if rows:
        account, first = rows[0].account, rows[0]
    else:
        first = account = (
            PersonalAccount.objects.filter(number=number)
            .annotate(**{name: make(PersonalAccount, "id") for name, make in checks.items()})
            .first()
        )
        if account is None:
            return None, {}, False
    may_send = not checks or any(getattr(first, name) for name in checks)
    meters: dict[str, list[Meter]] = {}
    for meter in rows:
        meters.setdefault(meter.resource, []).append(meter)
    return account, meters, may_send


def _sender_checks(sender: str | None, user) -> dict:
    """Annotations telling whether the sender may send, each made by ``make(model, field)``
    for the query's model and its field that holds the account's key.

    Written as EXISTS (SELECT 1 ...) in SQL rather than with Exists(OuterRef(...)): the same
    query, built and compiled several times faster, and it runs for every inbound SMS."""
    from django.db.models import BooleanField, Value

    from civicdesk.registry.models import AccountHolder, AccountLink

    checks = {}
    if user is not None:
        checks["sms_linked"] = lambda model, field: _account_has(
            model, field, AccountLink, {"user": user.pk}, unset=("revoked_at",)
        )
    if sender and sender.startswith("+"):
        phone = AccountHolder._meta.get_field("phone").get_prep_value(sender)
        checks["sms_holder"] = lambda model, field: _account_has(
            model, field, AccountHolder, {"phone": phone}
        )
    if not checks:  # nobody to recognise: nobody may send (unless the operator allows anyone)
        checks["sms_nobody"] = lambda model, field: Value(False, output_field=BooleanField())
    return checks


def _account_has(model, field: str, related, equal: dict, unset: tuple[str, ...] = ()):
    """EXISTS a ``related`` row (with an ``account`` foreign key) for the account that
    ``model.field`` refers to, whose fields equal ``equal`` and whose ``unset`` fields are
    NULL."""
    from django.db import connection
    from django.db.models import BooleanField
    from django.db.models.expressions import RawSQL

    quote = connection.ops.quote_name
    meta = related._meta

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    outer = f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(field).column)}"
    conditions = [f"{column('account')} = {outer}"]
    conditions += [f"{column(name)} = %s" for name in equal]
    conditions += [f"{column(name)} IS NULL" for name in unset]
    where = " AND ".join(conditions)
    # Names from the models, values as parameters.
    sql = f"EXISTS (SELECT 1 FROM {quote(meta.db_table)} WHERE {where})"  # noqa: S608
    return RawSQL(sql, tuple(equal.values()), output_field=BooleanField())  # noqa: S611


def _meters_assign(check: Check, meters: dict[str, list[Meter]]) -> None:
    for item in check.items:
        reading = item.reading
        mine = meters.get(reading.resource, [])
        what = _resource_label(reading.resource)
        if reading.ordinal > len(mine):
            if not mine:
                text = _("There is no %(resource)s meter on this account.") % {
                    "resource": _lower_first(what)
                }
            else:
                text = ngettext(
                    "This account has only %(count)d %(resource)s meter.",
                    "This account has only %(count)d %(resource)s meters.",
                    len(mine),
                ) % {"count": len(mine), "resource": _lower_first(what)}
            item.problem = Problem(NO_METER, text, reading.resource)
            continue
        meter = mine[reading.ordinal - 1]
        item.meter = meter
        if len(reading.values) != len(meter.registers):
            labels = ", ".join(
                _lower_first(str(REGISTER_LABELS.get(r, r))) for r in meter.registers
            )
            item.problem = Problem(
                VALUE_COUNT,
                ngettext(
                    "%(meter)s: this meter takes %(count)d value (%(registers)s).",
                    "%(meter)s: this meter takes %(count)d values (%(registers)s), separated "
                    "by a space or /.",
                    len(meter.registers),
                )
                % {
                    "meter": _meter_label(item, check),
                    "count": len(meter.registers),
                    "registers": labels,
                },
                reading.resource,
            )


# --- the handler ----------------------------------------------------------------------------


def handle(message) -> str | None:
    """The reply to an inbound SMS (`notifications.dispatcher.InboundSms`), or None when it is
    not meant as meter readings."""
    from civicdesk.metering import selectors, services

    settings = selectors.metering_settings()
    if settings is None:
        return None
    try:
        parsed = parse_text(message.text, settings)
    except sms.CodeSetError:
        log.warning("The operator's SMS codes cannot be told apart: %s", settings.sms_codes)
        return None
    if not parsed.recognised:
        return None
    check = message_check(parsed, settings=settings, sender=message.sender, user=message.user)
    if check.refusals:
        return reply_text(check, [])

    def submit(item: Item):
        return services.readings_submit(
            meter=item.meter,
            values=item.values,
            source=SOURCE,
            submitted_by=message.user,
            keep_rejected=True,
            taken_at=message.received_at,
        )

    runnable = [item for item in check.items if item.problem is None and item.meter is not None]
    if not runnable:
        return reply_text(check, [])
    try:
        # All the message's meters at once: one lock, one read, one insert, one update.
        outcomes = services.readings_submit_many(
            items=[(item.meter, item.values) for item in runnable],
            source=SOURCE,
            submitted_by=message.user,
            keep_rejected=True,
            taken_at=message.received_at,
        )
    except ValidationError:
        # Nothing was written: each meter on its own, so one meter's refusal (its problem in
        # the reply) does not keep the others' readings out.
        return reply_text(check, items_run(check, submit))
    return reply_text(check, list(zip(runnable, outcomes, strict=True)))


def items_run(check: Check, action) -> list[tuple[Item, list]]:
    """``action(item)`` (submit or check) for each item without a problem: (item, outcomes);
    a ValidationError from the service becomes the item's problem."""
    results = []
    for item in check.items:
        if item.problem is not None or item.meter is None:
            continue
        try:
            results.append((item, action(item)))
        except ValidationError as exc:
            item.problem = Problem(
                NOT_SAVED,
                _("%(meter)s not accepted: %(reason)s")
                % {"meter": _meter_label(item, check), "reason": " ".join(exc.messages)},
                item.reading.resource,
            )
    return results


def reply_text(check: Check, results: list[tuple[Item, list]]) -> str:
    """The reply: the account, then each reading's fate in the message's order, then what the
    grammar could not read; or only why the whole message was refused."""
    if check.refusals:  # each names the account where it matters
        return _join(*(p.message for p in check.refusals))
    number = check.account.number if check.account is not None else check.parsed.account_number
    outcomes = {id(item): found for item, found in results}
    parts = []
    for item in check.items:
        if item.problem is not None:
            parts.append(item.problem.message)
        elif id(item) in outcomes:
            parts.append(outcomes_text(item, outcomes[id(item)], check))
    parts += [p.message for p in check.errors]
    return _join(_header(number), *parts)


def outcomes_text(item: Item, outcomes, check: Check | None = None) -> str:
    """What became of one meter's reading: one sentence when every register fared alike, else
    one per register."""
    label = _meter_label(item, check)
    typed = dict(zip(item.values, item.reading.typed or item.reading.values, strict=False))
    fates = {
        (o.verdict.status, reasons.reasons_text(o.verdict.reasons, o.verdict.details))
        for o in outcomes
    }
    if len(fates) == 1:
        value = "/".join(str(typed.get(o.register, "")) for o in outcomes)
        return _status_sentence(outcomes[0].verdict, label, value)
    sentences = []
    for outcome in outcomes:
        register = _lower_first(str(REGISTER_LABELS.get(outcome.register, outcome.register)))
        sentences.append(
            _status_sentence(
                outcome.verdict, f"{label} ({register})", str(typed.get(outcome.register, ""))
            )
        )
    return " ".join(sentences)


def _status_sentence(verdict: validation.Verdict, what: str, value: str) -> str:
    names = {"meter": what, "value": value}
    why = reasons.reasons_text(verdict.reasons, verdict.details)
    if verdict.status == validation.REJECTED:
        return _("%(meter)s %(value)s not accepted: %(reason)s") % {
            **names,
            "reason": _lower_first(why) or _("invalid."),
        }
    if verdict.status == validation.FLAGGED:
        text = _("%(meter)s %(value)s received; it will be checked before it is used.") % names
    else:
        text = _("%(meter)s %(value)s accepted.") % names
    return f"{text} {why}" if why else text


# --- texts ----------------------------------------------------------------------------------


def error_text(error: sms.ParseError, settings, example: str = "") -> str:
    """One of the grammar's errors in words, in the active language."""
    codes = ", ".join(codes_in_order(settings))
    what = _resource_label(error.resource) if error.resource else ""
    e = sms
    if error.code == e.EMPTY:
        return _("The message is empty.")
    if error.code == e.NO_ACCOUNT:
        if error.detail:
            return _("%(value)s is not an account number.") % {"value": error.detail} + (
                " " + _("Send, e.g.: %(example)s") % {"example": example} if example else ""
            )
        return _("Start the message with your account number.") + (
            " " + _("Send, e.g.: %(example)s") % {"example": example} if example else ""
        )
    if error.code == e.NO_READINGS:
        return _("No readings found.") + (
            " " + _("Send, e.g.: %(example)s") % {"example": example} if example else ""
        )
    if error.code == e.FORMAT_NOT_ACCEPTED:
        return _("Messages written this way are not accepted here.") + (
            " " + _("Send, e.g.: %(example)s") % {"example": example} if example else ""
        )
    if error.code == e.UNKNOWN_CODE:
        return _("Unknown code %(code)s (the codes are %(codes)s).") % {
            "code": error.detail,
            "codes": codes,
        }
    if error.code == e.MISSING_VALUE:
        return _("%(code)s has no reading after it.") % {"code": error.detail}
    if error.code == e.BAD_NUMBER:
        return _("%(meter)s: %(value)s is not a number.") % {"meter": what, "value": error.detail}
    if error.code == e.TOO_MANY_VALUES:
        return _("%(code)s: too many numbers (at most %(count)d, one per register).") % {
            "code": error.detail,
            "count": e.MAX_VALUES,
        }
    if error.code == e.STRAY_VALUE:
        return _("%(value)s: which meter is it for? Put the code before it.") % {
            "value": error.detail
        }
    return error.code  # pragma: no cover - every code is named above


def example_message(settings, account_number: str | None = None) -> str:
    """A message in the operator's first accepted grammar with its first two codes."""
    codes = settings.sms_codes or {}
    grammars = [g for g in sms.GRAMMARS if g in (settings.sms_grammars or ())]
    if not codes or not grammars:
        return ""
    try:
        readings = [(code, [str(11 + n)]) for n, code in enumerate(codes_in_order(settings)[:2])]
        return sms.format_message(account_number or "12345", readings, grammars[0], codes)
    except ValueError:
        return ""


def codes_in_order(settings) -> list[str]:
    """The operator's codes in the resources' order (cold water, hot water, electricity, gas,
    heat), whatever order the database keeps them in."""
    order = {resource: n for n, resource in enumerate(Resource.values)}
    codes = settings.sms_codes or {}
    return sorted(codes, key=lambda code: (order.get(codes[code], len(order)), str(code)))


def _resource_label(resource: str | None) -> str:
    return str(dict(Resource.choices).get(resource, resource or ""))


def _meter_label(item: Item, check: Check | None = None) -> str:
    """The resource, and which of its meters when the account has several or the message
    names a second one."""
    label = _resource_label(item.reading.resource)
    several = check is not None and check.meter_counts.get(item.reading.resource, 0) > 1
    if item.reading.ordinal > 1 or several:
        return _("%(resource)s, meter %(ordinal)d") % {
            "resource": label,
            "ordinal": item.reading.ordinal,
        }
    return label


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _header(number: str | None) -> str:
    return _("Account %(number)s:") % {"number": number} if number else ""


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def register() -> None:
    from civicdesk.notifications.dispatcher import register as dispatcher_register

    dispatcher_register(HANDLER_NAME, handle, priority=10)
