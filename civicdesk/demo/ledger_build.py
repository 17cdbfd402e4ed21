"""Demo money: three years of monthly bills and payments on the demo residents' accounts (one
paid up, one owing, one in credit) and the last three months' bills on every other account.
Amounts are plausible per service; the real figures come from tariffs and billing runs.

The residents' accounts go through the ledger services (so allocations are real); the rest
through the bulk path, as a billing run would."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from civicdesk.demo.billing_data import BILLED_MONTHS
from civicdesk.ledger import services as ledger
from civicdesk.ledger.models import LedgerAccount
from civicdesk.ledger.postings import Leg
from civicdesk.registry.models import AccountService, PersonalAccount

# Monthly amount in minor units around which a service's bill varies (currency-neutral).
BASE = {
    "cold_water": 18_000,
    "hot_water": 22_000,
    "sewerage": 9_500,
    "electricity": 65_000,
    "gas": 12_000,
    "heating": 70_000,
    "solid_waste": 7_500,
    "maintenance": 30_000,
    "capital_repair": 8_000,
    "property_rates": 45_000,
    "scheme_levy": 120_000,
    "other": 5_000,
}
HISTORY_MONTHS = 36
RECENT_MONTHS = 3


def _month_ends(months: int, today: dt.date) -> list[dt.date]:
    first = today.replace(day=1)
    ends = []
    for back in range(months, 0, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        start = dt.date(year, month + 1, 1)
        ends.append(start.replace(day=28))
    return ends


def _lines(services: list[AccountService], rng: random.Random) -> list[ledger.ChargeLine]:
    return [
        ledger.ChargeLine(
            amount_minor=int(BASE.get(s.service_type, 5_000) * rng.uniform(0.8, 1.25)),
            service=s.service_type,
            provider=s.provider,
        )
        for s in services
    ]


def build_ledger(*, currency: str, resident_accounts: list[str], rng: random.Random) -> dict:
    today = timezone.localdate()
    gateway = ledger.system_account(LedgerAccount.Kind.GATEWAY_CLEARING, currency, key="sandbox")
    bank = ledger.system_account(LedgerAccount.Kind.BANK_CLEARING, currency, key="demo")
    accounts = list(
        PersonalAccount.objects.order_by("number").prefetch_related("services__provider")
    )
    by_number = {a.number: a for a in accounts}
    # The demo residents' older history, all paid; how they pay their recent bills (paid up,
    # owing the last two, in credit after an overpayment) is billing_build's.
    habits = dict(zip(resident_accounts, ("paid_up", "owing", "credit"), strict=False))
    for number in habits:
        account = by_number[number]
        services = list(account.services.all())
        # The last BILLED_MONTHS are real bills of the demo's billing runs (billing_build).
        months = _month_ends(HISTORY_MONTHS, today)[:-BILLED_MONTHS]
        for index, day in enumerate(months):
            lines = _lines(services, rng)
            ledger.charge_post(
                account=account,
                lines=lines,
                currency=currency,
                value_date=day,
                reference=f"INV-{number}-{day:%Y%m}",
                description=f"Bill {day:%Y-%m}",
            )
            amount = sum(line.amount_minor for line in lines)
            ledger.payment_post(
                account=account,
                amount_minor=amount,
                currency=currency,
                value_date=day + dt.timedelta(days=rng.randint(3, 20)),
                source=gateway if index % 2 else bank,
                reference=f"PAY-{number}-{day:%Y%m}",
                description="Online payment" if index % 2 else "Bank transfer",
            )
    others = [a for a in accounts if a.number not in habits]
    receivables = ledger.receivables_ensure({a.pk: a.number for a in others})
    payables = {}
    specs = []
    for day in _month_ends(RECENT_MONTHS + BILLED_MONTHS, today)[:RECENT_MONTHS]:
        for account in others:
            legs, dims = [], []
            for line in _lines(list(account.services.all()), rng):
                provider = line.provider
                if provider.pk not in payables:
                    payables[provider.pk] = ledger.provider_payable(provider, currency).code
                legs += [
                    Leg(receivables[account.pk], line.amount_minor),
                    Leg(payables[provider.pk], -line.amount_minor),
                ]
                dims += [(line.service, provider.pk), (line.service, provider.pk)]
            if legs:
                specs.append(
                    ledger.TransactionSpec(
                        kind="charge",
                        legs=tuple(legs),
                        value_date=day,
                        reference=f"INV-{account.number}-{day:%Y%m}",
                        description=f"Bill {day:%Y-%m}",
                        dimensions=tuple(dims),
                    )
                )
    posted = len(ledger.transactions_post_bulk(specs, currency=currency))
    return {"resident_histories": len(habits), "bulk_bills": posted}
