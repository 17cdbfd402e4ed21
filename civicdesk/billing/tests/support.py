"""A small town to bill in tests: tariffs loaded from YAML, accounts with services, meters and
the period's readings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from civicdesk.metering.models import Meter, Reading
from civicdesk.registry.models import AccountService
from civicdesk.registry.tests import factories
from civicdesk.tariffs.services import tariffs_load

PERIOD = date(2025, 8, 1)

# The example tariff (as shipped in the tariffs app), then the town's water and levy.
EXAMPLE = Path(__file__).resolve().parents[2] / "tariffs" / "examples" / "example-electricity.yaml"
TARIFFS = (
    EXAMPLE.read_text(encoding="utf-8")
    + """
---
code: town-water
service: cold_water
unit: kl
currency: ZAR
valid_from: 2025-07-01
tax: {name: VAT, rate: "0.15", prices_include_tax: false}
charges:
  - kind: block
    blocks:
      - {up_to: 6, price: "20.00"}
      - {up_to: null, price: "30.00"}
---
code: town-levy
service: maintenance
unit: m2
currency: ZAR
valid_from: 2025-07-01
charges:
  - kind: per_m2
    rate: "10.00"
"""
)


def load_tariffs():
    return tariffs_load(TARIFFS)


def town(accounts: int = 3, *, electricity=("436",), water=("8",)):
    """Accounts with electricity, water and a levy per m², each with the period's readings
    (consumption values cycled from the arguments)."""
    from civicdesk.registry.models import Provider

    load_tariffs()
    power = Provider.objects.create(code="power", name="City Power", services=["electricity"])
    utility = Provider.objects.create(
        code="water", name="Water Utility", services=["cold_water", "maintenance"]
    )
    out = []
    for n in range(accounts):
        account = factories.account()
        account.services.all().delete()
        for service, provider, code in (
            ("electricity", power, "example-electricity"),
            ("cold_water", utility, "town-water"),
            ("maintenance", utility, "town-levy"),
        ):
            AccountService.objects.create(
                account=account,
                service_type=service,
                provider=provider,
                tariff_code=code,
                starts_on=date(2020, 1, 1),
            )
        for resource, values, unit in (
            ("electricity", electricity, "kWh"),
            ("cold_water", water, "kl"),
        ):
            meter = Meter.objects.create(
                serial=f"{resource[:2].upper()}{account.pk:06d}",
                resource=resource,
                unit=unit,
                installed_on=date(2020, 1, 1),
                premises=account.premises,
                building=account.premises.building,
                account=account,
            )
            reading_add(meter, Decimal(values[n % len(values)]))
        out.append(account)
    return out


def reading_add(meter, consumption: Decimal, *, period: date = PERIOD, value=None):
    return Reading.objects.create(
        meter=meter,
        register="T",
        value=value if value is not None else Decimal("1000") + consumption,
        taken_at=datetime(period.year, period.month, 20, tzinfo=UTC),
        period=period,
        consumption=consumption,
        source="import",
        status="accepted",
        created_at=datetime(period.year, period.month, 20, tzinfo=UTC),
    )
