"""Small builders for registry records in tests."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from civicdesk.registry.models import (
    AccountHolder,
    AccountService,
    Building,
    PersonalAccount,
    Premises,
    Provider,
    Territory,
)
from civicdesk.registry.services import account_numbers_allocate

_seq = itertools.count(1)

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[28.0, -26.0], [28.5, -26.0], [28.5, -25.5], [28.0, -25.5], [28.0, -26.0]]],
}


def territory(code=None, *, name=None, kind="district", parent=None, boundary=None) -> Territory:
    n = next(_seq)
    return Territory.objects.create(
        code=code or f"t{n}",
        name=name or f"Territory {n}",
        kind=kind,
        parent=parent,
        boundary=boundary,
    )


def provider(code=None, *, name=None, services=("electricity",)) -> Provider:
    n = next(_seq)
    return Provider.objects.create(
        code=code or f"p{n}", name=name or f"Provider {n}", services=list(services)
    )


def building(*, territory_=None, address=None, code=None) -> Building:
    n = next(_seq)
    return Building.objects.create(
        code=code or f"b{n}",
        address=address or f"{n} Church Street, Pretoria",
        territory=territory_ or territory(),
        total_area=Decimal("1000"),
        heated_area=Decimal("900"),
        management_form="municipal",
    )


def premises(*, building_=None, number=None) -> Premises:
    n = next(_seq)
    return Premises.objects.create(
        building=building_ or building(),
        number=number or str(n),
        total_area=Decimal("60.50"),
        heated_area=Decimal("55.00"),
        occupants=2,
    )


def account(
    *,
    premises_=None,
    holder_phone="+27821110000",
    holder_email="holder@example.org",
    last_bill="812.40",
    status="open",
) -> PersonalAccount:
    number = account_numbers_allocate(1)[0]
    acc = PersonalAccount.objects.create(
        number=number,
        premises=premises_ or premises(),
        opened_on=date(2020, 1, 1),
        status=status,
        closed_on=date(2024, 1, 1) if status == "closed" else None,
        last_bill_amount=Decimal(last_bill) if last_bill else None,
    )
    AccountHolder.objects.create(
        account=acc,
        role="owner",
        full_name="Account Holder",
        phone=holder_phone or "",
        email=holder_email or "",
    )
    AccountService.objects.create(
        account=acc,
        service_type="electricity",
        provider=provider(),
        tariff_code="res-el",
        starts_on=date(2020, 1, 1),
    )
    return acc
