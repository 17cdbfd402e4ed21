"""The pricing engine: a tariff and plain inputs in, priced and explained lines out. No Django
import.

`price(tariff, inp)` evaluates the tariff's charges in the order they are listed (a charge
may refer only to charges before it), each giving zero or more `Line`s; then the tax.

Rounding (docs/tariffs.md): every line's amount is the exact sum of its terms rounded once,
to the tariff's `rounding.amount` with its mode (ZA, UA, RU: the cent or kopeck, half up);
tax is computed on the sum of the rounded lines and rounded the same way. Quantities are
kept to at most 6 decimals (inputs with more are rounded half up to 6; prorated block limits
likewise); amounts come from the exact products, never from a rounded quantity.

`compile_tariff(tariff)` gives a `Pricer` that remembers quotes by the inputs the tariff
actually reads, so a billing run pricing many accounts with the same consumption or area
computes each distinct case once.
"""

from __future__ import annotations

import calendar
import gc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from functools import lru_cache
from operator import attrgetter
from typing import Any

from civicdesk.tariffs import definition as d

# --- Units and rate styles used in terms --------------------------------------------------
MONEY = "money"  # Term.unit of an amount of money (a fixed charge, a percentage's base)
M2 = "m²"
OCCUPANTS = "occupants"  # unit keys that are words: format_explanation's unit_labels
DAYS = "days"
MONTH = "month"
PERCENT = "percent"  # Term.rate_unit: the rate is a fraction shown as a percentage
NUMBER = "number"  # Term.rate_unit: a plain multiplier (rate in the rand)
DEFAULT_UNIT_LABELS = {OCCUPANTS: "occupants", DAYS: "days", MONTH: "month"}

# --- Pricing error codes (errors.py has a message for each) ----------------------------------
INPUT_REQUIRED = "input_required"  # {"input", "charge"}
INPUT_INVALID = "input_invalid"  # {"input", "charge", "reason"}
METER_SIZE_UNKNOWN = "meter_size_unknown"  # {"meter_size", "charge", "sizes"}
TARIFF_NOT_IN_FORCE = "tariff_not_in_force"  # {"code", "valid_from", "valid_to"}
PRICING_ERROR_CODES = frozenset(
    {INPUT_REQUIRED, INPUT_INVALID, METER_SIZE_UNKNOWN, TARIFF_NOT_IN_FORCE}
)
# Why an input is invalid (input_invalid's "reason"; prepaid uses them too).
INVALID_REASONS = frozenset(
    {
        "not_a_number",
        "out_of_range",
        "negative",
        "not_a_whole_number",
        "period_given_twice",
        "not_year_month",
        "not_a_date",
        "before_start",
        "below_area",
        "too_many_decimals",
        "not_text",
    }
)

CURRENCY_SYMBOLS = {"ZAR": "R", "UAH": "₴", "RUB": "₽"}
ROUNDING_MODES = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
}
MAX_INPUT = Decimal(10) ** 12
QUANTITY_STEP = Decimal("0.000001")
ZERO = Decimal(0)
ONE = Decimal(1)
TWELVE = Decimal(12)
MINUS = "−"  # U+2212, the minus sign of printed explanations


class PricingError(ValueError):
    """Why an input cannot be priced: a stable code and the facts for its message."""

    def __init__(self, code: str, /, **params: Any):
        self.code = code
        self.params = params
        super().__init__(f"{code}: {params}")

    def __eq__(self, other: object) -> bool:
        """Errors with the same code and facts are equal (batches compare their results)."""
        if not isinstance(other, PricingError):
            return NotImplemented
        return (self.code, self.params) == (other.code, other.params)

    def __hash__(self) -> int:
        return hash((self.code, tuple(sorted(self.params))))


# --- Inputs and outputs -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PricingInput:
    """Everything a charge may read. Quantities are Decimal (or int); dates are the billing
    period: `period` (year, month), or `period_start`..`period_end` inclusive.
    `days_in_service` (default: the whole period) prorates monthly block limits, allowances and
    fixed charges marked `prorate`; `days_of_service` is the days heating was supplied (UA).
    `building_area_m2` is the total area the building's meter is shared over (heated area for
    UA heating)."""

    consumption: Decimal | None = None
    period: tuple[int, int] | None = None
    period_start: date | None = None
    period_end: date | None = None
    days_in_service: int | None = None
    area_m2: Decimal | None = None
    heated_area_m2: Decimal | None = None
    occupants: int | None = None
    meter_size: str | None = None
    valuation: Decimal | None = None
    building_consumption: Decimal | None = None
    building_area_m2: Decimal | None = None
    temperature_coefficient: Decimal | None = None
    days_of_service: int | None = None
    indigent: bool = False
    pensioner: bool = False
    extra: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Factor:
    """A multiplier between a term's quantity and its rate: a norm (0.0220 Gcal/m²), a
    coefficient, or a share shown as a fraction (`value`/`per`: 82.5/4,560.3 m², 20/31 days)."""

    value: Decimal
    unit: str = ""
    per: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Term:
    """One product of a line: (quantity − less) × factors × rate ÷ divisor. A rate of None
    means the quantity is itself an amount of money (a fixed charge)."""

    quantity: Decimal
    unit: str
    rate: Decimal | None
    factors: tuple[Factor, ...] = ()
    rate_unit: str = MONEY
    less: Decimal | None = None
    divisor: Decimal | None = None

    @property
    def amount(self) -> Decimal:
        """The exact (unrounded) amount."""
        value = self.quantity if self.less is None else self.quantity - self.less
        for factor in self.factors:
            value *= factor.value
        if self.rate is not None:
            value *= self.rate
        divisor = ONE if self.divisor is None else self.divisor
        for factor in self.factors:
            if factor.per is not None:
                divisor *= factor.per
        return value / divisor if divisor != ONE else value


@dataclass(frozen=True, slots=True)
class Line:
    charge_id: str
    kind: str
    label: str
    quantity: Decimal
    unit: str
    rate: Decimal | None
    amount: Decimal
    terms: tuple[Term, ...]
    explanation: str


@dataclass(frozen=True, slots=True)
class Quote:
    """The priced lines and totals. Without tax in the prices, the lines add up to
    `total_excl_tax`; with tax in them, to `total`."""

    tariff_code: str
    tariff_version: int
    currency: str
    lines: tuple[Line, ...]
    total_excl_tax: Decimal
    tax: Decimal
    total: Decimal
    tax_label: str | None = None
    tax_rate: Decimal | None = None
    prices_include_tax: bool = False


# --- Explanations -----------------------------------------------------------------------------
def currency_symbol(currency: str) -> str:
    return CURRENCY_SYMBOLS.get(currency, currency + " ")


def _digits(value: Decimal, decimal_sep: str, group_sep: str) -> str:
    text = format(abs(value), ",f")
    if (decimal_sep, group_sep) != (".", ","):
        text = text.replace(",", "\x00").replace(".", decimal_sep).replace("\x00", group_sep)
    return MINUS + text if value < 0 else text


def _quantity_text(value: Decimal, decimal_sep: str, group_sep: str) -> str:
    if value == value.to_integral_value():
        return _digits(value.quantize(ONE), decimal_sep, group_sep)
    return _digits(value.normalize(), decimal_sep, group_sep)


def _money_text(
    value: Decimal, symbol: str, step: Decimal, decimal_sep: str, group_sep: str
) -> str:
    padded = value.quantize(step)  # at least the currency's places, more if the value has them
    if padded == value:
        value = padded
    text = _digits(abs(value), decimal_sep, group_sep)
    return f"{MINUS if value < 0 else ''}{symbol}{text}"


def format_explanation(
    terms: Iterable[Term],
    *,
    currency: str,
    decimal_sep: str = ".",
    group_sep: str = ",",
    unit_labels: Mapping[str, str] | None = None,
    money_places: int = 2,
) -> str:
    """Terms as the reader reads them: "100 kWh × R2.50 + 300 kWh × R3.00", "82.5 m² ×
    0.0220 Gcal/m² × ₽2,847.13", "R1,276.00 × 70%". Numbers in the reader's style; word
    units ("occupants", "days") through `unit_labels` (errors.unit_labels() translates them);
    money with at least `money_places` decimals; quantities without trailing zeros; factors
    and plain rates as the tariff writes them."""
    labels = DEFAULT_UNIT_LABELS if unit_labels is None else unit_labels
    symbol = currency_symbol(currency)
    step = ONE.scaleb(-money_places)

    def money(value: Decimal) -> str:
        return _money_text(value, symbol, step, decimal_sep, group_sep)

    def quantity(value: Decimal, unit: str) -> str:
        if unit == MONEY:
            return money(value)
        text = _quantity_text(value, decimal_sep, group_sep)
        return f"{text} {labels.get(unit, unit)}" if unit else text

    parts = []
    for term in terms:
        text = quantity(term.quantity, term.unit)
        has_more = bool(term.factors) or term.rate is not None or term.divisor is not None
        if term.less is not None:
            text = f"{text} {MINUS} {quantity(term.less, term.unit)}"
            text = f"({text})" if has_more else text
        for factor in term.factors:
            value = _digits(factor.value, decimal_sep, group_sep)
            if factor.per is not None:
                value = f"{value}/{_quantity_text(factor.per, decimal_sep, group_sep)}"
            text += f" × {value} {labels.get(factor.unit, factor.unit)}".rstrip()
        if term.rate is not None:
            if term.rate_unit == MONEY:
                rate = money(term.rate)
            elif term.rate_unit == PERCENT:
                rate = _quantity_text(term.rate * 100, decimal_sep, group_sep) + "%"
            else:
                rate = _digits(term.rate, decimal_sep, group_sep)
            text += f" × {rate}"
        if term.divisor is not None:
            text += f" ÷ {_quantity_text(term.divisor, decimal_sep, group_sep)}"
        parts.append(text)
    return " + ".join(parts)


# --- Reading inputs ---------------------------------------------------------------------------
def quantity(value: Decimal) -> Decimal:
    """A quantity as the engine keeps it: at most 6 decimals (half up), no trailing zeros."""
    value = value.quantize(QUANTITY_STEP, ROUND_HALF_UP)
    if value == value.to_integral_value():
        return value.quantize(ONE) if value else ZERO
    return value.normalize()


def _number(value: Any, name: str, charge: str | None) -> Decimal:
    """An input quantity checked: Decimal or int (never float or bool), finite, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise PricingError(INPUT_INVALID, input=name, charge=charge, reason="not_a_number")
    number = Decimal(value)
    if not number.is_finite() or abs(number) >= MAX_INPUT:
        raise PricingError(INPUT_INVALID, input=name, charge=charge, reason="out_of_range")
    if number < 0:
        raise PricingError(INPUT_INVALID, input=name, charge=charge, reason="negative")
    return quantity(number)


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PricingError(INPUT_INVALID, input=name, charge=None, reason="not_a_whole_number")
    if not low <= value <= high:
        raise PricingError(INPUT_INVALID, input=name, charge=None, reason="out_of_range")
    return value


@lru_cache(maxsize=1024)
def _month(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def month_bounds(year: Any, month: Any) -> tuple[date, date]:
    """The first and last day of a month, or a PricingError on the input `period`."""
    return _month(_whole(year, "period", 1, 9999), _whole(month, "period", 1, 12))


def _period_bounds(inp: PricingInput) -> tuple[date, date] | None:
    """The billing period's first and last day, or None when the input gives none."""
    if inp.period is not None:
        if inp.period_start is not None or inp.period_end is not None:
            raise PricingError(
                INPUT_INVALID, input="period", charge=None, reason="period_given_twice"
            )
        try:
            year, month = inp.period
        except (TypeError, ValueError):
            raise PricingError(
                INPUT_INVALID, input="period", charge=None, reason="not_year_month"
            ) from None
        return month_bounds(year, month)
    if inp.period_start is None and inp.period_end is None:
        return None
    for name in ("period_start", "period_end"):
        value = getattr(inp, name)
        if value is None:
            raise PricingError(INPUT_REQUIRED, input=name, charge=None)
        if not isinstance(value, date) or isinstance(value, datetime):
            raise PricingError(INPUT_INVALID, input=name, charge=None, reason="not_a_date")
    if inp.period_end < inp.period_start:  # type: ignore[operator]
        raise PricingError(INPUT_INVALID, input="period_end", charge=None, reason="before_start")
    return inp.period_start, inp.period_end  # type: ignore[return-value]


class _Context:
    """One input being priced: its period and days of service, checked once. Everything else
    is read, and checked, by the charges that need it (`need`)."""

    __slots__ = ("days", "full", "inp", "period_days")

    def __init__(self, tariff: d.Tariff, inp: PricingInput):
        if not isinstance(inp, PricingInput):
            raise TypeError("price() takes a PricingInput")
        self.inp = inp
        bounds = _period_bounds(inp)
        if bounds is not None and not tariff.in_force(*bounds):
            raise PricingError(
                TARIFF_NOT_IN_FORCE,
                code=tariff.code,
                valid_from=tariff.valid_from.isoformat(),
                valid_to=tariff.valid_to.isoformat() if tariff.valid_to else None,
            )
        self.period_days = None if bounds is None else (bounds[1] - bounds[0]).days + 1
        if inp.days_in_service is None:
            self.days = self.period_days
        elif self.period_days is None:
            raise PricingError(INPUT_REQUIRED, input="period", charge=None)
        else:
            self.days = _whole(inp.days_in_service, "days_in_service", 1, self.period_days)
        self.full = self.days == self.period_days

    def need(self, name: str, charge: str) -> Decimal:
        """A quantity input a charge cannot do without (`extra.<name>` reads `inp.extra`).
        Inputs are checked only when read, so an input the tariff ignores cannot fail it
        (and the Pricer's memory, keyed on the inputs read, agrees with `price`)."""
        if name.startswith("extra."):
            extra = self.inp.extra if isinstance(self.inp.extra, Mapping) else {}
            value = extra.get(name[6:])
        else:
            value = getattr(self.inp, name)
        if value is None:
            raise PricingError(INPUT_REQUIRED, input=name, charge=charge)
        return _number(value, name, charge)

    def holds(self, conditions: d.Conditions) -> bool:
        """Whether every condition (indigent, pensioner, metered) is as wanted."""
        for name, wanted in conditions:
            actual = (
                self.inp.consumption is not None if name == "metered" else getattr(self.inp, name)
            )
            if bool(actual) != wanted:
                return False
        return True


# --- Charges ----------------------------------------------------------------------------------
Evaluator = Callable[[_Context, dict[str, Decimal]], list[Line]]


class _Tariff:
    """A tariff made ready to price: each charge an evaluator closure over its constants."""

    def __init__(self, tariff: d.Tariff):
        self.tariff = tariff
        self.unit = tariff.unit
        self.quantum = tariff.rounding.amount
        self.mode = ROUNDING_MODES[tariff.rounding.mode]
        self.places = max(0, -tariff.rounding.amount.as_tuple().exponent)  # type: ignore[operator]
        self.evaluators = [self._compile(charge) for charge in tariff.charges]
        tax = tariff.tax
        self.tax_rate = None if tax is None else tax.rate
        self.tax_label = None if tax is None else ("vat" if tax.name.casefold() == "vat" else "tax")
        self.inclusive = bool(tax and tax.prices_include_tax)

    # helpers ---------------------------------------------------------------------------
    def round(self, value: Decimal) -> Decimal:
        return value.quantize(self.quantum, self.mode)

    def explain(self, terms: tuple[Term, ...]) -> str:
        return format_explanation(terms, currency=self.tariff.currency, money_places=self.places)

    def line(
        self,
        charge: d.Charge,
        label: str,
        qty: Decimal,
        unit: str,
        rate: Decimal | None,
        terms: tuple[Term, ...],
        exact: Decimal | None = None,
    ) -> Line:
        """A line of `charge`: its amount is the exact sum of the terms (or `exact`, when the
        caller has it already) rounded once."""
        amount = self.round(sum((t.amount for t in terms), ZERO) if exact is None else exact)
        return Line(
            charge_id=charge.id,
            kind=charge.kind,
            label=label,
            quantity=quantity(qty),
            unit=unit,
            rate=rate,
            amount=amount,
            terms=terms,
            explanation=self.explain(terms),
        )

    def label(self, charge: d.Charge, default: str) -> str:
        return charge.description or default

    # compilation -----------------------------------------------------------------------
    def _compile(self, charge: d.Charge) -> Evaluator:
        build = getattr(self, f"_{charge.kind}")
        evaluate = build(charge)
        if not charge.when:
            return evaluate
        conditions = charge.when

        def conditional(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            return evaluate(ctx, sums) if ctx.holds(conditions) else []

        return conditional

    def _limits(self, bands: tuple[d.Band, ...], prorate: bool) -> Callable[[_Context], list]:
        """[(limit or None, price)] for a context: limits × days ÷ period days when prorated,
        kept to 6 decimals; remembered per (days, period days)."""
        full = [(None if b.up_to is None else quantity(b.up_to), b.price) for b in bands]
        memo: dict[tuple[int, int], list] = {}

        def limits(ctx: _Context) -> list:
            if ctx.full or not prorate:
                return full
            key = (ctx.days, ctx.period_days)
            found = memo.get(key)
            if found is None:
                days, period = Decimal(ctx.days), Decimal(ctx.period_days)  # type: ignore[arg-type]
                found = [(None if u is None else quantity(u * days / period), p) for u, p in full]
                memo[key] = found
            return found

        return limits

    def _prorated(self, value: Decimal, ctx: _Context) -> Decimal:
        if ctx.full:
            return value
        return quantity(value * ctx.days / ctx.period_days)  # type: ignore[operator]

    @staticmethod
    def _block_terms(limits: list, consumption: Decimal, unit: str, sign: int = 1) -> list[Term]:
        """The consumption spread over the blocks: the units of each block at its price."""
        terms = []
        previous = ZERO
        for limit, price in limits:
            top = consumption if limit is None or limit > consumption else limit
            if top > previous or not terms:
                terms.append(Term(top - previous, unit, price if sign > 0 else -price))
            if limit is None or limit >= consumption:
                break
            previous = limit
        return terms

    def _flat(self, charge: d.FlatCharge) -> Evaluator:
        source = charge.quantity
        defaults = {"area_m2": M2, "heated_area_m2": M2, "building_area_m2": M2}
        defaults |= {"occupants": OCCUPANTS, "valuation": MONEY}
        guessed = defaults.get(source, "" if source.startswith("extra.") else self.unit)
        unit = charge.unit or guessed
        label = self.label(charge, "flat")

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            qty = ctx.need(source, charge.id)
            terms = (Term(qty, unit, charge.price),)
            return [self.line(charge, label, qty, unit, charge.price, terms, qty * charge.price)]

        return evaluate

    def _block(self, charge: d.BlockCharge) -> Evaluator:
        limits_for = self._limits(charge.blocks, charge.prorate)
        unit = self.unit
        label = self.label(charge, "block")
        free, free_when = charge.free_units, charge.free_units_when

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            consumption = ctx.need("consumption", charge.id)
            limits = limits_for(ctx)
            terms = tuple(self._block_terms(limits, consumption, unit))
            rates = {t.rate for t in terms}
            rate = next(iter(rates)) if len(rates) == 1 else None
            lines = [self.line(charge, label, consumption, unit, rate, terms)]
            if free is not None and ctx.holds(free_when):
                allowance = self._prorated(free, ctx) if charge.prorate else free
                units = min(allowance, consumption)
                credit = tuple(self._block_terms(limits, units, unit, sign=-1))
                lines.append(self.line(charge, "free_basic", units, unit, None, credit))
            return lines

        return evaluate

    def _tiers(self, charge: d.TiersCharge) -> Evaluator:
        limits_for = self._limits(charge.tiers, charge.prorate)
        unit = self.unit
        label = self.label(charge, "tiers")

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            consumption = ctx.need("consumption", charge.id)
            price = next(p for limit, p in limits_for(ctx) if limit is None or consumption <= limit)
            terms = (Term(consumption, unit, price),)
            return [self.line(charge, label, consumption, unit, price, terms)]

        return evaluate

    def _fixed(self, charge: d.FixedCharge) -> Evaluator:
        sizes = dict(charge.by_meter_size)
        label = self.label(charge, "fixed")
        built: dict[tuple, Line] = {}

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            amount, listed = charge.amount, None
            if sizes:
                size = ctx.inp.meter_size
                if size is not None and not isinstance(size, str):
                    raise PricingError(
                        INPUT_INVALID, input="meter_size", charge=charge.id, reason="not_text"
                    )
                if size is not None and size in sizes:
                    amount, listed = sizes[size], size
                elif amount is None and size is None:
                    raise PricingError(INPUT_REQUIRED, input="meter_size", charge=charge.id)
                elif amount is None:
                    raise PricingError(
                        METER_SIZE_UNKNOWN,
                        meter_size=str(size),
                        charge=charge.id,
                        sizes=sorted(sizes),
                    )
            assert amount is not None
            prorated = charge.prorate and not ctx.full
            key = (listed, ctx.days, ctx.period_days) if prorated else (listed,)
            line = built.get(key)
            if line is None:
                # The same few lines for every account (one per size and days in service):
                # lines are immutable, so each is built once.
                if prorated:
                    share = Factor(Decimal(ctx.days), DAYS, Decimal(ctx.period_days))  # type: ignore[arg-type]
                    terms = (Term(amount, MONEY, None, (share,)),)
                    qty = quantity(Decimal(ctx.days) / ctx.period_days)  # type: ignore[operator]
                else:
                    terms = (Term(amount, MONEY, None),)
                    qty = ONE
                line = built[key] = self.line(charge, label, qty, MONTH, amount, terms)
            return [line]

        return evaluate

    def _per_m2(self, charge: d.PerM2Charge) -> Evaluator:
        label = self.label(charge, "per_m2")

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            area = ctx.need(charge.area, charge.id)
            terms = (Term(area, M2, charge.rate),)
            return [self.line(charge, label, area, M2, charge.rate, terms, area * charge.rate)]

        return evaluate

    def _norm(self, charge: d.NormCharge) -> Evaluator:
        label = self.label(charge, "norm")
        unit = self.unit
        if charge.per == "occupant":
            source, base_unit, norm = "occupants", OCCUPANTS, Factor(charge.norm, unit)
        else:
            source, base_unit, norm = "area_m2", M2, Factor(charge.norm, f"{unit}/{M2}")

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            base = ctx.need(source, charge.id)
            terms = (Term(base, base_unit, charge.price, (norm,)),)
            volume = base * charge.norm
            return [self.line(charge, label, volume, unit, charge.price, terms)]

        return evaluate

    def _heating_ru_f2(self, charge: d.HeatingRuF2Charge) -> Evaluator:
        label = self.label(charge, "heating")
        unit = self.unit
        norm = Factor(charge.norm, f"{unit}/{M2}")

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            area = ctx.need(charge.area, charge.id)
            terms = (Term(area, M2, charge.price, (norm,)),)
            return [self.line(charge, label, area * charge.norm, unit, charge.price, terms)]

        return evaluate

    def _share(self, ctx: _Context, charge: d.Charge, area_input: str) -> tuple[Decimal, Factor]:
        """The building's metered volume and this premises' share of it (area ÷ total)."""
        volume = ctx.need("building_consumption", charge.id)
        area = ctx.need(area_input, charge.id)
        total = ctx.need("building_area_m2", charge.id)
        if total == 0 or area > total:
            raise PricingError(
                INPUT_INVALID, input="building_area_m2", charge=charge.id, reason="below_area"
            )
        return volume, Factor(area, M2, total)

    def _heating_ru_f3(self, charge: d.HeatingRuF3Charge) -> Evaluator:
        label = self.label(charge, "heating")
        unit = self.unit

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            volume, share = self._share(ctx, charge, "area_m2")
            terms = (Term(volume, unit, charge.price, (share,)),)
            qty = volume * share.value / share.per  # type: ignore[operator]
            return [self.line(charge, label, qty, unit, charge.price, terms)]

        return evaluate

    def _heating_ua(self, charge: d.HeatingUaCharge) -> Evaluator:
        label = self.label(charge, "heating")
        unit = self.unit
        norm = Factor(charge.norm, f"{unit}/{M2}")

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            inp = ctx.inp
            metered = charge.method == "metered" or (
                charge.method == "auto" and inp.building_consumption is not None
            )
            if metered:
                volume, share = self._share(ctx, charge, "heated_area_m2")
                terms = (Term(volume, unit, charge.price, (share,)),)
                qty = volume * share.value / share.per  # type: ignore[operator]
                return [self.line(charge, label, qty, unit, charge.price, terms)]
            area = ctx.need("heated_area_m2", charge.id)
            if inp.temperature_coefficient is not None:
                coefficient = ctx.need("temperature_coefficient", charge.id)
            elif charge.temperature_coefficient is not None:
                coefficient = charge.temperature_coefficient
            else:
                raise PricingError(
                    INPUT_REQUIRED, input="temperature_coefficient", charge=charge.id
                )
            factors = [norm, Factor(coefficient)]
            qty = area * charge.norm * coefficient
            days = ctx.days
            if inp.days_of_service is not None:
                if ctx.period_days is None:
                    raise PricingError(INPUT_REQUIRED, input="period", charge=charge.id)
                days = _whole(inp.days_of_service, "days_of_service", 0, ctx.period_days)
            if days != ctx.period_days:
                period = Decimal(ctx.period_days)  # type: ignore[arg-type]
                factors.append(Factor(Decimal(days), DAYS, period))  # type: ignore[arg-type]
                qty = qty * days / period  # type: ignore[operator]
            terms = (Term(area, M2, charge.price, tuple(factors)),)
            return [self.line(charge, label, qty, unit, charge.price, terms)]

        return evaluate

    def _property_rates(self, charge: d.PropertyRatesCharge) -> Evaluator:
        label = self.label(charge, "property_rates")

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            valuation = ctx.need("valuation", charge.id)
            if charge.exempt_up_to is not None and valuation <= charge.exempt_up_to:
                terms = (Term(valuation, MONEY, ZERO, rate_unit=NUMBER),)
                return [self.line(charge, "property_rates_exempt", valuation, MONEY, ZERO, terms)]
            less = min(charge.valuation_rebate, valuation) or None
            terms = (Term(valuation, MONEY, charge.rate, (), NUMBER, less, TWELVE),)
            rateable = valuation - (less or ZERO)
            lines = [self.line(charge, label, rateable, MONEY, charge.rate, terms)]
            remaining = lines[0].amount
            for condition, share in (
                ("indigent", charge.indigent_rebate),
                ("pensioner", charge.pensioner_rebate),
            ):
                if share and getattr(ctx.inp, condition) and remaining > 0:
                    credit = (Term(remaining, MONEY, -share, rate_unit=PERCENT),)
                    line = self.line(
                        charge, f"{condition}_rebate", remaining, MONEY, -share, credit
                    )
                    lines.append(line)
                    remaining += line.amount
            return lines

        return evaluate

    @staticmethod
    def _sum(sums: dict[str, Decimal], ids: tuple[str, ...]) -> Decimal:
        return sum((sums.get(i, ZERO) for i in ids), ZERO)

    def _minimum(self, charge: d.MinimumCharge) -> Evaluator:
        label = self.label(charge, "minimum_top_up")

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            reached = self._sum(sums, charge.applies_to)
            if reached >= charge.amount:
                return []
            terms = (Term(charge.amount, MONEY, None, less=reached),)
            return [self.line(charge, label, charge.amount, MONEY, None, terms)]

        return evaluate

    def _percentage(self, charge: d.PercentageCharge) -> Evaluator:
        label = self.label(charge, "percentage")

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            base = self._sum(sums, charge.of)
            terms = (Term(base, MONEY, charge.rate, rate_unit=PERCENT),)
            return [self.line(charge, label, base, MONEY, charge.rate, terms)]

        return evaluate

    def _rebate(self, charge: d.RebateCharge) -> Evaluator:
        conditions = dict(charge.when)
        default = "subsidy" if charge.kind == "subsidy" else "rebate"
        if default == "rebate" and conditions.get("indigent"):
            default = "indigent_rebate"
        elif default == "rebate" and conditions.get("pensioner"):
            default = "pensioner_rebate"
        label = self.label(charge, default)
        unit = self.unit

        def evaluate(ctx: _Context, sums: dict[str, Decimal]) -> list[Line]:
            if charge.rate is not None:
                base = self._sum(sums, charge.of)
                terms = (Term(base, MONEY, charge.rate, rate_unit=PERCENT),)
                return [self.line(charge, label, base, MONEY, charge.rate, terms)]
            if charge.free_units is not None:
                units = min(
                    self._prorated(charge.free_units, ctx), ctx.need("consumption", charge.id)
                )
                terms = (Term(units, unit, charge.price),)
                return [self.line(charge, label, units, unit, charge.price, terms)]
            credit = charge.amount
            assert credit is not None
            if charge.of:
                credit = max(credit, -max(self._sum(sums, charge.of), ZERO))
            terms = (Term(credit, MONEY, None),)
            return [self.line(charge, label, ONE, MONTH, credit, terms)]

        return evaluate

    _subsidy = _rebate

    # pricing ---------------------------------------------------------------------------
    def price(self, inp: PricingInput) -> Quote:
        ctx = _Context(self.tariff, inp)
        sums: dict[str, Decimal] = {}
        lines: list[Line] = []
        for charge, evaluate in zip(self.tariff.charges, self.evaluators, strict=True):
            produced = evaluate(ctx, sums)
            if produced:
                sums[charge.id] = sums.get(charge.id, ZERO) + sum(
                    (line.amount for line in produced), ZERO
                )
                lines.extend(produced)
        subtotal = sum((line.amount for line in lines), ZERO)
        subtotal = self.round(subtotal)  # exact already; gives the quantum's places at zero
        rate = self.tax_rate
        if rate is None:
            excl, tax, total = subtotal, self.round(ZERO), subtotal
        elif self.inclusive:
            total = subtotal
            tax = self.round(total * rate / (ONE + rate))
            excl = total - tax
        else:
            excl = subtotal
            tax = self.round(excl * rate)
            total = excl + tax
        return Quote(
            tariff_code=self.tariff.code,
            tariff_version=self.tariff.version,
            currency=self.tariff.currency,
            lines=tuple(lines),
            total_excl_tax=excl,
            tax=tax,
            total=total,
            tax_label=self.tax_label,
            tax_rate=rate,
            prices_include_tax=self.inclusive,
        )


_PREPARED: dict[int, tuple[d.Tariff, _Tariff]] = {}


def _prepared(tariff: d.Tariff) -> _Tariff:
    """The tariff made ready, remembered by identity: hashing a whole tariff on every call
    would cost more than the lookup saves. The entry holds the tariff, so its id stays its."""
    entry = _PREPARED.get(id(tariff))
    if entry is not None and entry[0] is tariff:
        return entry[1]
    if len(_PREPARED) >= 128:
        _PREPARED.clear()
    prepared = _Tariff(tariff)
    _PREPARED[id(tariff)] = (tariff, prepared)
    return prepared


def price(tariff: d.Tariff, inp: PricingInput) -> Quote:
    """Price one input (PricingError when an input the tariff needs is missing or wrong)."""
    return _prepared(tariff).price(inp)


# --- Compiled pricing with memory -------------------------------------------------------------
_ALWAYS = ("days_in_service", "period", "period_end", "period_start")


def inputs_used(tariff: d.Tariff) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(PricingInput fields, extra keys) the tariff's price can depend on."""
    names = set(_ALWAYS)
    extra: set[str] = set()
    for charge in tariff.charges:
        for condition, _ in (*charge.when, *getattr(charge, "free_units_when", ())):
            names.add("consumption" if condition == "metered" else condition)
        match charge:
            case d.FlatCharge(quantity=source) if source.startswith("extra."):
                extra.add(source[6:])
            case d.FlatCharge(quantity=source):
                names.add(source)
            case d.BlockCharge() | d.TiersCharge():
                names.add("consumption")
            case d.FixedCharge(by_meter_size=sizes) if sizes:
                names.add("meter_size")
            case d.PerM2Charge(area=area) | d.HeatingRuF2Charge(area=area):
                names.add(area)
            case d.NormCharge(per=per):
                names.add("occupants" if per == "occupant" else "area_m2")
            case d.HeatingRuF3Charge():
                names.update(("building_consumption", "area_m2", "building_area_m2"))
            case d.HeatingUaCharge():
                names.update(
                    (
                        "heated_area_m2",
                        "temperature_coefficient",
                        "days_of_service",
                        "building_consumption",
                        "building_area_m2",
                    )
                )
            case d.PropertyRatesCharge():
                names.update(("valuation", "indigent", "pensioner"))
            case d.RebateCharge(free_units=units) if units is not None:
                names.add("consumption")
    return tuple(sorted(names)), tuple(sorted(extra))


class Pricer:
    """A tariff compiled for many inputs: quotes remembered by the values of the inputs the
    tariff reads (`inputs_used`), at most `cache_size` of them (oldest forgotten first)."""

    def __init__(self, tariff: d.Tariff, *, cache_size: int = 50_000):
        self.tariff = tariff
        self._engine = _Tariff(tariff)
        names, self._extra = inputs_used(tariff)
        self._key = attrgetter(*names)
        self._cache: dict[Any, Quote] = {}
        self._cache_size = cache_size
        self.hits = 0
        self.misses = 0

    def _key_of(self, inp: PricingInput) -> Any:
        key = self._key(inp)
        if self._extra:
            extra = inp.extra if isinstance(inp.extra, Mapping) else {}
            key = (key, tuple(extra.get(name) for name in self._extra))
        return key

    def price(self, inp: PricingInput) -> Quote:
        try:
            key = self._key_of(inp)
            quote = self._cache.get(key)
        except TypeError:  # an unhashable value: price it uncached; it will be rejected
            return self._engine.price(inp)
        if quote is not None:
            self.hits += 1
            return quote
        self.misses += 1
        quote = self._engine.price(inp)
        if len(self._cache) >= self._cache_size:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = quote
        return quote

    def price_many(
        self, inputs: Iterable[PricingInput], *, errors: str = "raise"
    ) -> list[Quote | PricingError]:
        """A quote for each input, in order. errors="raise" stops at the first PricingError;
        errors="return" puts the PricingError in that input's place and goes on (a billing
        run lists them by account)."""
        if errors not in ("raise", "return"):
            raise ValueError("errors must be 'raise' or 'return'")
        # Quotes make no reference cycles, but each is a few dozen objects the cyclic
        # collector would scan again and again as the memory grows (half the time of a
        # batch of distinct inputs): pause it for the batch, as it was before afterwards.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._price_many(inputs, errors)
        finally:
            if collecting:
                gc.enable()

    def _price_many(
        self, inputs: Iterable[PricingInput], errors: str
    ) -> list[Quote | PricingError]:
        key_of = self._key if not self._extra else self._key_of
        cache = self._cache
        found: list[Quote | PricingError] = []
        append = found.append
        hits = 0
        for inp in inputs:
            try:
                quote = cache.get(key_of(inp))
            except TypeError:
                quote = None
            if quote is not None:
                hits += 1
                append(quote)
                continue
            try:
                append(self.price(inp))
            except PricingError as error:
                if errors == "raise":
                    raise
                append(error)
        self.hits += hits
        return found


def compile_tariff(tariff: d.Tariff, *, cache_size: int = 50_000) -> Pricer:
    return Pricer(tariff, cache_size=cache_size)
