"""Meters for tests; readings go through the services (`services.readings_submit`)."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from civicdesk.metering.models import DEFAULT_UNITS, Meter
from civicdesk.registry.tests import factories as registry_factories

_serials = itertools.count(1)


def meter(
    *,
    account_=None,
    resource="cold_water",
    rates="single",
    serial=None,
    digits=5,
    multiplier="1",
    installed_on=date(2020, 1, 1),
    status="active",
    building_meter=False,
) -> Meter:
    """A meter on ``account_``'s premises (a new account when none is given); with
    ``building_meter`` a common-house meter of that building instead."""
    account_ = account_ or registry_factories.account()
    premises = account_.premises
    return Meter.objects.create(
        serial=serial or f"SN{next(_serials):07d}",
        resource=resource,
        rates=rates,
        digits=digits,
        multiplier=Decimal(multiplier),
        unit=DEFAULT_UNITS[resource],
        installed_on=installed_on,
        status=status,
        building=premises.building,
        premises=None if building_meter else premises,
        account=None if building_meter else account_,
    )
