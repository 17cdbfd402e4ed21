"""Every write to metering: readings, reviews, estimates, meters, alerts and reminders.

Each service runs in one atomic block and locks the meter it changes, so two submissions for
one meter are decided one after the other against the register state the first one left.
The rules themselves live in the pure modules (`validation`, `state`, `estimation`,
`anomaly`); this module loads their inputs, calls them and stores what they decide.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from civicdesk.core.audit import audit_record
from civicdesk.core.bulk import bulk_insert
from civicdesk.metering import anomaly, estimation, reasons, selectors, state, validation
from civicdesk.metering.models import (
    DEFAULT_UNITS,
    READING_BULK_FIELDS,
    REGISTER_LABELS,
    REGISTERS,
    ConsumptionAlert,
    EstimateTrueUp,
    Meter,
    MeteringSettings,
    MeterRegister,
    Rates,
    Reading,
    Resource,
)

log = logging.getLogger(__name__)

PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP"}
WATER = {Resource.COLD_WATER, Resource.HOT_WATER}
AUDIT_READING_ENTERED = "reading.entered"
AUDIT_READING_REVIEWED = "reading.reviewed"
AUDIT_METER_CHANGED = "meter.changed"


# --- outcomes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One register's result: the verdict, the saved reading (None for checks and unsaved
    rejections) and the verdict in words, in the active language."""

    register: str
    verdict: validation.Verdict
    reading: Reading | None
    message: str

    @property
    def status(self) -> str:
        return self.verdict.status

    @property
    def ok(self) -> bool:
        return self.verdict.ok


class ReadingsRejected(Exception):
    """A register's reading was rejected and the caller keeps nothing: nothing was written.
    ``outcomes`` has every register's verdict (the good ones too, so a form can say which);
    ``groups`` the same per meter (`readings_submit_many`'s items)."""

    def __init__(self, outcomes: list[Outcome], groups: list[list[Outcome]] | None = None):
        self.outcomes = outcomes
        self.groups = groups if groups is not None else [outcomes]
        super().__init__("; ".join(f"{o.register}: {o.message}" for o in outcomes if not o.ok))


def verdict_message(verdict: validation.Verdict) -> str:
    """The verdict in words: its status, then each reason's sentence."""
    status = reasons.status_text(verdict.status)
    text = reasons.reasons_text(verdict.reasons, verdict.details)
    return f"{status}. {text}" if text else f"{status}."


# --- inputs ---------------------------------------------------------------------------------


def _registers_given(meter: Meter, values: dict) -> dict[str, object]:
    """``values`` by register, every register of the meter present and no other; else a
    ValidationError naming the register."""
    if not isinstance(values, dict):
        raise ValidationError({"values": _("Give a reading for each register of the meter.")})
    given = {str(key).strip().upper(): value for key, value in values.items()}
    errors: dict[str, str] = {}
    for key in given:
        if key not in meter.registers:
            errors[key or "register"] = _("This meter has no register %(register)s.") % {
                "register": key
            }
    for register in meter.registers:
        raw = given.get(register)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            errors[register] = _("Give the reading of register %(register)s (%(label)s).") % {
                "register": register,
                "label": REGISTER_LABELS.get(register, register),
            }
    if errors:
        raise ValidationError(errors)
    return {register: given[register] for register in meter.registers}


def photo_check(photo) -> None:
    """A meter photo must be a JPEG, PNG or WebP image of at most 10 MB, judged by Pillow
    reading it, never by its name; else a ValidationError naming ``photo``."""
    from PIL import Image, UnidentifiedImageError

    size = getattr(photo, "size", None)
    if not size:
        raise ValidationError({"photo": _("The photo is empty.")})
    if size > PHOTO_MAX_BYTES:
        raise ValidationError(
            {
                "photo": _("The photo is too large: at most %(mb)d MB.")
                % {"mb": PHOTO_MAX_BYTES // (1024 * 1024)}
            }
        )
    try:
        photo.seek(0)
        with Image.open(photo) as image:
            kind = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        kind = None
    finally:
        photo.seek(0)
    if kind not in PHOTO_FORMATS:
        raise ValidationError(
            {"photo": _("The photo must be a JPEG, PNG or WebP image of the meter's dial.")}
        )


def _source_checked(source: str) -> None:
    if source not in Reading.Source.values or source == Reading.Source.ESTIMATE:
        raise ValidationError({"source": _("Unknown source of a reading.")})


def _settings_and_rules():
    settings = selectors.metering_settings()
    return settings, selectors.validation_rules(settings)


def meter_facts(meter: Meter) -> validation.MeterFacts:
    return validation.MeterFacts(
        digits=meter.digits,
        multiplier=meter.multiplier,
        status=meter.status,
        installed_on=meter.installed_on,
    )


def register_state(row: MeterRegister | None) -> validation.RegisterState:
    """The pure validation state of a stored register (an empty one for a new register)."""
    if row is None:
        return validation.RegisterState()
    return validation.RegisterState(
        last_value=row.last_value,
        last_taken_at=row.last_taken_at,
        last_real_value=row.last_real_value,
        last_real_taken_at=row.last_real_taken_at,
        recent=state.recent_values(state.recent_from_json(row.recent)),
        estimated_periods=row.estimated_periods,
        estimated_quantity=row.estimated_quantity,
    )


def _store_state(row: MeterRegister, new: validation.RegisterState, period: date) -> None:
    row.last_value = new.last_value
    row.last_taken_at = new.last_taken_at
    row.last_real_value = new.last_real_value
    row.last_real_taken_at = new.last_real_taken_at
    row.estimated_periods = new.estimated_periods
    row.estimated_quantity = new.estimated_quantity
    if row.last_period is None or period > row.last_period:
        row.last_period = period


def _register_rows(meter: Meter, *, create: bool) -> dict[str, MeterRegister]:
    rows = {row.register: row for row in MeterRegister.objects.filter(meter=meter)}
    if create:
        for register in meter.registers:
            if register not in rows:
                rows[register] = MeterRegister.objects.create(meter=meter, register=register)
    return rows


def _local_day(taken_at: datetime) -> date:
    return taken_at.astimezone(selectors.operator_timezone()).date()


def _aware(taken_at: datetime | None, now: datetime) -> datetime:
    if taken_at is None:
        return now
    if not isinstance(taken_at, datetime):
        raise ValidationError({"taken_at": _("Give the date and time the reading was taken.")})
    if timezone.is_naive(taken_at):
        taken_at = taken_at.replace(tzinfo=selectors.operator_timezone())
    return taken_at


def _verdicts(
    meter, given, taken_at, now, rows, rules, local_day: date | None = None
) -> list[tuple[str, validation.Verdict]]:
    facts = meter_facts(meter)
    local_day = local_day or _local_day(taken_at)
    return [
        (
            register,
            validation.validate(
                raw_value=raw,
                taken_at=taken_at,
                local_day=local_day,
                now=now,
                facts=facts,
                state=register_state(rows.get(register)),
                rules=rules,
            ),
        )
        for register, raw in given.items()
    ]


# --- readings -------------------------------------------------------------------------------


def readings_check(
    *, meter: Meter, values: dict[str, object], taken_at=None, source: str
) -> list[Outcome]:
    """Validate a reading of each register without writing anything (instant feedback)."""
    _source_checked(source)
    given = _registers_given(meter, values)
    now = timezone.now()
    taken_at = _aware(taken_at, now)
    _settings, rules = _settings_and_rules()
    rows = _register_rows(meter, create=False)
    return [
        Outcome(register, verdict, None, verdict_message(verdict))
        for register, verdict in _verdicts(meter, given, taken_at, now, rows, rules)
    ]


@transaction.atomic
def readings_submit(
    *,
    meter: Meter,
    values: dict[str, object],
    taken_at=None,
    source: str,
    submitted_by=None,
    photo=None,
    keep_rejected: bool = False,
) -> list[Outcome]:
    """Validate and store a reading of each register of ``meter``.

    Accepted readings move the register state; flagged ones are stored for review and move
    it only once accepted; rejected ones are stored with their reasons when ``keep_rejected``
    (SMS, staff), otherwise any rejection raises ReadingsRejected and nothing is written.
    A real reading after estimates records the true-up; high use raises a consumption alert
    (and a possible-leak case where the operator wants one). The one-meter case of
    `readings_submit_many`.
    """
    return _submit_many(
        items=[(meter, values)],
        taken_at=taken_at,
        source=source,
        submitted_by=submitted_by,
        photo=photo,
        keep_rejected=keep_rejected,
    )[0]


@transaction.atomic
def readings_submit_many(
    *,
    items: list[tuple[Meter, dict[str, object]]],
    taken_at=None,
    source: str,
    submitted_by=None,
    keep_rejected: bool = False,
    photo=None,
) -> list[list[Outcome]]:
    """`readings_submit` for several meters read at once (one SMS names an account's meters):
    ``items`` is (meter, register → value) per meter; returns each item's outcomes, in order.

    One transaction, set-based: the meters are locked in one query (in primary-key order),
    their register states read in one, every verdict decided in memory, the readings inserted
    with one statement and the registers updated with one. The same rules as one meter at a
    time, in the items' order (a meter named twice is validated the second time against what
    the first left). Before anything is written: an item's ValidationError (the first one's)
    is raised; without ``keep_rejected`` any rejected register raises ReadingsRejected with
    every item's outcomes (``.groups``: per item). ``photo`` is stored with every reading."""
    return _submit_many(
        items=items,
        taken_at=taken_at,
        source=source,
        submitted_by=submitted_by,
        photo=photo,
        keep_rejected=keep_rejected,
    )


@dataclass
class _Planned:
    """One register's reading decided in memory, before anything is written."""

    register: str
    verdict: validation.Verdict
    reading: Reading
    before: validation.RegisterState


REGISTER_STATE_FIELDS = (
    "last_value",
    "last_taken_at",
    "last_period",
    "last_real_value",
    "last_real_taken_at",
    "estimated_periods",
    "estimated_quantity",
    "recent",
)


def _submit_many(
    *,
    items,
    taken_at,
    source,
    submitted_by,
    photo,
    keep_rejected,
    spike_check: bool = True,
    allow_faulty: bool = False,
) -> list[list[Outcome]]:
    _source_checked(source)
    if photo is not None:
        photo_check(photo)
    items = list(items)
    if not items:
        return []
    locked = _meters_lock([meter for meter, _values in items])
    meters = [locked[meter.pk] for meter, _values in items]
    givens = [
        _registers_given(meter, values) for meter, (_m, values) in zip(meters, items, strict=True)
    ]
    now = timezone.now()
    taken_at = _aware(taken_at, now)
    settings, rules = _settings_and_rules()
    if not spike_check:
        rules = replace(rules, spike_min_months=sys.maxsize)
    rows = _register_rows_many(list(locked.values()))
    if allow_faulty:  # in memory: a faulty meter's last values are read all the same
        for meter in locked.values():
            if meter.status == Meter.Status.FAULTY:
                meter.status = Meter.Status.ACTIVE

    # Every verdict in memory, each item against the state the ones before it left.
    local_day = _local_day(taken_at)
    plans: list[list[_Planned]] = []
    moved: dict[int, MeterRegister] = {}
    for meter, given in zip(meters, givens, strict=True):
        mine = rows[meter.pk]
        planned = []
        for register, verdict in _verdicts(meter, given, taken_at, now, mine, rules, local_day):
            row = mine[register]
            reading = _reading_make(meter, register, verdict, taken_at, source, submitted_by, now)
            planned.append(_Planned(register, verdict, reading, register_state(row)))
            if verdict.status == validation.ACCEPTED:
                _state_apply(row, reading)
                moved[row.pk] = row
        plans.append(planned)
    if not keep_rejected and any(not p.verdict.ok for planned in plans for p in planned):
        groups = [
            [Outcome(p.register, p.verdict, None, verdict_message(p.verdict)) for p in planned]
            for planned in plans
        ]
        raise ReadingsRejected([o for group in groups for o in group], groups=groups)

    # Then the writes: the readings in one statement, the registers in one.
    readings = [p.reading for planned in plans for p in planned]
    if photo is not None:
        readings[0].photo.save(_photo_name(photo), photo, save=False)
        for reading in readings[1:]:
            reading.photo.name = readings[0].photo.name
    _insert_all(Reading, readings)
    if moved:
        _registers_update(REGISTER_STATE_FIELDS, [_register_params(row) for row in moved.values()])
    true_ups = [
        _true_up(p.reading, p.verdict, meter)
        for meter, planned in zip(meters, plans, strict=True)
        for p in planned
        if p.verdict.status == validation.ACCEPTED and p.verdict.true_up is not None
    ]
    if true_ups:
        EstimateTrueUp.objects.bulk_create(true_ups)

    results = []
    for meter, planned in zip(meters, plans, strict=True):
        accepted = [
            (p.reading, p.before) for p in planned if p.verdict.status == validation.ACCEPTED
        ]
        if accepted:
            _high_use_check(meter, accepted, settings, rows[meter.pk])
        outcomes = [
            Outcome(p.register, p.verdict, p.reading, verdict_message(p.verdict)) for p in planned
        ]
        if source == Reading.Source.STAFF and submitted_by is not None:
            audit_record(
                AUDIT_READING_ENTERED,
                actor=submitted_by,
                meter=str(meter.public_id),
                readings=[str(o.reading.public_id) for o in outcomes],
                statuses=[o.verdict.status for o in outcomes],
            )
        results.append(outcomes)
    return results


def _meters_lock(given: list[Meter]) -> dict[int, Meter]:
    """The meters read again and locked (in primary-key order: two writers locking several
    meters cannot wait for each other), by primary key; Meter.DoesNotExist if one is gone.
    The account is taken from the meter given when that has it loaded and it is still the
    meter's account; else it is read when needed."""
    ids = {meter.pk for meter in given}
    locked = {
        meter.pk: meter
        for meter in Meter.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    }
    if len(locked) != len(ids):
        raise Meter.DoesNotExist("Meter matching query does not exist.")
    account_field = Meter._meta.get_field("account")
    for meter in given:
        fresh = locked[meter.pk]
        if (
            account_field.is_cached(meter)
            and not account_field.is_cached(fresh)
            and meter.account_id == fresh.account_id
        ):
            fresh.account = meter.account
    return locked


def _register_rows_many(meters: list[Meter]) -> dict[int, dict[str, MeterRegister]]:
    """Each meter's register rows (meter pk → register → row) in one query; the rows a meter
    lacks are made."""
    rows: dict[int, dict[str, MeterRegister]] = {meter.pk: {} for meter in meters}
    for row in MeterRegister.objects.filter(meter_id__in=list(rows)):
        rows[row.meter_id][row.register] = row
    missing = [
        MeterRegister(meter=meter, register=register)
        for meter in meters
        for register in meter.registers
        if register not in rows[meter.pk]
    ]
    for row in _insert_all(MeterRegister, missing):
        rows[row.meter_id][row.register] = row
    return rows


def _insert_all(model, objects: list) -> list:
    """Insert ``objects`` with one statement, their primary keys set (an SQLite older than
    3.35 cannot return them from a bulk insert: one statement each there)."""
    if not objects:
        return objects
    if connection.features.can_return_rows_from_bulk_insert:
        return model.objects.bulk_create(objects)
    for obj in objects:
        obj.save(force_insert=True)
    return objects


def _reading_make(meter, register, verdict, taken_at, source, submitted_by, now) -> Reading:
    """The Reading a verdict makes (not saved)."""
    consumption = None
    if verdict.status in (validation.ACCEPTED, validation.FLAGGED):
        # A flagged one keeps what it would add, for the reviewer.
        consumption = verdict.consumption
    return Reading(
        meter=meter,
        register=register,
        value=_storable(verdict.value),
        taken_at=taken_at,
        period=verdict.period,
        consumption=consumption,
        rolled_over=verdict.rolled_over,
        source=source,
        status=verdict.status,
        reasons=",".join(verdict.reasons),
        submitted_by=submitted_by,
        created_at=now,
    )


def _register_params(row: MeterRegister) -> tuple:
    """``row``'s REGISTER_STATE_FIELDS in the database's form, then its primary key
    (`_registers_update`)."""
    ops = connection.ops
    return (
        ops.adapt_decimalfield_value(row.last_value),
        ops.adapt_datetimefield_value(row.last_taken_at),
        ops.adapt_datefield_value(row.last_period),
        ops.adapt_decimalfield_value(row.last_real_value),
        ops.adapt_datetimefield_value(row.last_real_taken_at),
        row.estimated_periods,
        ops.adapt_decimalfield_value(row.estimated_quantity),
        ops.adapt_json_value(row.recent, None),
        row.pk,
    )


def _storable(value: Decimal | None) -> Decimal:
    """A rejected value still has to fit the column: keep what fits, else zero (the reason
    says what was wrong)."""
    if value is None or not value.is_finite():
        return Decimal("0")
    try:
        value = value.quantize(validation.STEP, rounding=ROUND_HALF_UP)
    except ArithmeticError:
        return Decimal("0")
    if abs(value) >= Decimal(10) ** 12:
        return Decimal("0")
    return value


def _photo_name(photo) -> str:
    name = (getattr(photo, "name", "") or "").rsplit("/", 1)[-1].lower()
    extension = name.rsplit(".", 1)[-1] if "." in name else "jpg"
    if extension not in {"jpg", "jpeg", "png", "webp"}:
        extension = "jpg"
    return f"{uuid.uuid4().hex}.{extension}"


def _estimated_run(reading: Reading) -> tuple[date, date] | None:
    """First and last period of the estimates since the register's last real reading."""
    found = Reading.objects.filter(
        meter_id=reading.meter_id,
        register=reading.register,
        source=Reading.Source.ESTIMATE,
        status=Reading.Status.ACCEPTED,
        taken_at__lte=reading.taken_at,
    )
    last_real = (
        Reading.objects.filter(
            meter_id=reading.meter_id,
            register=reading.register,
            status=Reading.Status.ACCEPTED,
            taken_at__lt=reading.taken_at,
        )
        .exclude(source=Reading.Source.ESTIMATE)
        .exclude(pk=reading.pk)
        .aggregate(at=Max("taken_at"))["at"]
    )
    if last_real is not None:
        found = found.filter(taken_at__gt=last_real)
    bounds = found.aggregate(first=Min("period"), last=Max("period"))
    if bounds["first"] is None:
        return None
    return bounds["first"], bounds["last"]


def _state_apply(row: MeterRegister, reading: Reading) -> None:
    """An accepted real reading moves its register, in memory: state and recent use."""
    after = state.state_after(
        register_state(row),
        value=reading.value,
        taken_at=reading.taken_at,
        consumption=reading.consumption,
        estimate=False,
    )
    _store_state(row, after, reading.period)
    if reading.consumption is not None:
        recent = state.recent_add(
            state.recent_from_json(row.recent), reading.period, reading.consumption
        )
        row.recent = state.recent_to_json(recent)


def _true_up(reading: Reading, verdict: validation.Verdict, meter: Meter) -> EstimateTrueUp:
    """The true-up a real reading after estimates records (not saved; ``reading`` is)."""
    run = _estimated_run(reading)
    first, last = run if run is not None else (reading.period, reading.period)
    return EstimateTrueUp(
        meter=meter,
        register=reading.register,
        reading=reading,
        first_period=first,
        last_period=last,
        estimated=verdict.true_up.estimated,
        actual=verdict.true_up.actual,
        difference=verdict.true_up.difference,
    )


def _accept(
    reading: Reading, verdict: validation.Verdict, row: MeterRegister, meter: Meter
) -> None:
    """An accepted real reading moves its register: state, recent use, the true-up."""
    _state_apply(row, reading)
    row.save()
    if verdict.true_up is not None:
        _true_up(reading, verdict, meter).save()


def _months_covered(before: validation.RegisterState, reading: Reading) -> int:
    if before.last_taken_at is None:
        return 1
    return max(1, validation.months_between(before.last_taken_at.date(), reading.taken_at.date()))


def _high_use_check(
    meter: Meter,
    accepted: list[tuple[Reading, validation.RegisterState]],
    settings: MeteringSettings | None,
    rows: dict[str, MeterRegister],
) -> ConsumptionAlert | None:
    """Compare the meter's use (its registers together) with the household's median month;
    ``rows``: the meter's register rows as just stored."""
    if settings is None:
        return None
    used = [(r, before) for r, before in accepted if r.consumption is not None]
    if not used:
        return None
    use = sum((r.consumption for r, _b in used), Decimal("0"))
    months = max(_months_covered(before, r) for r, before in used)
    history: dict[str, Decimal] = {}
    for register in meter.registers:
        row = rows.get(register)
        if row is None:
            continue
        for key, value in state.recent_from_json(row.recent):
            history[key] = history.get(key, Decimal("0")) + value
    reading = used[0][0]
    # The months before this reading's: the month it lands in now includes its own use.
    this_month = reading.period.strftime("%Y-%m")
    past = [v for k, v in sorted(history.items()) if k < this_month]
    found = anomaly.high_use(use=use, history=past, factor=settings.leak_factor, months=months)
    if found is None:
        return None
    return _alert_raise(
        meter=meter,
        kind=ConsumptionAlert.Kind.HIGH_USE,
        period=reading.period,
        consumption=found.use,
        baseline=found.baseline,
        reading=reading,
        settings=settings,
    )


def _alert_raise(
    *, meter, kind, period, consumption, baseline, reading, settings
) -> ConsumptionAlert | None:
    """Record the alert once per meter, kind and period; open a leak case if wanted."""
    if ConsumptionAlert.objects.filter(meter=meter, kind=kind, period=period).exists():
        return None
    try:
        with transaction.atomic():
            alert = ConsumptionAlert.objects.create(
                meter=meter,
                kind=kind,
                period=period,
                consumption=consumption.quantize(validation.STEP, rounding=ROUND_HALF_UP),
                baseline=baseline.quantize(validation.STEP, rounding=ROUND_HALF_UP),
                reading=reading,
            )
    except IntegrityError:  # raised by a concurrent reading
        return None
    if settings is not None and settings.leak_opens_case and meter.resource in WATER:
        from civicdesk.metering.casework import leak_case_open

        case = leak_case_open(alert=alert, source=reading.source if reading else "")
        if case is not None:
            alert.case = case
            alert.save(update_fields=["case"])
    return alert


@transaction.atomic
def reading_review(*, reading: Reading, accept: bool, actor, note: str = "") -> Reading:
    """Decide a flagged reading. Accepting it moves the register as if it had been accepted
    when it came in (its consumption measured from the state now on record); a reading older
    than one accepted since can only be rejected. ``note`` goes to the audit log."""
    # The meter first, as every other metering write locks it, then the reading.
    meter = Meter.objects.select_for_update().get(pk=reading.meter_id)
    reading = Reading.objects.select_for_update().get(pk=reading.pk)
    if reading.status != Reading.Status.FLAGGED:
        raise ValidationError({"reading": _("Only a reading flagged for review can be decided.")})
    now = timezone.now()
    reading.reviewed_by = actor
    reading.reviewed_at = now
    if accept:
        settings, rules = _settings_and_rules()
        rows = _register_rows(meter, create=True)
        row = rows[reading.register]
        before = register_state(row)
        facts = meter_facts(meter)
        local_day = _local_day(reading.taken_at)
        if meter.status == Meter.Status.REMOVED and (
            meter.removed_on is None or local_day <= meter.removed_on
        ):
            facts = replace(facts, status=Meter.Status.ACTIVE)  # read before it came off
        verdict = validation.validate(
            raw_value=reading.value,
            taken_at=reading.taken_at,
            local_day=local_day,
            now=now,
            facts=facts,
            state=before,
            rules=replace(rules, spike_min_months=sys.maxsize),  # a person decided the spike
        )
        if not verdict.ok:
            raise ValidationError(
                {
                    "reading": _("This reading can no longer be accepted: %(reasons)s")
                    % {"reasons": reasons.reasons_text(verdict.reasons, verdict.details)}
                }
            )
        reading.status = Reading.Status.ACCEPTED
        reading.consumption = verdict.consumption
        reading.rolled_over = verdict.rolled_over
        reading.save()
        _accept(reading, verdict, row, meter)
        _high_use_check(meter, [(reading, before)], settings, rows)
    else:
        reading.status = Reading.Status.REJECTED
        reading.consumption = None
        reading.save()
    audit_record(
        AUDIT_READING_REVIEWED,
        actor=actor,
        reading=str(reading.public_id),
        meter=str(meter.public_id),
        accepted=bool(accept),
        note=(note or "")[:1000],
    )
    return reading


# --- interval data --------------------------------------------------------------------------


def night_flow_check(
    *, meter: Meter, readings: Iterable[tuple[datetime, Decimal]] | Iterable[Reading]
) -> list[ConsumptionAlert]:
    """Look for continuous night flow in ``meter``'s interval readings: ``(taken_at, value)``
    pairs (aware datetimes, cumulative values of one register) or objects with ``taken_at`` and
    ``value``. Water meters only. Writes one ConsumptionAlert per night period found (once per
    meter and period) and opens a leak case where the operator wants one; returns the new
    alerts."""
    if meter.resource not in WATER:
        return []
    settings = selectors.metering_settings()
    if settings is None:
        return []
    zone = selectors.operator_timezone()
    pairs = []
    for item in readings:
        taken_at, value = (
            (item.taken_at, item.value) if hasattr(item, "taken_at") else (item[0], item[1])
        )
        if timezone.is_naive(taken_at):
            taken_at = taken_at.replace(tzinfo=zone)
        pairs.append((taken_at.astimezone(zone), Decimal(value)))
    nights = anomaly.night_flow(
        pairs,
        hours=settings.leak_night_hours,
        dial=Decimal(10) ** meter.digits,
    )
    alerts = []
    with transaction.atomic():
        for found in nights:
            alert = _alert_raise(
                meter=meter,
                kind=ConsumptionAlert.Kind.NIGHT_FLOW,
                period=validation.period_of(found.night),
                consumption=found.quantity * meter.multiplier,
                baseline=found.lowest * meter.multiplier,
                reading=None,
                settings=settings,
            )
            if alert is not None:
                alerts.append(alert)
    return alerts


# --- estimates ------------------------------------------------------------------------------


def window_close(period: date, settings: MeteringSettings | None, zone) -> datetime:
    """The moment a period's submission window closes (end of its last day, local time):
    readings taken later count for the next period, so an estimate is dated then."""
    end_day = settings.window_end_day if settings is not None else 31
    last_day = (validation.next_period(period) - timedelta(days=1)).day
    day = period.replace(day=min(end_day, last_day))
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone)


def last_closed_period(now: datetime | None = None) -> date:
    """The latest period whose submission window has closed."""
    settings = selectors.metering_settings()
    zone = selectors.operator_timezone()
    now = now or timezone.now()
    current = validation.period_of(now.astimezone(zone).date())
    if now >= window_close(current, settings, zone):
        return current
    return (current - timedelta(days=1)).replace(day=1)


def _estimation_rules(settings: MeteringSettings | None) -> dict[str, estimation.Rules]:
    rules = {}
    for resource in Resource.values:
        if settings is None:
            rules[resource] = estimation.Rules()
            continue
        rules[resource] = estimation.Rules(
            average_months=settings.estimate_average_months,
            min_months=settings.estimate_min_months,
            max_periods=settings.estimate_max_periods,
            norm=estimation.Norm.from_setting((settings.norms or {}).get(resource)),
        )
    return rules


def _real_history(recent, estimated_periods: int, last_period: date | None):
    """Recent monthly use without the months estimated since the last real reading."""
    if estimated_periods and last_period is not None:
        estimated, period = set(), last_period
        for _i in range(estimated_periods):
            estimated.add(period.strftime("%Y-%m"))
            period = (period - timedelta(days=1)).replace(day=1)
        recent = tuple((k, v) for k, v in recent if k not in estimated)
    return state.recent_values(recent)


ESTIMATE_FIELDS = (*READING_BULK_FIELDS, "reviewed_by_id", "reviewed_at")
ESTIMATE_CHUNK = 5000
ESTIMATE_REASONS = {
    estimation.AVERAGE: validation.ESTIMATED_AVERAGE,
    estimation.NORM: validation.ESTIMATED_NORM,
}


def estimates_generate(
    *,
    period: date,
    meters=None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Estimate ``period`` for every active meter's register that has no accepted reading
    for it (or only ``meters``); returns how many estimates were written.

    Set-based, in chunks of meters (one transaction each): a few queries read the chunk's
    meters, registers and the period's readings, the pure `estimation` module decides each
    quantity, and the estimates go in with one bulk insert and the registers with one bulk
    update. Idempotent: a register that already has an accepted reading or estimate for the
    period, or anything later, or a reading waiting for review, is left alone. ``progress``
    is called with (meters done, meters in all) after each chunk.
    """
    period = validation.period_of(period)
    settings = selectors.metering_settings()
    zone = selectors.operator_timezone()
    taken_at = window_close(period, settings, zone)
    period_end = validation.next_period(period) - timedelta(days=1)
    candidates = Meter.objects.filter(status=Meter.Status.ACTIVE, installed_on__lte=period_end)
    if meters is not None:
        ids = [m.pk if isinstance(m, Meter) else m for m in meters]
        candidates = candidates.filter(pk__in=ids)
    meter_ids = list(candidates.order_by("pk").values_list("pk", flat=True))
    rules = _estimation_rules(settings)
    written = 0
    total = len(meter_ids)
    if progress is not None:
        progress(0, total)
    for start in range(0, total, ESTIMATE_CHUNK):
        chunk = meter_ids[start : start + ESTIMATE_CHUNK]
        written += _estimates_chunk(chunk, period, taken_at, period_end, rules)
        if progress is not None:
            progress(start + len(chunk), total)
    return written


REGISTER_COLUMNS = (
    "pk",
    "meter_id",
    "register",
    "last_value",
    "last_taken_at",
    "last_real_value",
    "last_real_taken_at",
    "last_period",
    "estimated_periods",
    "estimated_quantity",
    "recent",
)


@transaction.atomic
def _estimates_chunk(meter_ids, period, taken_at, period_end, rules) -> int:
    """One chunk of meters (sorted ids): rows read as tuples by primary-key range (no model
    instance per row, no list of thousands of parameters), estimates decided in memory, then
    one bulk insert and one batched update."""
    wanted = set(meter_ids)
    span = {"gte": meter_ids[0], "lte": meter_ids[-1]}
    meters = {
        pk: (rates, digits, multiplier, resource, occupants, total_area, heated_area)
        for pk, rates, digits, multiplier, resource, occupants, total_area, heated_area in (
            Meter.objects.select_for_update(of=("self",))
            .filter(
                pk__gte=span["gte"],
                pk__lte=span["lte"],
                status=Meter.Status.ACTIVE,
                installed_on__lte=period_end,
            )
            .values_list(
                "pk",
                "rates",
                "digits",
                "multiplier",
                "resource",
                "premises__occupants",
                "premises__total_area",
                "premises__heated_area",
            )
        )
        if pk in wanted
    }
    # An accepted reading or estimate for the period (or later) leaves the register alone; so
    # does a reading waiting for review, which a person may still accept for it.
    done = set(
        Reading.objects.filter(
            meter_id__gte=span["gte"],
            meter_id__lte=span["lte"],
            period__gte=period,
            status__in=(Reading.Status.ACCEPTED, Reading.Status.FLAGGED),
        ).values_list("meter_id", "register")
    )
    rows = (
        MeterRegister.objects.filter(
            meter_id__gte=span["gte"], meter_id__lte=span["lte"], last_value__isnull=False
        )
        .exclude(last_period__gte=period)
        .exclude(last_taken_at__gte=taken_at)
        .values_list(*REGISTER_COLUMNS)
    )
    now = timezone.now()
    ops = connection.ops
    at_db = ops.adapt_datetimefield_value(taken_at)
    period_db = ops.adapt_datefield_value(period)
    inserts, updates = [], []
    for (
        pk,
        meter_id,
        register,
        last_value,
        last_taken_at,
        last_real_value,
        last_real_taken_at,
        last_period,
        estimated_periods,
        estimated_quantity,
        raw_recent,
    ) in rows:
        if meter_id not in meters or (meter_id, register) in done:
            continue
        rates, digits, multiplier, resource, occupants, total_area, heated_area = meters[meter_id]
        if register not in REGISTERS[rates]:
            continue
        recent = state.recent_from_json(raw_recent)
        area = (heated_area if resource == Resource.HEAT else None) or total_area
        found = estimation.estimate(
            history=_real_history(recent, estimated_periods, last_period),
            estimated_periods=estimated_periods,
            rules=rules[resource],
            occupants=occupants,
            area=area,
        )
        if found is None or found.quantity < 0:
            continue
        dial = Decimal(10) ** digits
        step = (found.quantity / multiplier).quantize(validation.STEP, rounding=ROUND_HALF_UP)
        value = last_value + step
        rolled_over = value >= dial
        if rolled_over:
            value -= dial
        consumption = validation.quantity(step * multiplier)
        after = state.state_after(
            validation.RegisterState(
                last_value=last_value,
                last_taken_at=last_taken_at,
                last_real_value=last_real_value,
                last_real_taken_at=last_real_taken_at,
                estimated_periods=estimated_periods,
                estimated_quantity=estimated_quantity,
            ),
            value=value,
            taken_at=taken_at,
            consumption=consumption,
            estimate=True,
        )
        recent = state.recent_add(recent, period, consumption)
        updates.append(
            (
                ops.adapt_decimalfield_value(after.last_value),
                at_db,
                period_db,
                after.estimated_periods,
                ops.adapt_decimalfield_value(after.estimated_quantity),
                ops.adapt_json_value(state.recent_to_json(recent), None),
                pk,
            )
        )
        inserts.append(
            (
                uuid.uuid4(),
                meter_id,
                register,
                value,
                taken_at,
                period,
                consumption,
                rolled_over,
                Reading.Source.ESTIMATE.value,
                Reading.Status.ACCEPTED.value,
                ESTIMATE_REASONS[found.basis],
                None,
                "",
                now,
                None,
                None,
            )
        )
    if inserts:
        bulk_insert(Reading, ESTIMATE_FIELDS, inserts)
        _registers_update(ESTIMATE_STATE_FIELDS, updates)
    return len(inserts)


ESTIMATE_STATE_FIELDS = (
    "last_value",
    "last_taken_at",
    "last_period",
    "estimated_periods",
    "estimated_quantity",
    "recent",
)


def _registers_update(names: tuple[str, ...], params: list[tuple]) -> None:
    """One UPDATE statement run for many rows (``executemany``: pipelined on PostgreSQL),
    values already in the database's form, the primary key last. Django's ``bulk_update``
    builds a CASE per field and row, which is many times slower at this size."""
    meta = MeterRegister._meta
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in names)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {assignments} "  # noqa: S608 - names from the model
        f"WHERE {quote(meta.pk.column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


# --- meters ---------------------------------------------------------------------------------


def _initial_readings(meter: Meter, values: dict | None, taken_at: datetime, actor) -> list:
    """Readings a meter starts from (installation) or ends on (removal): stored accepted with
    no consumption of their own, and the register state starts from them."""
    if not values:
        return []
    given = _registers_given(meter, values)
    rows = _register_rows(meter, create=True)
    now = timezone.now()
    period = validation.period_of(_local_day(taken_at))
    made = []
    facts = meter_facts(meter)
    for register, raw in given.items():
        value = validation.parse_value(raw)
        if value is None or validation._shape_reasons(value, facts):
            raise ValidationError(
                {
                    register: _(
                        "Give the reading of register %(register)s as a number the meter can show."
                    )
                    % {"register": register}
                }
            )
        reading = Reading.objects.create(
            meter=meter,
            register=register,
            value=value,
            taken_at=taken_at,
            period=period,
            consumption=None,
            source=Reading.Source.STAFF,
            status=Reading.Status.ACCEPTED,
            reasons="",
            submitted_by=actor,
            created_at=now,
        )
        row = rows[register]
        new = state.state_after(
            register_state(row), value=value, taken_at=taken_at, consumption=None, estimate=False
        )
        _store_state(row, new, period)
        row.save()
        made.append(reading)
    return made


def _meter_make(
    *,
    serial,
    resource,
    installed_on,
    building,
    premises,
    account,
    rates,
    digits,
    multiplier,
    unit,
    seal_number,
    sealed_on,
    verification_due_on,
    replaces,
) -> Meter:
    if account is not None and premises is None:
        premises = account.premises
    if premises is not None and building is None:
        building = premises.building
    if account is not None and account.premises_id != getattr(premises, "pk", None):
        raise ValidationError({"account": _("The account is for other premises.")})
    if resource not in Resource.values:
        raise ValidationError({"resource": _("Unknown resource.")})
    if rates not in Rates.values:
        raise ValidationError({"rates": _("Unknown kind of rates.")})
    if building is None:
        raise ValidationError({"building": _("Say which building the meter is in.")})
    try:
        multiplier = Decimal(str(multiplier))
    except ArithmeticError as exc:
        raise ValidationError({"multiplier": _("Give the multiplier as a number.")}) from exc
    meter = Meter(
        serial=(serial or "").strip(),
        resource=resource,
        rates=rates,
        digits=digits,
        multiplier=multiplier,
        unit=unit or str(DEFAULT_UNITS[resource]),
        installed_on=installed_on,
        seal_number=seal_number or "",
        sealed_on=sealed_on,
        verification_due_on=verification_due_on,
        building=building,
        premises=premises,
        account=account,
        replaces=replaces,
    )
    meter.full_clean(exclude=["replaces"])
    meter.save()
    MeterRegister.objects.bulk_create(
        MeterRegister(meter=meter, register=register) for register in REGISTERS[meter.rates]
    )
    return meter


@transaction.atomic
def meter_create(
    *,
    serial: str,
    resource: str,
    installed_on: date,
    building=None,
    premises=None,
    account=None,
    rates: str = Rates.SINGLE,
    digits: int = 5,
    multiplier: Decimal | str = Decimal("1"),
    unit: str = "",
    seal_number: str = "",
    sealed_on: date | None = None,
    verification_due_on: date | None = None,
    initial_values: dict | None = None,
    actor=None,
) -> Meter:
    """Register a meter (an individual one: ``account`` or ``premises``; a common-house one:
    ``building`` alone); with ``initial_values`` (register → value) its first reading, dated
    at the start of ``installed_on``, which the first reading a resident sends is measured
    from. Errors name the field (``initial_values.<register>`` for a starting value)."""
    meter = _meter_make(
        serial=serial,
        resource=resource,
        installed_on=installed_on,
        building=building,
        premises=premises,
        account=account,
        rates=rates,
        digits=digits,
        multiplier=multiplier,
        unit=unit,
        seal_number=seal_number,
        sealed_on=sealed_on,
        verification_due_on=verification_due_on,
        replaces=None,
    )
    if initial_values:
        taken_at = datetime.combine(installed_on, time(0, 0), tzinfo=selectors.operator_timezone())
        try:
            _initial_readings(meter, initial_values, taken_at, actor)
        except ValidationError as exc:
            raise _prefixed(exc, "initial_values") from exc
    if actor is not None:
        audit_record(AUDIT_METER_CHANGED, actor=actor, meter=str(meter.public_id), change="created")
    return meter


@transaction.atomic
def meter_replace(
    *,
    old: Meter,
    removed_on: date,
    final_values: dict[str, object],
    new_serial: str,
    initial_values: dict[str, object],
    actor,
    rates: str | None = None,
    digits: int | None = None,
    multiplier: Decimal | str | None = None,
    unit: str = "",
    seal_number: str = "",
    sealed_on: date | None = None,
    verification_due_on: date | None = None,
) -> Meter:
    """Replace ``old`` on ``removed_on``: its final readings (validated like any reading but
    never held for review; a faulty meter's dial is read all the same), status removed, and a
    new meter at the same place that ``replaces`` it and starts from ``initial_values``, so
    the first reading a resident sends is measured from them and never "lower than before".
    Errors name ``final_values.<register>`` / ``initial_values.<register>``."""
    old = Meter.objects.select_for_update().get(pk=old.pk)
    if old.status == Meter.Status.REMOVED:
        raise ValidationError({"old": _("This meter has already been removed.")})
    if not isinstance(removed_on, date) or removed_on < old.installed_on:
        raise ValidationError(
            {"removed_on": _("A meter cannot be removed before it was installed.")}
        )
    today = selectors.local_today()
    if removed_on > today:
        raise ValidationError({"removed_on": _("The removal date is in the future.")})
    if not initial_values:
        raise ValidationError({"initial_values": _("Give the new meter's starting reading.")})
    zone = selectors.operator_timezone()
    # The readings are dated at the end of the removal day (or now, on the day itself).
    at = min(datetime.combine(removed_on, time(23, 59, 59), tzinfo=zone), timezone.now())
    if final_values:
        try:
            _submit_many(
                items=[(old, final_values)],
                taken_at=at,
                source=Reading.Source.STAFF,
                submitted_by=actor,
                photo=None,
                keep_rejected=False,
                spike_check=False,
                allow_faulty=True,
            )
        except ReadingsRejected as exc:
            raise ValidationError(
                {f"final_values.{o.register}": o.message for o in exc.outcomes if not o.ok}
            ) from exc
        except ValidationError as exc:
            raise _prefixed(exc, "final_values") from exc
    old.status = Meter.Status.REMOVED
    old.removed_on = removed_on
    old.save(update_fields=["status", "removed_on", "updated_at"])
    try:
        new = _meter_make(
            serial=new_serial,
            resource=old.resource,
            installed_on=removed_on,
            building=old.building,
            premises=old.premises,
            account=old.account,
            rates=rates or old.rates,
            digits=digits or old.digits,
            multiplier=multiplier if multiplier is not None else old.multiplier,
            unit=unit or old.unit,
            seal_number=seal_number,
            sealed_on=sealed_on,
            verification_due_on=verification_due_on,
            replaces=old,
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "serial" in exc.error_dict:
            raise ValidationError({"new_serial": exc.error_dict["serial"]}) from exc
        raise
    try:
        _initial_readings(new, initial_values, at, actor)
    except ValidationError as exc:
        raise _prefixed(exc, "initial_values") from exc
    audit_record(
        AUDIT_METER_CHANGED,
        actor=actor,
        meter=str(old.public_id),
        change="replaced",
        replaced_by=str(new.public_id),
    )
    return new


def _prefixed(exc: ValidationError, prefix: str) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return ValidationError({prefix: exc.messages})
    return ValidationError({f"{prefix}.{key}": value for key, value in exc.error_dict.items()})


METER_TRANSITIONS = {
    Meter.Status.ACTIVE: {Meter.Status.FAULTY, Meter.Status.REMOVED},
    Meter.Status.FAULTY: {Meter.Status.ACTIVE, Meter.Status.REMOVED},
    Meter.Status.REMOVED: set(),
}


@transaction.atomic
def meter_status_set(*, meter: Meter, status: str, actor, note: str = "") -> Meter:
    """Mark a meter faulty, active again or removed (a removed meter stays removed)."""
    meter = Meter.objects.select_for_update().get(pk=meter.pk)
    if status not in Meter.Status.values:
        raise ValidationError({"status": _("Unknown meter status.")})
    if status == meter.status:
        return meter
    if status not in METER_TRANSITIONS[meter.status]:
        raise ValidationError(
            {"status": _("A removed meter cannot change its status; install a new one.")}
        )
    meter.status = status
    fields = ["status", "updated_at"]
    if status == Meter.Status.REMOVED:
        meter.removed_on = selectors.local_today()
        fields.append("removed_on")
    meter.save(update_fields=fields)
    audit_record(
        AUDIT_METER_CHANGED,
        actor=actor,
        meter=str(meter.public_id),
        change="status",
        status=status,
        note=(note or "")[:1000],
    )
    return meter


# --- verification reminders -----------------------------------------------------------------


def verification_reminders_send(*, today: date | None = None) -> int:
    """Tell residents once when a meter on their account is due for verification within the
    operator's reminder days (or overdue); stamps the meter. Returns the messages sent."""
    from civicdesk.notifications.services import notify
    from civicdesk.registry.models import AccountLink

    settings = selectors.metering_settings()
    days = settings.verification_reminder_days if settings is not None else 30
    today = today or selectors.local_today()
    horizon = today + timedelta(days=days)
    sent = 0
    with transaction.atomic():
        due = list(
            Meter.objects.select_for_update(of=("self",))
            .filter(
                status=Meter.Status.ACTIVE,
                account__isnull=False,
                verification_due_on__isnull=False,
                verification_due_on__lte=horizon,
            )
            .select_related("account__premises__building")
            .order_by("verification_due_on", "serial")
        )
        # Once per due date: a stamp older than this due date's reminder time was for an
        # earlier verification.
        due = [
            m
            for m in due
            if m.verification_reminded_on is None
            or m.verification_reminded_on < m.verification_due_on - timedelta(days=days)
        ]
        if not due:
            return 0
        by_user: dict = {}
        links = (
            AccountLink.objects.filter(account_id__in={m.account_id for m in due}, revoked_at=None)
            .select_related("user")
            .order_by("created_at")
        )
        by_account: dict[int, list] = {}
        for link in links:
            by_account.setdefault(link.account_id, []).append(link.user)
        for meter in due:
            for user in by_account.get(meter.account_id, []):
                if user.is_active:
                    by_user.setdefault(user.pk, (user, []))[1].append(meter)
        for user, user_meters in by_user.values():
            notify(
                user,
                "metering/verification_due",
                {"meters": user_meters, "today": today},
            )
            sent += 1
        Meter.objects.filter(pk__in=[m.pk for m in due]).update(verification_reminded_on=today)
    return sent


def true_ups_mark_billed(ids: list[int], period) -> int:
    """The billing run of ``period`` has charged these true-ups (set-based; a re-run of the
    same period finds them again by their billed period)."""
    from civicdesk.metering.models import EstimateTrueUp

    count = 0
    for start in range(0, len(ids), 900):
        count += EstimateTrueUp.objects.filter(pk__in=ids[start : start + 900]).update(
            billed_period=period
        )
    return count
