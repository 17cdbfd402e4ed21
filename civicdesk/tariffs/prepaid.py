"""Prepaid purchases: how many units a payment buys across the month's blocks. No Django
import.

South African prepaid electricity is sold in the same inclining blocks as the monthly bill,
counted per calendar month: each purchase continues from the units already bought that
month (`already_purchased_units`), so a second token in a month is dearer per unit than the
first once the first block is used up.

The rule (docs/tariffs.md):
- the payment includes tax: unit prices excluding tax are grossed up by the tariff's rate
  (R2.50 + 15% = R2.875, kept exact); prices that include tax are taken as written;
- the units are the most the payment buys, rounded DOWN to `unit_step` (0.1 kWh, what a
  token carries), and the amount charged (each line rounded like a bill line) never exceeds
  the payment; the rest is `unspent`;
- only per-unit charges count: `block` (no proration: the whole calendar month) and `flat`
  on the consumption. Fixed monthly charges are not deducted from purchases (the bill of
  the account carries them); rebates, subsidies and free units are ignored (free basic
  electricity is issued as its own token). Any other kind cannot be sold in advance and is
  refused with a PricingError.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from civicdesk.tariffs import definition as d
from civicdesk.tariffs.engine import (
    INPUT_INVALID,
    INPUT_REQUIRED,
    ROUNDING_MODES,
    TARIFF_NOT_IN_FORCE,
    Line,
    PricingError,
    Term,
    format_explanation,
    month_bounds,
    quantity,
)

PREPAID_UNSUPPORTED_CHARGE = "prepaid_unsupported_charge"  # {"charge", "kind"}
PREPAID_NO_UNIT_PRICE = "prepaid_no_unit_price"  # {"code"}: nothing is priced per unit
PREPAID_FREE_UNBOUNDED = "prepaid_free_unbounded"  # {"code"}: units past a point cost nothing
PREPAID_ERROR_CODES = frozenset(
    {PREPAID_UNSUPPORTED_CHARGE, PREPAID_NO_UNIT_PRICE, PREPAID_FREE_UNBOUNDED}
)
UNIT_STEP = Decimal("0.1")
ZERO = Decimal(0)
_IGNORED = (d.FixedCharge, d.RebateCharge)  # RebateCharge covers SubsidyCharge


@dataclass(frozen=True, slots=True)
class PrepaidQuote:
    """What a payment buys: `units`, for `amount` (tax included, `tax` of it), shown as
    `lines`; `unspent` = payment − amount."""

    units: Decimal
    amount: Decimal
    tax: Decimal
    lines: tuple[Line, ...]
    unspent: Decimal
    already_purchased_units: Decimal


def _money(value: object, name: str) -> Decimal:
    """A payment or a count of units: Decimal or int, finite, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise PricingError(INPUT_INVALID, input=name, charge=None, reason="not_a_number")
    number = Decimal(value)
    if not number.is_finite() or abs(number) >= d.MAX_MAGNITUDE:
        raise PricingError(INPUT_INVALID, input=name, charge=None, reason="out_of_range")
    if number < 0:
        raise PricingError(INPUT_INVALID, input=name, charge=None, reason="negative")
    return number


def _month(period: tuple[int, int] | date) -> tuple[date, date]:
    """The calendar month of `period`: (year, month) or any date in it."""
    if isinstance(period, date):
        return month_bounds(period.year, period.month)
    try:
        year, month = period
    except (TypeError, ValueError):
        raise PricingError(
            INPUT_INVALID, input="period", charge=None, reason="not_year_month"
        ) from None
    return month_bounds(year, month)


def _gross(price: Decimal, factor: Decimal) -> Decimal:
    """A unit price with tax, exact, without trailing zeros (2.50 × 1.15 = 2.875)."""
    value = (price * factor).normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value  # type: ignore[operator]


def _unit_charges(
    tariff: d.Tariff, *, indigent: bool, pensioner: bool
) -> list[tuple[d.Charge, list[tuple[Decimal | None, Decimal]]]]:
    """Each per-unit charge that applies, as its bands [(up_to or None, price incl. tax)]."""
    gross = Decimal(1)
    if tariff.tax is not None and not tariff.tax.prices_include_tax:
        gross += tariff.tax.rate
    flags = {"indigent": indigent, "pensioner": pensioner, "metered": True}
    found = []
    for charge in tariff.charges:
        if isinstance(charge, _IGNORED):
            continue
        if any(flags[name] != wanted for name, wanted in charge.when):
            continue
        if isinstance(charge, d.BlockCharge):
            bands = [(band.up_to, _gross(band.price, gross)) for band in charge.blocks]
        elif isinstance(charge, d.FlatCharge) and charge.quantity == "consumption":
            bands = [(None, _gross(charge.price, gross))]
        else:
            raise PricingError(PREPAID_UNSUPPORTED_CHARGE, charge=charge.id, kind=charge.kind)
        found.append((charge, bands))
    if not found:
        raise PricingError(PREPAID_NO_UNIT_PRICE, code=tariff.code)
    return found


def _price_at(bands: list[tuple[Decimal | None, Decimal]], position: Decimal) -> Decimal:
    """The price of the unit just after `position` units."""
    return next(price for up_to, price in bands if up_to is None or position < up_to)


def _units_for(
    charges: list[tuple[d.Charge, list]], start: Decimal, money: Decimal, code: str
) -> Decimal:
    """The exact units `money` buys from `start`, walking the segments between every
    charge's block limits, each at the sum of the charges' prices there."""
    limits = sorted({up_to for _, bands in charges for up_to, _ in bands if up_to is not None})
    position, units = start, ZERO
    for limit in [*(lim for lim in limits if lim > start), None]:
        unit_price = sum((_price_at(bands, position) for _, bands in charges), ZERO)
        if limit is None:
            if unit_price == 0:
                raise PricingError(PREPAID_FREE_UNBOUNDED, code=code)
            return units + money / unit_price
        cost = (limit - position) * unit_price
        if cost > money:
            return units + money / unit_price
        money -= cost
        units += limit - position
        position = limit
    raise AssertionError("unreachable: the last segment has no upper limit")


def _terms(bands: list, start: Decimal, end: Decimal, unit: str) -> tuple[Term, ...]:
    """The units in (start, end] per band, each at its price."""
    terms = []
    lower = ZERO
    for up_to, price in bands:
        upper = end if up_to is None else min(up_to, end)
        low = max(lower, start)
        if upper > low:
            terms.append(Term(quantity(upper - low), unit, price))
        if up_to is None or up_to >= end:
            break
        lower = up_to
    return tuple(terms)


def prepaid_purchase(
    tariff: d.Tariff,
    amount: Decimal,
    already_purchased_units: Decimal,
    *,
    period: tuple[int, int] | date,
    indigent: bool = False,
    pensioner: bool = False,
    unit_step: Decimal = UNIT_STEP,
) -> PrepaidQuote:
    """The units a payment of `amount` (tax included) buys in the month `period` ((year,
    month) or any date in it) after `already_purchased_units` were bought in that month."""
    payment = _money(amount, "amount")
    if payment != payment.quantize(tariff.rounding.amount, ROUND_DOWN):
        raise PricingError(INPUT_INVALID, input="amount", charge=None, reason="too_many_decimals")
    if already_purchased_units is None:
        raise PricingError(INPUT_REQUIRED, input="already_purchased_units", charge=None)
    start = quantity(_money(already_purchased_units, "already_purchased_units"))
    first, last = _month(period)
    if not tariff.in_force(first, last):
        raise PricingError(
            TARIFF_NOT_IN_FORCE,
            code=tariff.code,
            valid_from=tariff.valid_from.isoformat(),
            valid_to=tariff.valid_to.isoformat() if tariff.valid_to else None,
        )
    charges = _unit_charges(tariff, indigent=indigent, pensioner=pensioner)
    exact = _units_for(charges, start, payment, tariff.code)
    units = exact.quantize(unit_step, ROUND_DOWN)
    mode = ROUNDING_MODES[tariff.rounding.mode]
    places = max(0, -tariff.rounding.amount.as_tuple().exponent)  # type: ignore[operator]
    while True:
        lines = []
        for charge, bands in charges:
            terms = _terms(bands, start, start + units, tariff.unit)
            if not terms:
                continue
            exact_amount = sum((term.amount for term in terms), ZERO)
            rates = {term.rate for term in terms}
            lines.append(
                Line(
                    charge_id=charge.id,
                    kind=charge.kind,
                    label=charge.description or charge.kind,
                    quantity=quantity(units),
                    unit=tariff.unit,
                    rate=rates.pop() if len(rates) == 1 else None,
                    amount=exact_amount.quantize(tariff.rounding.amount, mode),
                    terms=terms,
                    explanation=format_explanation(
                        terms, currency=tariff.currency, money_places=places
                    ),
                )
            )
        spent = sum((line.amount for line in lines), ZERO).quantize(tariff.rounding.amount)
        # Lines rounded one by one may add up past the payment by a cent or so: sell a
        # step less until they fit.
        if spent <= payment or units <= 0:
            break
        units -= unit_step
    tax = ZERO.quantize(tariff.rounding.amount)
    if tariff.tax is not None:
        rate = tariff.tax.rate
        tax = (spent * rate / (1 + rate)).quantize(tariff.rounding.amount, mode)
    return PrepaidQuote(
        units=quantity(units),
        amount=spent,
        tax=tax,
        lines=tuple(lines),
        unspent=payment - spent,
        already_purchased_units=start,
    )
