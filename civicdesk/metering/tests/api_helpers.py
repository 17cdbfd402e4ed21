"""Set-up shared by the metering API and back-office tests: a household with a cold-water meter
and a day/night electricity meter, four months of readings, and API clients."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import time_machine
from rest_framework.test import APIClient

from civicdesk.metering import services
from civicdesk.metering.models import Meter
from civicdesk.metering.tests import factories
from civicdesk.registry.models import PersonalAccount
from civicdesk.registry.services import link_by_staff
from civicdesk.registry.tests import factories as registry_factories

# "Now" in these tests: 12 May 2026, 10:00 in Johannesburg.
NOW = dt.datetime(2026, 5, 12, 8, 0, tzinfo=dt.UTC)
PROBLEM = "application/problem+json"


def at(month: int, day: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, 8, 0, tzinfo=dt.UTC)


@dataclass
class Household:
    user: object
    account: PersonalAccount
    water: Meter  # single rate: 100, 110, 120, 130 on the 10th of January to April
    power: Meter  # day/night: T1 1000, 1100, 1200, 1300; T2 500, 550, 600, 650


def submit(meter: Meter, values: dict, when: dt.datetime, source: str = "portal"):
    with time_machine.travel(when, tick=False):
        return services.readings_submit(
            meter=meter, values=values, taken_at=when, source=source, keep_rejected=True
        )


def household(make_user, *, email: str | None = None, language: str = "en") -> Household:
    user = make_user(email, preferred_language=language)
    account = registry_factories.account()
    link_by_staff(user=user, account=account, role="owner")
    water = factories.meter(account_=account, resource="cold_water")
    power = factories.meter(account_=account, resource="electricity", rates="day_night")
    for month in range(1, 5):
        submit(water, {"T": str(90 + 10 * month)}, at(month))
        submit(power, {"T1": str(900 + 100 * month), "T2": str(450 + 50 * month)}, at(month))
    return Household(user, account, water, power)


def api_for(user, *, language: str | None = None) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    if language:
        client.credentials(HTTP_ACCEPT_LANGUAGE=language)
    return client


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()
