"""Reads for metering: the operator's settings and the rules they make."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from civicdesk.metering.jurisdictions import defaults_for
from civicdesk.metering.models import Meter, MeteringSettings, Reading, Resource
from civicdesk.metering.validation import Rules, next_period, period_of
from civicdesk.registry.models import PersonalAccount

METERING_SETTINGS_CACHE_KEY = "civicdesk:metering-settings"
METERING_SETTINGS_CACHE_SECONDS = 60


def metering_settings() -> MeteringSettings | None:
    """The operator's metering settings, created with the jurisdiction's defaults the first
    time; None when no operator is configured yet.

    Read on every reading and every SMS, so it is cached like the operator
    (`registry.selectors.operator_get`; one operator per installation): saving or deleting
    the settings (an instance's ``save()``/``delete()`` or a queryset's ``update()``/
    ``delete()``) or the operator clears the cache, and other processes see a change within
    METERING_SETTINGS_CACHE_SECONDS. Callers get their own copy: changing it changes nothing
    until it is saved."""
    from django.core.cache import cache

    from civicdesk.registry.selectors import operator_get

    found = cache.get(METERING_SETTINGS_CACHE_KEY)
    if found is not None:
        return found
    operator = operator_get()
    if operator is None:
        return None
    found = MeteringSettings.objects.filter(operator=operator).first()
    if found is not None:
        cache.set(METERING_SETTINGS_CACHE_KEY, found, METERING_SETTINGS_CACHE_SECONDS)
        return found
    # Not cached when just made: the surrounding transaction may still roll it back.
    try:
        with transaction.atomic():
            return MeteringSettings.objects.create(
                operator=operator, **defaults_for(operator.jurisdiction)
            )
    except IntegrityError:  # created by a concurrent request
        return MeteringSettings.objects.get(operator=operator)


def metering_settings_forget() -> None:
    """Drop the cached settings: now, and again when the surrounding transaction commits, so
    a concurrent request cannot put the old row back in the cache in between."""
    from django.core.cache import cache

    def forget() -> None:
        cache.delete(METERING_SETTINGS_CACHE_KEY)

    forget()
    transaction.on_commit(forget)


def validation_rules(settings: MeteringSettings | None = None) -> Rules:
    settings = settings if settings is not None else metering_settings()
    if settings is None:
        return Rules()
    return Rules(
        window_start_day=settings.window_start_day,
        window_end_day=settings.window_end_day,
        reject_outside_window=settings.outside_window == MeteringSettings.OutsideWindow.REJECT,
        spike_factor=settings.spike_factor,
        spike_history_months=settings.spike_history_months,
    )


# --- meters and consumption -----------------------------------------------------------------

METER_VIEW_PERMISSION = "metering.view_meter"


def operator_timezone():
    """The operator's time zone (periods, windows and night hours are local), else Django's."""
    from zoneinfo import ZoneInfo

    from django.conf import settings as django_settings

    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    name = (operator.timezone if operator is not None else "") or django_settings.TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return ZoneInfo("UTC")


def local_today() -> date:
    return timezone.now().astimezone(operator_timezone()).date()


def sees_all_meters(user) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_staff
        and user.has_perm(METER_VIEW_PERMISSION)
    )


def meters_for_user(user) -> QuerySet[Meter]:
    """The meters ``user`` may see: staff allowed to view meters see all of them; a resident
    those on their linked accounts (removed ones included, for their history); anyone else
    none."""
    meters = Meter.objects.select_related("account", "premises__building", "building")
    if sees_all_meters(user):
        return meters
    if not getattr(user, "is_authenticated", False):
        return meters.none()
    accounts = PersonalAccount.objects.filter(links__user=user, links__revoked_at=None)
    return meters.filter(account__in=accounts)


def meter_for_user(user, public_id) -> Meter:
    """One meter ``user`` may see, by its public id; 404 for anyone else's, a malformed id or
    no such meter."""
    try:
        key = uuid.UUID(str(public_id))
    except (TypeError, ValueError, AttributeError) as exc:
        raise Http404 from exc
    meter = meters_for_user(user).filter(public_id=key).first()
    if meter is None:
        raise Http404
    return meter


@dataclass(frozen=True)
class MonthUse:
    """One month's use: ``quantity`` None when nothing is on record for the month;
    ``estimated`` when any of it came from an estimate."""

    period: date
    quantity: Decimal | None
    estimated: bool


def _periods(months: int, until: date | None) -> list[date]:
    last = period_of(until or local_today())
    first = last
    for _ in range(max(1, months) - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    periods, current = [], first
    while current <= last:
        periods.append(current)
        current = next_period(current)
    return periods


def _month_uses(readings: QuerySet[Reading], months: int, until: date | None) -> list[MonthUse]:
    periods = _periods(months, until)
    rows = (
        readings.filter(
            status=Reading.Status.ACCEPTED,
            consumption__isnull=False,
            period__gte=periods[0],
            period__lte=periods[-1],
        )
        .values("period")
        .annotate(
            quantity=Sum("consumption"),
            estimates=Count("pk", filter=Q(source=Reading.Source.ESTIMATE)),
        )
    )
    found = {row["period"]: row for row in rows}
    uses = []
    for period in periods:
        row = found.get(period)
        if row is None:
            uses.append(MonthUse(period, None, False))
        else:
            uses.append(MonthUse(period, Decimal(row["quantity"]), bool(row["estimates"])))
    return uses


def meter_consumption(meter: Meter, months: int = 36, *, until: date | None = None):
    """``meter``'s monthly use (all registers together) for the last ``months`` periods up to
    ``until``'s (default: this month), oldest first, every month present."""
    return _month_uses(Reading.objects.filter(meter=meter), months, until)


def account_consumption(
    account, months: int = 36, *, resource: str | None = None, until: date | None = None
):
    """The account's monthly use over all its meters (replaced ones included, so the history
    runs on across a replacement), oldest first, every month present. Give ``resource`` for
    an account with meters of several resources: their units differ, and summing them means
    nothing (`account_resources` lists them)."""
    readings = Reading.objects.filter(meter__account=account)
    if resource:
        readings = readings.filter(meter__resource=resource)
    return _month_uses(readings, months, until)


def account_resources(account) -> list[str]:
    """The resources the account's meters measure, in `Resource` order."""
    found = set(Meter.objects.filter(account=account).values_list("resource", flat=True))
    return [value for value in Resource.values if value in found]
