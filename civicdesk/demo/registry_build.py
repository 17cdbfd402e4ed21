"""Turning a RegistrySpec into records: territories with boundaries, providers, service
centres, buildings, premises, accounts, holders and services. Deterministic for a seed; bulk
writes with history rows, so a thousand accounts take about a second."""

from __future__ import annotations

import random
from datetime import date, time
from decimal import Decimal

from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from civicdesk.demo.registry_data import RegistrySpec
from civicdesk.registry.models import (
    AccountHolder,
    AccountService,
    Building,
    OpeningHours,
    PersonalAccount,
    Premises,
    Provider,
    ServiceCentre,
    Territory,
)
from civicdesk.registry.services import account_numbers_allocate, link_by_staff

PREMISES_PER_BUILDING = 24
CELL = 0.04  # degrees per area square


def _square(lon: float, lat: float, size: float) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [
            [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
        ],
    }


def _female(spec: RegistrySpec, first: str, last: str) -> str:
    if (
        spec.phone_prefix.startswith("+7")
        and first.endswith(("а", "я"))
        and last.endswith(("ов", "ев", "ин"))
    ):
        return last + "а"
    return last


def build_registry(
    *, spec: RegistrySpec, accounts: int, rng: random.Random, residents: list
) -> dict:
    lon0, lat0 = spec.centre
    areas: list[Territory] = []
    for d, (district_name, area_names) in enumerate(spec.districts):
        d_lon = lon0 + d * CELL * 2
        district = Territory.objects.create(
            code=f"d{d + 1}",
            name=district_name,
            kind=Territory.Kind.DISTRICT,
            boundary=_square(d_lon, lat0, CELL * 2),
        )
        for a, area_name in enumerate(area_names):
            areas.append(
                Territory.objects.create(
                    code=f"d{d + 1}-a{a + 1}",
                    name=area_name,
                    kind=Territory.Kind.AREA,
                    parent=district,
                    boundary=_square(d_lon + (a % 2) * CELL, lat0 + (a // 2) * CELL, CELL),
                )
            )
    providers = {
        p.code: Provider.objects.create(
            code=p.code,
            name=p.name,
            services=list(p.services),
            tax_number=p.tax_number,
            iban=p.iban,
            bank_name=p.bank_name,
            bank_account=p.bank_account,
            bank_code=p.bank_code,
            correspondent_account=p.correspondent_account,
        )
        for p in spec.providers
    }
    for i, name in enumerate(spec.centre_names):
        centre = ServiceCentre.objects.create(
            name=name,
            address=spec.address_format.format(
                number=1 + i, street=spec.streets[i % len(spec.streets)], area=areas[i].name
            ),
            territory=areas[i],
        )
        hours = [(day, w) for day in range(5) for w in spec.weekday_hours]
        hours += [(day, w) for day in (5, 6) for w in spec.weekend_hours]
        OpeningHours.objects.bulk_create(
            OpeningHours(
                centre=centre,
                weekday=day,
                opens=time.fromisoformat(o),
                closes=time.fromisoformat(c),
            )
            for day, (o, c) in hours
        )

    n_buildings = max(1, -(-accounts // PREMISES_PER_BUILDING))
    buildings = []
    for b in range(n_buildings):
        area = areas[b % len(areas)]
        buildings.append(
            Building(
                code=f"b{b + 1:05d}",
                address=spec.address_format.format(
                    number=rng.randint(1, 250), street=rng.choice(spec.streets), area=area.name
                ),
                territory=area,
                total_area=Decimal("0"),
                heated_area=Decimal("0"),
                management_form=rng.choice(spec.management_forms),
            )
        )
    # Addresses must be unique to be useful in search; suffix the rare repeats.
    seen: set[str] = set()
    for building in buildings:
        while building.address in seen:
            building.address = building.address.replace(",", f"/{rng.randint(2, 9)},", 1)
        seen.add(building.address)

    premises: list[Premises] = []
    for i in range(accounts):
        building = buildings[i // PREMISES_PER_BUILDING]
        total = Decimal(rng.randint(3000, 12000)) / 100
        heated = (total * Decimal("0.92")).quantize(Decimal("0.01"))
        building.total_area += total
        building.heated_area += heated
        premises.append(
            Premises(
                building=building,
                number=str(i % PREMISES_PER_BUILDING + 1),
                total_area=total,
                heated_area=heated,
                rooms=rng.randint(1, 4),
                occupants=rng.randint(1, 5),
                municipal_valuation=Decimal(rng.randint(400, 3500)) * 1000
                if spec.valuation
                else None,
                valuation_date=date(2024, 7, 1) if spec.valuation else None,
            )
        )
    bulk_create_with_history(buildings, Building, batch_size=500)
    buildings = list(Building.objects.order_by("code"))
    for p in premises:
        p.building = buildings[int(p.building.code[1:]) - 1]
    bulk_create_with_history(premises, Premises, batch_size=500)
    premises = list(Premises.objects.select_related("building").order_by("building__code", "pk"))

    numbers = account_numbers_allocate(accounts)
    opened = date(2019, 1, 1)
    account_rows = [
        PersonalAccount(
            number=numbers[i],
            premises=premises[i],
            opened_on=opened,
            delivery_preference=rng.choice(("email", "portal", "paper")),
            last_bill_amount=Decimal(rng.randint(25000, 350000)) / 100,
        )
        for i in range(accounts)
    ]
    bulk_create_with_history(account_rows, PersonalAccount, batch_size=500)
    account_rows = list(PersonalAccount.objects.order_by("number"))

    holders, services = [], []
    for i, account in enumerate(account_rows):
        first, last = rng.choice(spec.first_names), rng.choice(spec.last_names)
        holders.append(
            AccountHolder(
                account=account,
                role="owner",
                full_name=f"{first} {_female(spec, first, last)}",
                phone=f"{spec.phone_prefix}{1000000 + i:07d}",
                email=f"holder{i + 1}@demo.test",
            )
        )
        for service_type, provider_code, tariff in spec.services:
            services.append(
                AccountService(
                    account=account,
                    service_type=service_type,
                    provider=providers[provider_code],
                    tariff_code=tariff,
                    starts_on=opened,
                )
            )
    # The demo residents hold their own accounts: their names, e-mail and phone are on file.
    for resident, account_index in zip(residents, (0, 2), strict=False):
        holder = holders[account_index]
        holder.full_name, holder.email = resident.full_name, resident.email
        holder.phone, holder.user = resident.phone, resident
    bulk_create_with_history(holders, AccountHolder, batch_size=1000)
    bulk_create_with_history(services, AccountService, batch_size=1000)

    if residents:
        link_by_staff(user=residents[0], account=account_rows[0], role="owner")
        link_by_staff(user=residents[0], account=account_rows[1], role="tenant")
    if len(residents) > 1:
        link_by_staff(user=residents[1], account=account_rows[2], role="owner")
    return {
        "territories": len(areas) + len(spec.districts),
        "providers": len(providers),
        "buildings": len(buildings),
        "accounts": len(account_rows),
        "resident_accounts": [a.number for a in account_rows[:3]],
        "built_at": timezone.now(),
    }
