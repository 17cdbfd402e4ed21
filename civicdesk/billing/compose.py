"""Pure rules of a bill: periods and dates, a service's charge from a priced quote, the
invoice's digest, the differences a re-run posts, and the invoice's totals.

No Django here. Money is in integer minor units; quantities are Decimals.

Recompute and diff (as Kill Bill invoices): a run prices every account's services for the
period from scratch. What was already billed for the period (the charge lines and every
adjustment since) is summed per (service, provider); where the new amount differs, the
difference is an adjustment line, posted to the ledger. Nothing already billed is ever
changed or deleted, so a run can be repeated or resumed any number of times and the bill
ends up equal to one clean run over the current inputs.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

# Days from the issue date (the first day of the next month) to the due date, by
# jurisdiction: Russia's Housing Code art. 155 (by the 10th of the next month); Ukraine's
# law on housing and communal services (by the 20th); South African municipalities
# commonly 21 days. An operator may set its own (BillingSettings.due_days).
DUE_DAYS = {"RU": 9, "UA": 19, "ZA": 20}
DEFAULT_DUE_DAYS = 20


def period_start(day: date) -> date:
    return day.replace(day=1)


def period_end(start: date) -> date:
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def next_period(start: date) -> date:
    return period_end(start) + timedelta(days=1)


def previous_period(start: date) -> date:
    return period_start(start - timedelta(days=1))


def parse_period(text: str) -> date:
    """ "2025-08" → 2025-08-01; anything else raises ValueError."""
    text = (text or "").strip()
    if len(text) != 7 or text[4] != "-":
        raise ValueError("period")
    year, month = text.split("-")
    if not (year.isdigit() and month.isdigit()):
        raise ValueError("period")
    return date(int(year), int(month), 1)


def issue_date(start: date) -> date:
    """Bills for a month are issued on the first day of the next month."""
    return next_period(start)


def due_date(start: date, due_days: int) -> date:
    return issue_date(start) + timedelta(days=due_days)


@dataclass(frozen=True, slots=True)
class ServiceCharge:
    """One service of one account for one period, as priced (or an adjustment of it)."""

    service: str
    provider_id: int
    amount_minor: int
    tax_minor: int = 0
    tariff_code: str = ""
    tariff_version: int | None = None
    quantity: Decimal | None = None
    unit: str = ""
    explanation: str = ""
    detail: object = field(default=(), compare=False)  # the sub-lines, as JSON text
    # Worked out once per line (a billing run shares one line among many accounts).
    signature: str = field(init=False, repr=False, compare=False)
    total_key: str = field(init=False, repr=False, compare=False)
    # The line's columns as the database stores them, when the billing run has made them.
    row: tuple = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "signature",
            f"{self.service}|{self.provider_id}|{self.tariff_code}|{self.tariff_version}|"
            f"{self.quantity}|{self.amount_minor}|{self.tax_minor}",
        )
        object.__setattr__(self, "total_key", f"{self.service}:{self.provider_id}")

    @property
    def key(self) -> tuple[str, int]:
        return (self.service, self.provider_id)


def minor(amount: Decimal, exponent: int = 2) -> int:
    """An amount already rounded to the currency's minor unit, in minor units (exact)."""
    scaled = amount.scaleb(exponent)
    value = int(scaled)
    if value != scaled:
        raise ValueError(f"{amount} is not rounded to {exponent} decimals")
    return value


def digest(charges: Iterable[ServiceCharge]) -> str:
    """What decides whether a bill changed: per service and provider, the tariff version, the
    quantity and the amounts. Sub-line wording does not count (a translation is no change)."""
    parts = sorted([c.signature for c in charges])
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Billed:
    """What a period's bill already holds for one service and provider (charges plus every
    adjustment since)."""

    amount_minor: int = 0
    tax_minor: int = 0
    quantity: Decimal | None = None


def differences(
    billed: Mapping[tuple[str, int], Billed], charges: Sequence[ServiceCharge]
) -> list[ServiceCharge]:
    """The adjustment lines that bring ``billed`` to ``charges``: one per (service, provider)
    whose amount or tax changed, including services no longer billed (reversed in full).
    Sum of billed + adjustments == the new charges, per key (a property test proves it)."""
    new = {charge.key: charge for charge in charges}
    out = []
    for key in sorted(set(billed) | set(new)):
        before = billed.get(key, Billed())
        after = new.get(key)
        amount = after.amount_minor if after else 0
        tax = after.tax_minor if after else 0
        if amount == before.amount_minor and tax == before.tax_minor:
            continue
        quantity = None
        if after is not None and after.quantity is not None:
            quantity = after.quantity - (before.quantity or 0)
        elif before.quantity is not None:
            quantity = -before.quantity
        out.append(
            ServiceCharge(
                service=key[0],
                provider_id=key[1],
                amount_minor=amount - before.amount_minor,
                tax_minor=tax - before.tax_minor,
                tariff_code=after.tariff_code if after else "",
                tariff_version=after.tariff_version if after else None,
                quantity=quantity,
                unit=after.unit if after else "",
                explanation=after.explanation if after else "",
                detail=after.detail if after else (),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Totals:
    opening_minor: int
    charges_minor: int
    payments_minor: int
    adjustments_minor: int

    @property
    def closing_minor(self) -> int:
        """Opening + charges − payments + adjustments (payments are given as positive)."""
        return (
            self.opening_minor + self.charges_minor - self.payments_minor + self.adjustments_minor
        )
