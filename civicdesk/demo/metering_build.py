"""Demo meters and readings: a meter for every metered service of every account (day/night
electricity where the jurisdiction has it), a heat meter per building in RU and UA, twelve months
of readings (thirty-six on the demo residents' accounts), a run of estimates followed by a real
reading with its true-up, a few readings flagged for review, and this month left open so a
resident can send one.

Written in bulk (the shape a billing run reads), with register states consistent with what the
services would have written."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from civicdesk.core.bulk import bulk_insert
from civicdesk.metering import state as register_state
from civicdesk.metering.models import (
    DEFAULT_UNITS,
    REGISTERS,
    EstimateTrueUp,
    Meter,
    MeterRegister,
    Reading,
)
from civicdesk.metering.selectors import metering_settings
from civicdesk.metering.validation import RegisterState
from civicdesk.registry.models import AccountService, Building, PersonalAccount

# service type → (resource, typical monthly use per register)
METERED = {
    "cold_water": ("cold_water", (Decimal("8.5"),)),
    "hot_water": ("hot_water", (Decimal("4.2"),)),
    "gas": ("gas", (Decimal("14"),)),
    "electricity": ("electricity", (Decimal("250"),)),
}
DAY_NIGHT = {"RU": True, "UA": False, "ZA": False}
DAY_NIGHT_USE = (Decimal("175"), Decimal("80"))
HEAT_USE = Decimal("95")  # Gcal a winter month for a demo building
OTHER_MONTHS = 12
RESIDENT_MONTHS = 36
Q = Decimal("0.001")
_ids = random.Random()  # noqa: S311 - demo identifiers, seeded from the demo seed

FIELDS = (
    "public_id",
    "meter_id",
    "register",
    "value",
    "taken_at",
    "period",
    "consumption",
    "rolled_over",
    "source",
    "status",
    "reasons",
    "created_at",
)


def _periods(today: dt.date, months: int) -> list[dt.date]:
    """The ``months`` periods before this one, oldest first."""
    base = today.year * 12 + today.month - 1
    return [
        dt.date((base - back) // 12, (base - back) % 12 + 1, 1) for back in range(months, 0, -1)
    ]


def _taken(period: dt.date) -> dt.datetime:
    return dt.datetime(period.year, period.month, 20, 9, 0, tzinfo=dt.UTC)


def _use(typical: Decimal, period: dt.date, rng: random.Random) -> Decimal:
    winter = 1.25 if period.month in (6, 7, 8, 12, 1, 2) else 1.0
    return (typical * Decimal(str(round(rng.uniform(0.75, 1.2) * winter, 3)))).quantize(Q)


def build_metering(*, jurisdiction: str, resident_accounts: list[str], rng: random.Random) -> dict:
    metering_settings()  # the operator's settings with the jurisdiction's defaults
    today = timezone.localdate()
    accounts = list(PersonalAccount.objects.select_related("premises").order_by("number"))
    services = {}
    for account_id, service_type in AccountService.objects.values_list(
        "account_id", "service_type"
    ):
        services.setdefault(account_id, []).append(service_type)
    meters = []
    plans = []  # (meter, typical per register, months, resident)
    serial = 0
    for account in accounts:
        resident = account.number in resident_accounts
        for service_type in services.get(account.pk, ()):
            if service_type not in METERED:
                continue
            resource, typical = METERED[service_type]
            rates = "single"
            if resource == "electricity" and DAY_NIGHT.get(jurisdiction):
                rates, typical = "day_night", DAY_NIGHT_USE
            serial += 1
            meter = Meter(
                public_id=uuid.UUID(int=rng.getrandbits(128)),
                serial=f"{jurisdiction}-{resource[:2].upper()}-{serial:07d}",
                resource=resource,
                rates=rates,
                digits=6 if resource == "electricity" else 5,
                unit=DEFAULT_UNITS[resource],
                installed_on=dt.date(2019, 1, 15),
                seal_number=f"S{serial:08d}",
                sealed_on=dt.date(2019, 1, 15),
                verification_due_on=_verification_due(today, serial, resident),
                building_id=account.premises.building_id,
                premises_id=account.premises_id,
                account_id=account.pk,
            )
            meters.append(meter)
            plans.append((meter, typical, RESIDENT_MONTHS if resident else OTHER_MONTHS, resident))
    if jurisdiction in ("RU", "UA"):
        for building in Building.objects.order_by("code"):
            serial += 1
            meter = Meter(
                public_id=uuid.UUID(int=rng.getrandbits(128)),
                serial=f"{jurisdiction}-HT-{serial:07d}",
                resource="heat",
                digits=7,
                unit=DEFAULT_UNITS["heat"],
                installed_on=dt.date(2018, 9, 1),
                building_id=building.pk,
            )
            meters.append(meter)
            plans.append((meter, (HEAT_USE,), OTHER_MONTHS, False))
    bulk_create_with_history(meters, Meter, batch_size=1000)
    ids = dict(Meter.objects.values_list("serial", "pk"))

    _ids.seed(rng.getrandbits(64))
    now = timezone.now()
    rows, registers, true_ups = [], [], []
    flagged = 0
    for index, (meter, typical, months, resident) in enumerate(plans):
        meter_id = ids[meter.serial]
        # The first demo resident's water meter: two estimated months, then a real reading.
        estimated = set()
        if resident and meter.resource == "cold_water":
            estimated = {months - 5, months - 4}
        for position, register in enumerate(REGISTERS[meter.rates]):
            value = Decimal(rng.randint(100, 4000))
            state = RegisterState()
            recent = ()
            periods = _periods(today, months)
            rows.append(_row(meter_id, register, value, periods[0], None, "import", now))
            state = register_state.state_after(
                state, value=value, taken_at=_taken(periods[0]), consumption=None, estimate=False
            )
            estimate_start = None
            for step, period in enumerate(periods[1:], start=1):
                if meter.resource == "heat" and period.month in (5, 6, 7, 8, 9):
                    use = Decimal("0")
                else:
                    use = _use(typical[position], period, rng)
                value = value + use
                taken = _taken(period)
                if step in estimated:
                    estimate_start = estimate_start or period
                    rows.append(_row(meter_id, register, value, period, use, "estimate", now))
                    state = register_state.state_after(
                        state, value=value, taken_at=taken, consumption=use, estimate=True
                    )
                else:
                    if state.estimated_periods:
                        # The real reading comes in a little above the estimates.
                        value += Decimal("3.5")
                        use += Decimal("3.5")
                    row = _row(meter_id, register, value, period, use, "import", now)
                    rows.append(row)
                    if state.estimated_periods:
                        actual = value - state.last_real_value
                        true_ups.append(
                            EstimateTrueUp(
                                meter_id=meter_id,
                                register=register,
                                reading_id=None,
                                first_period=estimate_start,
                                last_period=periods[step - 1],
                                estimated=state.estimated_quantity,
                                actual=actual,
                                difference=actual - state.estimated_quantity,
                            )
                        )
                        true_ups[-1]._public_id = row[0]
                    state = register_state.state_after(
                        state, value=value, taken_at=taken, consumption=use, estimate=False
                    )
                recent = register_state.recent_add(recent, period, use)
            # A few accounts sent an implausible reading last month: waiting for review.
            if not resident and meter.resource == "cold_water" and index % 97 == 5:
                flagged += 1
                spike = value + typical[position] * 9
                rows.append(
                    _row(
                        meter_id,
                        register,
                        spike,
                        periods[-1],
                        spike - value,
                        "import",
                        now,
                        status="flagged",
                        reasons="spike",
                        taken_at=_taken(periods[-1]) + dt.timedelta(days=3),
                    )
                )
            registers.append(
                MeterRegister(
                    meter_id=meter_id,
                    register=register,
                    last_value=state.last_value,
                    last_taken_at=state.last_taken_at,
                    last_period=periods[-1],
                    last_real_value=state.last_real_value,
                    last_real_taken_at=state.last_real_taken_at,
                    estimated_periods=state.estimated_periods,
                    estimated_quantity=state.estimated_quantity,
                    recent=register_state.recent_to_json(recent),
                )
            )
    bulk_insert(Reading, FIELDS, rows)
    MeterRegister.objects.bulk_create(registers, batch_size=1000)
    if true_ups:
        by_public = dict(
            Reading.objects.filter(public_id__in=[t._public_id for t in true_ups]).values_list(
                "public_id", "pk"
            )
        )
        for true_up in true_ups:
            true_up.reading_id = by_public[true_up._public_id]
        EstimateTrueUp.objects.bulk_create(true_ups)
    return {"meters": len(meters), "readings": len(rows), "flagged": flagged}


def _verification_due(today: dt.date, serial: int, resident: bool) -> dt.date:
    if resident and serial % 2:
        return today + dt.timedelta(days=20)  # the resident sees a reminder
    return dt.date(2027 + serial % 4, 1 + serial % 12, 15)


def _row(
    meter_id,
    register,
    value,
    period,
    use,
    source,
    now,
    *,
    status="accepted",
    reasons="",
    taken_at=None,
):
    return (
        uuid.UUID(int=_ids.getrandbits(128)),
        meter_id,
        register,
        value,
        taken_at or _taken(period),
        period,
        use,
        False,
        source,
        status,
        reasons,
        now,
    )
