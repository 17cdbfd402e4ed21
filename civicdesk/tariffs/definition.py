"""Tariff definitions: YAML or JSON text in, validated frozen dataclasses out. No Django import.

A definition is data an operator writes (docs/tariffs.md): a tariff's identity and validity,
its tax and rounding, and an ordered list of charges of the kinds the pricing engine knows
(`engine.py`). Everything that can be wrong with a definition is reported at once, as
`FieldError(path, code, params)` items of one `TariffError`, so an operator fixes a file in
one pass; the codes are stable and `errors.py` turns them into translated sentences.

Numbers are read exactly: strings and integers as they are, YAML floats through `str()` (so
``2.50`` reads as ``2.5``, never as the binary fraction behind it). `tariff_to_dict` writes the
canonical form (defaults filled in, decimals as strings, dates ISO), and
``parse_tariff(tariff_to_dict(t)) == t`` for every tariff.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import yaml

# --- Error codes (FieldError.code); errors.py has a message for each. ----------------------
YAML_SYNTAX = "yaml_syntax"  # {"line", "column", "problem"}
TEXT_TOO_LARGE = "text_too_large"  # {"max"}
EMPTY = "empty"  # a file without a tariff, a tariff without charges, an empty list of blocks
NOT_A_MAPPING = "not_a_mapping"
NOT_A_LIST = "not_a_list"
REQUIRED = "required"
UNKNOWN_KEY = "unknown_key"  # {"key", "allowed"}
NOT_A_STRING = "not_a_string"
TOO_LONG = "too_long"  # {"max"}
BAD_IDENTIFIER = "bad_identifier"  # codes and ids: letters, digits, . _ -
NOT_A_DECIMAL = "not_a_decimal"
TOO_MANY_DECIMALS = "too_many_decimals"  # {"max"}
TOO_LARGE = "too_large"  # {"max"}
NEGATIVE_NOT_ALLOWED = "negative_not_allowed"
MUST_NOT_BE_POSITIVE = "must_not_be_positive"  # rebates and subsidies are credits
MUST_BE_POSITIVE = "must_be_positive"
OUT_OF_RANGE = "out_of_range"  # {"min", "max"}
NOT_AN_INTEGER = "not_an_integer"
NOT_A_BOOLEAN = "not_a_boolean"
NOT_A_DATE = "not_a_date"
VALID_TO_BEFORE_VALID_FROM = "valid_to_before_valid_from"
UNKNOWN_CURRENCY = "unknown_currency"
UNKNOWN_JURISDICTION = "unknown_jurisdiction"  # {"allowed"}
BAD_ROUNDING_AMOUNT = "bad_rounding_amount"  # a power of ten from 1 to 0.0001
UNKNOWN_CHARGE_KIND = "unknown_charge_kind"  # {"kind", "allowed"}
UNKNOWN_CHOICE = "unknown_choice"  # {"value", "allowed"}
UNKNOWN_LABEL = "unknown_label"  # {"label"}
UNKNOWN_INPUT = "unknown_input"  # {"input", "allowed"}
UNKNOWN_CONDITION = "unknown_condition"  # {"condition", "allowed"}
NOT_ASCENDING = "not_ascending"  # {"previous"}
UNBOUNDED_NOT_LAST = "unbounded_not_last"
LAST_MUST_BE_UNBOUNDED = "last_must_be_unbounded"
TOO_MANY = "too_many"  # {"max"}
DUPLICATE_ID = "duplicate_id"  # {"id"}
UNKNOWN_REFERENCE = "unknown_reference"  # {"id"}
REFERENCE_NOT_BEFORE = "reference_not_before"  # {"id"}: refer only to charges listed earlier
ONE_OF_REQUIRED = "one_of_required"  # {"keys"}
CONFLICTING_KEYS = "conflicting_keys"  # {"keys"}
DUPLICATE_TARIFF = "duplicate_tariff"  # {"code", "version"}

# Every constant above is an error code: collect them, so none can lack a message.
ERROR_CODES = frozenset(
    value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)
)

# --- Limits: they keep every product of the engine inside Decimal's 28 digits. ---------------
MAX_TEXT = 512 * 1024
MAX_DECIMAL_PLACES = 10
MAX_MAGNITUDE = Decimal(10) ** 12
MAX_CHARGES = 100
MAX_BANDS = 50
MAX_METER_SIZES = 50
MAX_TEXT_FIELD = 100

JURISDICTIONS = ("za", "ua", "ru")
ROUNDING_MODES = ("half_up", "half_even", "down", "up")
PER_CHOICES = ("occupant", "m2")
AREA_CHOICES = ("area_m2", "heated_area_m2")
HEATING_UA_METHODS = ("auto", "norm", "metered")
CONDITIONS = ("indigent", "pensioner", "metered")
# Inputs a `flat` charge may take its quantity from (besides `extra.<name>`).
QUANTITY_INPUTS = (
    "consumption",
    "area_m2",
    "heated_area_m2",
    "occupants",
    "valuation",
    "building_consumption",
    "building_area_m2",
)

# Line labels: stable keys that errors.py translates. A charge's `description` picks one.
LABELS = frozenset(
    {
        # the engine's own labels
        "flat",
        "block",
        "tiers",
        "fixed",
        "per_m2",
        "norm",
        "heating",
        "property_rates",
        "property_rates_exempt",
        "minimum_top_up",
        "percentage",
        "rebate",
        "subsidy",
        "free_basic",
        "indigent_rebate",
        "pensioner_rebate",
        "vat",
        "tax",
        # descriptions an operator may give a charge
        "electricity",
        "energy_charge",
        "network_charge",
        "basic_charge",
        "availability_charge",
        "service_charge",
        "water",
        "cold_water",
        "hot_water",
        "sewerage",
        "refuse",
        "solid_waste",
        "gas",
        "maintenance",
        "management",
        "current_repair",
        "capital_repair",
        "common_property",
        "free_basic_electricity",
        "free_basic_water",
    }
)

# ISO 4217 active codes and their minor units (2 unless listed).
_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWG"""
_NO_MINOR_UNIT = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THREE_MINOR_UNITS = "BHD IQD JOD KWD LYD OMR TND"
CURRENCIES = frozenset(_ISO_4217.split())
MINOR_UNITS = {
    **dict.fromkeys(_NO_MINOR_UNIT.split(), 0),
    **dict.fromkeys(_THREE_MINOR_UNITS.split(), 3),
}

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


# --- The data ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldError:
    """One thing wrong with a definition: where (`charges[0].blocks[2].up_to`), what (a
    stable code) and the facts a message needs."""

    path: str
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)


class TariffError(ValueError):
    """Every error found in a definition (never only the first)."""

    def __init__(self, errors: list[FieldError]):
        self.errors = list(errors)
        summary = "; ".join(f"{e.path or '(root)'}: {e.code}" for e in self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"invalid tariff definition: {summary}{more}")


Conditions = tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class Rounding:
    """How amounts are rounded: to `amount` (a power of ten) with `mode`."""

    amount: Decimal = Decimal("0.01")
    mode: str = "half_up"


@dataclass(frozen=True)
class Tax:
    name: str
    rate: Decimal
    prices_include_tax: bool = False


@dataclass(frozen=True)
class Band:
    """A block or tier: up to and including `up_to` units (None: no upper bound)."""

    up_to: Decimal | None
    price: Decimal


@dataclass(frozen=True, kw_only=True)
class Charge:
    """What every charge has: an id others refer to, a label key, conditions on the inputs."""

    kind: ClassVar[str] = ""
    id: str
    description: str | None = None
    when: Conditions = ()


@dataclass(frozen=True, kw_only=True)
class FlatCharge(Charge):
    kind: ClassVar[str] = "flat"
    price: Decimal
    quantity: str = "consumption"
    unit: str | None = None


@dataclass(frozen=True, kw_only=True)
class BlockCharge(Charge):
    kind: ClassVar[str] = "block"
    blocks: tuple[Band, ...]
    free_units: Decimal | None = None
    free_units_when: Conditions = ()
    prorate: bool = True


@dataclass(frozen=True, kw_only=True)
class TiersCharge(Charge):
    kind: ClassVar[str] = "tiers"
    tiers: tuple[Band, ...]
    prorate: bool = True


@dataclass(frozen=True, kw_only=True)
class FixedCharge(Charge):
    kind: ClassVar[str] = "fixed"
    amount: Decimal | None = None
    by_meter_size: tuple[tuple[str, Decimal], ...] = ()
    prorate: bool = False


@dataclass(frozen=True, kw_only=True)
class PerM2Charge(Charge):
    kind: ClassVar[str] = "per_m2"
    rate: Decimal
    area: str = "area_m2"


@dataclass(frozen=True, kw_only=True)
class NormCharge(Charge):
    kind: ClassVar[str] = "norm"
    norm: Decimal
    per: str
    price: Decimal


@dataclass(frozen=True, kw_only=True)
class HeatingRuF2Charge(Charge):
    kind: ClassVar[str] = "heating_ru_f2"
    norm: Decimal
    price: Decimal
    area: str = "area_m2"


@dataclass(frozen=True, kw_only=True)
class HeatingRuF3Charge(Charge):
    kind: ClassVar[str] = "heating_ru_f3"
    price: Decimal


@dataclass(frozen=True, kw_only=True)
class HeatingUaCharge(Charge):
    kind: ClassVar[str] = "heating_ua"
    norm: Decimal
    price: Decimal
    method: str = "auto"
    temperature_coefficient: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class PropertyRatesCharge(Charge):
    kind: ClassVar[str] = "property_rates"
    rate: Decimal
    valuation_rebate: Decimal = Decimal(0)
    exempt_up_to: Decimal | None = None
    pensioner_rebate: Decimal | None = None
    indigent_rebate: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class MinimumCharge(Charge):
    kind: ClassVar[str] = "minimum"
    applies_to: tuple[str, ...]
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class PercentageCharge(Charge):
    kind: ClassVar[str] = "percentage"
    of: tuple[str, ...]
    rate: Decimal


@dataclass(frozen=True, kw_only=True)
class RebateCharge(Charge):
    """A credit: a fixed `amount` (capped at the sum of `of` when given), `rate` × the sum of
    `of`, or `free_units` (at most the consumption) at `price`. Values are written negative."""

    kind: ClassVar[str] = "rebate"
    amount: Decimal | None = None
    of: tuple[str, ...] = ()
    rate: Decimal | None = None
    free_units: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class SubsidyCharge(RebateCharge):
    kind: ClassVar[str] = "subsidy"


CHARGE_CLASSES: dict[str, type[Charge]] = {
    cls.kind: cls
    for cls in (
        FlatCharge,
        BlockCharge,
        TiersCharge,
        FixedCharge,
        PerM2Charge,
        NormCharge,
        HeatingRuF2Charge,
        HeatingRuF3Charge,
        HeatingUaCharge,
        PropertyRatesCharge,
        MinimumCharge,
        PercentageCharge,
        RebateCharge,
        SubsidyCharge,
    )
}
CHARGE_KINDS = tuple(CHARGE_CLASSES)


@dataclass(frozen=True)
class Tariff:
    code: str
    service: str
    unit: str
    currency: str
    valid_from: date
    charges: tuple[Charge, ...]
    name: str | None = None
    version: int = 1
    valid_to: date | None = None
    jurisdiction: str | None = None
    tax: Tax | None = None
    rounding: Rounding = Rounding()

    def in_force(self, start: date, end: date) -> bool:
        """Whether the tariff applies on at least one day of [start, end]."""
        return self.valid_from <= end and (self.valid_to is None or self.valid_to >= start)


def default_rounding(jurisdiction: str | None, currency: str) -> Rounding:
    """ZA, UA and RU: each line to the cent or kopeck, half up (docs/tariffs.md); elsewhere
    the currency's minor unit, half up."""
    if jurisdiction in JURISDICTIONS:
        return Rounding(Decimal("0.01"), "half_up")
    return Rounding(Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2)), "half_up")


# --- Reading ----------------------------------------------------------------------------------
class _Invalid:
    """Marks a value that failed validation (its error is already recorded)."""


INVALID: Any = _Invalid()


class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, path: str, code: str, /, **params: Any) -> Any:
        """Record an error; INVALID, for parsers to return."""
        self.items.append(FieldError(path, code, params))
        return INVALID

    def fail(self, path: str, code: str, /, **params: Any) -> bool:
        """Record an error; False, for checks to return."""
        self.items.append(FieldError(path, code, params))
        return False


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _plain(value: Any) -> str:
    """A value as it may appear in a message's parameters: short plain text (containers
    through reprlib, which bounds their depth and length)."""
    text = reprlib.repr(value) if isinstance(value, list | dict | tuple | set) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


Parser = Callable[[_Errors, str, Any], Any]


def _text(max_length: int = MAX_TEXT_FIELD) -> Parser:
    def parse(errs: _Errors, path: str, value: Any) -> Any:
        if not isinstance(value, str):
            return errs.add(path, NOT_A_STRING)
        value = value.strip()
        if not value:
            return errs.add(path, REQUIRED)
        if len(value) > max_length:
            return errs.add(path, TOO_LONG, max=max_length)
        return value

    return parse


def _identifier(errs: _Errors, path: str, value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return errs.add(path, NOT_A_STRING)
    if not _IDENTIFIER.match(value):
        return errs.add(path, BAD_IDENTIFIER, value=_plain(value))
    return value


def read_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a string, an int or a YAML float (through str()); None if the
    value is none of these or not a number. Booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | float | str):
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            return None
    else:
        return None
    return number if number.is_finite() else None


def _tidy(number: Decimal) -> Decimal | None:
    """The number without a positive exponent (1E+2 → 100), without a negative zero, and
    with at most MAX_DECIMAL_PLACES places (trailing zeros dropped to get there); None when
    it needs more places."""
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        number = number.quantize(Decimal(1))
    elif isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        number = number.normalize()
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
            return None
        if isinstance(exponent, int) and exponent > 0:
            number = number.quantize(Decimal(1))
    return abs(number) if number == 0 else number


def _decimal(
    sign: str = "non_negative", low: Decimal | None = None, high: Decimal | None = None
) -> Parser:
    """A decimal parser. sign: non_negative, positive, non_positive or any; low/high bound
    the value inclusively (reported as out_of_range)."""

    def parse(errs: _Errors, path: str, value: Any) -> Any:
        number = read_decimal(value)
        if number is None:
            return errs.add(path, NOT_A_DECIMAL, value=_plain(value))
        if abs(number) >= MAX_MAGNITUDE:
            return errs.add(path, TOO_LARGE, max=format(MAX_MAGNITUDE, "f"))
        number = _tidy(number)
        if number is None:
            return errs.add(path, TOO_MANY_DECIMALS, max=MAX_DECIMAL_PLACES)
        if sign == "non_negative" and number < 0:
            return errs.add(path, NEGATIVE_NOT_ALLOWED)
        if sign == "positive" and number <= 0:
            return errs.add(path, MUST_BE_POSITIVE)
        if sign == "non_positive" and number > 0:
            return errs.add(path, MUST_NOT_BE_POSITIVE)
        if (low is not None and number < low) or (high is not None and number > high):
            return errs.add(
                path,
                OUT_OF_RANGE,
                min=None if low is None else str(low),
                max=None if high is None else str(high),
            )
        return number

    return parse


def _boolean(errs: _Errors, path: str, value: Any) -> Any:
    if not isinstance(value, bool):
        return errs.add(path, NOT_A_BOOLEAN)
    return value


def _date(errs: _Errors, path: str, value: Any) -> Any:
    if isinstance(value, datetime):
        return errs.add(path, NOT_A_DATE, value=_plain(value))
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    return errs.add(path, NOT_A_DATE, value=_plain(value))


def _choice(allowed: tuple[str, ...]) -> Parser:
    def parse(errs: _Errors, path: str, value: Any) -> Any:
        if not isinstance(value, str):
            return errs.add(path, NOT_A_STRING)
        if value not in allowed:
            return errs.add(path, UNKNOWN_CHOICE, value=_plain(value), allowed=list(allowed))
        return value

    return parse


def _label(errs: _Errors, path: str, value: Any) -> Any:
    if not isinstance(value, str):
        return errs.add(path, NOT_A_STRING)
    if value not in LABELS:
        return errs.add(path, UNKNOWN_LABEL, label=_plain(value))
    return value


def _quantity_input(errs: _Errors, path: str, value: Any) -> Any:
    if not isinstance(value, str):
        return errs.add(path, NOT_A_STRING)
    if value in QUANTITY_INPUTS:
        return value
    prefix, _, name = value.partition(".")
    if prefix == "extra" and _IDENTIFIER.match(name):
        return value
    return errs.add(
        path, UNKNOWN_INPUT, input=_plain(value), allowed=[*QUANTITY_INPUTS, "extra.<name>"]
    )


def _conditions(errs: _Errors, path: str, value: Any) -> Any:
    if not isinstance(value, dict):
        return errs.add(path, NOT_A_MAPPING)
    found: list[tuple[str, bool]] = []
    ok = True
    for key, flag in value.items():
        key_path = _join(path, str(key))
        if key not in CONDITIONS:
            errs.add(key_path, UNKNOWN_CONDITION, condition=_plain(key), allowed=list(CONDITIONS))
            ok = False
        elif not isinstance(flag, bool):
            errs.add(key_path, NOT_A_BOOLEAN)
            ok = False
        else:
            found.append((key, flag))
    return tuple(sorted(found)) if ok else INVALID


def _references(errs: _Errors, path: str, value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return errs.add(path, NOT_A_LIST)
    if not value:
        return errs.add(path, EMPTY)
    if len(value) > MAX_CHARGES:
        return errs.add(path, TOO_MANY, max=MAX_CHARGES)
    refs = [_identifier(errs, _join(path, i), item) for i, item in enumerate(value)]
    return INVALID if any(ref is INVALID for ref in refs) else tuple(refs)


def _bands(errs: _Errors, path: str, value: Any) -> Any:
    """Blocks or tiers: strictly ascending `up_to`, only the last one (and it must) unbounded."""
    if not isinstance(value, list):
        return errs.add(path, NOT_A_LIST)
    if not value:
        return errs.add(path, EMPTY)
    if len(value) > MAX_BANDS:
        return errs.add(path, TOO_MANY, max=MAX_BANDS)
    bands: list[Band] = []
    ok = True
    previous: Decimal | None = None
    band_spec: Spec = {
        "up_to": (_nullable(_decimal("positive")), True),
        "price": (_decimal(), True),
    }
    for index, item in enumerate(value):
        item_path = _join(path, index)
        parsed, item_ok = _mapping(errs, item_path, item, band_spec)
        ok = ok and item_ok
        if "up_to" not in parsed:
            continue
        up_to = parsed["up_to"]
        last = index == len(value) - 1
        up_path = _join(item_path, "up_to")
        if up_to is None and not last:
            ok = errs.fail(up_path, UNBOUNDED_NOT_LAST)
        elif up_to is not None and last:
            ok = errs.fail(up_path, LAST_MUST_BE_UNBOUNDED)
        elif up_to is not None and previous is not None and up_to <= previous:
            ok = errs.fail(up_path, NOT_ASCENDING, previous=format(previous, "f"))
        if up_to is not None:
            previous = up_to if previous is None else max(previous, up_to)
        if item_ok:
            bands.append(Band(up_to, parsed["price"]))
    return tuple(bands) if ok else INVALID


def _meter_sizes(errs: _Errors, path: str, value: Any) -> Any:
    if not isinstance(value, dict):
        return errs.add(path, NOT_A_MAPPING)
    if not value:
        return errs.add(path, EMPTY)
    if len(value) > MAX_METER_SIZES:
        return errs.add(path, TOO_MANY, max=MAX_METER_SIZES)
    sizes: list[tuple[str, Decimal]] = []
    ok = True
    for key, amount in value.items():
        size = str(key).strip() if isinstance(key, str | int) and not isinstance(key, bool) else ""
        key_path = _join(path, str(key))
        if not size or len(size) > 20:
            errs.add(key_path, BAD_IDENTIFIER, value=_plain(key))
            ok = False
            continue
        parsed = _decimal()(errs, key_path, amount)
        if parsed is INVALID:
            ok = False
        else:
            sizes.append((size, parsed))
    return tuple(sizes) if ok else INVALID


def _nullable(parser: Parser) -> Parser:
    def parse(errs: _Errors, path: str, value: Any) -> Any:
        return None if value is None else parser(errs, path, value)

    parse.nullable = True  # type: ignore[attr-defined]
    return parse


Spec = Mapping[str, tuple[Parser, bool]]


def _mapping(errs: _Errors, path: str, data: Any, spec: Spec) -> tuple[dict[str, Any], bool]:
    """Read a mapping by `spec` (key → (parser, required)), reporting every unknown key,
    every missing required key and every bad value. Returns the values that are good (so
    checks across keys can still run) and whether everything was."""
    if not isinstance(data, dict):
        errs.add(path, NOT_A_MAPPING)
        return {}, False
    before = len(errs.items)
    for key in data:
        if key not in spec:
            errs.add(_join(path, str(key)), UNKNOWN_KEY, key=_plain(key), allowed=sorted(spec))
    values: dict[str, Any] = {}
    for key, (parser, required) in spec.items():
        if key not in data:
            if required:
                errs.add(_join(path, key), REQUIRED)
            continue
        value = data[key]
        if value is None and not getattr(parser, "nullable", False):
            # An explicit null is the same as leaving an optional key out.
            if required:
                errs.add(_join(path, key), REQUIRED)
            continue
        parsed = parser(errs, _join(path, key), value)
        if parsed is not INVALID:
            values[key] = parsed
    return values, len(errs.items) == before


# Each charge kind's keys besides kind, id, description and when: key → (parser, required).
_CHARGE_SPECS: dict[str, Spec] = {
    "flat": {
        "price": (_decimal(), True),
        "quantity": (_quantity_input, False),
        "unit": (_text(16), False),
    },
    "block": {
        "blocks": (_bands, True),
        "free_units": (_decimal("positive"), False),
        "free_units_when": (_conditions, False),
        "prorate": (_boolean, False),
    },
    "tiers": {"tiers": (_bands, True), "prorate": (_boolean, False)},
    "fixed": {
        "amount": (_decimal(), False),
        "by_meter_size": (_meter_sizes, False),
        "prorate": (_boolean, False),
    },
    "per_m2": {"rate": (_decimal(), True), "area": (_choice(AREA_CHOICES), False)},
    "norm": {
        "norm": (_decimal(), True),
        "per": (_choice(PER_CHOICES), True),
        "price": (_decimal(), True),
    },
    "heating_ru_f2": {
        "norm": (_decimal(), True),
        "price": (_decimal(), True),
        "area": (_choice(AREA_CHOICES), False),
    },
    "heating_ru_f3": {"price": (_decimal(), True)},
    "heating_ua": {
        "norm": (_decimal(), True),
        "price": (_decimal(), True),
        "method": (_choice(HEATING_UA_METHODS), False),
        "temperature_coefficient": (_decimal("positive"), False),
    },
    "property_rates": {
        "rate": (_decimal(low=Decimal(0), high=Decimal(1)), True),
        "valuation_rebate": (_decimal(), False),
        "exempt_up_to": (_decimal(), False),
        "pensioner_rebate": (_decimal(low=Decimal(0), high=Decimal(1)), False),
        "indigent_rebate": (_decimal(low=Decimal(0), high=Decimal(1)), False),
    },
    "minimum": {"applies_to": (_references, True), "amount": (_decimal(), True)},
    "percentage": {"of": (_references, True), "rate": (_decimal(), True)},
    "rebate": {
        "amount": (_decimal("non_positive"), False),
        "of": (_references, False),
        "rate": (_decimal("non_positive", low=Decimal(-1)), False),
        "free_units": (_decimal("positive"), False),
        "price": (_decimal("non_positive"), False),
    },
}
_CHARGE_SPECS["subsidy"] = _CHARGE_SPECS["rebate"]
_COMMON_SPEC: Spec = {
    "kind": (_text(), True),
    "id": (_identifier, False),
    "description": (_label, False),
    "when": (_conditions, False),
}


def _charge_values(errs: _Errors, path: str, data: Any) -> tuple[str, dict[str, Any]] | None:
    """The kind and checked values of one charge (its id may still be missing), or None."""
    if not isinstance(data, dict):
        errs.add(path, NOT_A_MAPPING)
        return None
    kind = data.get("kind")
    if kind is None:
        errs.add(_join(path, "kind"), REQUIRED)
        return None
    if not isinstance(kind, str) or kind not in _CHARGE_SPECS:
        errs.add(
            _join(path, "kind"), UNKNOWN_CHARGE_KIND, kind=_plain(kind), allowed=list(CHARGE_KINDS)
        )
        return None
    values, ok = _mapping(errs, path, data, {**_COMMON_SPEC, **_CHARGE_SPECS[kind]})
    given = {key for key, value in data.items() if value is not None}
    ok = _check_combination(errs, path, kind, given) and ok
    if not ok:
        return None
    values.pop("kind")
    return kind, values


def _check_combination(errs: _Errors, path: str, kind: str, given: set[str]) -> bool:
    """Rules across a charge's keys, on the keys given (whether or not their values are
    good: a bad value is reported by itself, not again as a missing key)."""
    if kind == "fixed" and not given & {"amount", "by_meter_size"}:
        errs.add(path, ONE_OF_REQUIRED, keys=["amount", "by_meter_size"])
        return False
    if kind not in ("rebate", "subsidy"):
        return True
    bases = [key for key in ("amount", "rate", "free_units") if key in given]
    if not bases:
        errs.add(path, ONE_OF_REQUIRED, keys=["amount", "rate", "free_units"])
        return False
    if len(bases) > 1:
        errs.add(path, CONFLICTING_KEYS, keys=bases)
        return False
    basis = bases[0]
    ok = True
    if basis == "rate" and "of" not in given:
        ok = errs.fail(_join(path, "of"), REQUIRED)
    if basis == "free_units" and "price" not in given:
        ok = errs.fail(_join(path, "price"), REQUIRED)
    if basis == "free_units" and "of" in given:
        ok = errs.fail(path, CONFLICTING_KEYS, keys=["free_units", "of"])
    if basis in ("amount", "rate") and "price" in given:
        ok = errs.fail(path, CONFLICTING_KEYS, keys=[basis, "price"])
    return ok


def _charges(errs: _Errors, path: str, value: Any) -> Any:
    """Every charge, with default ids (the kind, then kind-2, kind-3, ... skipping ids in use)
    and references checked: `of` and `applies_to` name charges listed before."""
    if not isinstance(value, list):
        return errs.add(path, NOT_A_LIST)
    if not value:
        return errs.add(path, EMPTY)
    if len(value) > MAX_CHARGES:
        return errs.add(path, TOO_MANY, max=MAX_CHARGES)
    parsed = [_charge_values(errs, _join(path, i), item) for i, item in enumerate(value)]
    # Ids come from the raw items, so that references to a charge that is itself wrong are
    # not reported as unknown too.
    raw = [item if isinstance(item, dict) else {} for item in value]
    explicit: dict[str, int] = {}
    for index, item in enumerate(raw):
        charge_id = _raw_identifier(item.get("id"))
        if charge_id is not None and charge_id in explicit:
            errs.add(_join(_join(path, index), "id"), DUPLICATE_ID, id=charge_id)
        elif charge_id is not None:
            explicit[charge_id] = index
    positions = dict(explicit)
    ids: list[str | None] = []
    for index, item in enumerate(raw):
        kind = item.get("kind")
        if "id" in item or not isinstance(kind, str) or kind not in CHARGE_CLASSES:
            ids.append(_raw_identifier(item.get("id")))
            continue
        candidate, number = kind, 1
        while candidate in positions:
            number += 1
            candidate = f"{kind}-{number}"
        positions[candidate] = index
        ids.append(candidate)
    ok = True
    for index, item in enumerate(raw):
        for key in ("of", "applies_to"):
            refs = item.get(key)
            for ref_index, ref in enumerate(refs if isinstance(refs, list) else [refs]):
                ref = _raw_identifier(ref)
                ref_path = _join(_join(path, index), key)
                ref_path = _join(ref_path, ref_index) if isinstance(refs, list) else ref_path
                if ref is None:
                    continue
                if ref not in positions:
                    ok = errs.fail(ref_path, UNKNOWN_REFERENCE, id=ref)
                elif positions[ref] >= index:
                    ok = errs.fail(ref_path, REFERENCE_NOT_BEFORE, id=ref)
    charges: list[Charge] = []
    for index, item in enumerate(parsed):
        if item is None:
            ok = False
            continue
        kind, values = item
        values["id"] = ids[index]
        charges.append(CHARGE_CLASSES[kind](**values))
    return tuple(charges) if ok else INVALID


def _raw_identifier(value: Any) -> str | None:
    """An id or reference as written, if it is a valid one (else it is reported elsewhere)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and _IDENTIFIER.match(value) else None


def _tax(errs: _Errors, path: str, value: Any) -> Any:
    values, ok = _mapping(
        errs,
        path,
        value,
        {
            "name": (_text(20), True),
            "rate": (_decimal(low=Decimal(0), high=Decimal(1)), True),
            "prices_include_tax": (_boolean, False),
        },
    )
    return Tax(**values) if ok else INVALID


def _rounding(errs: _Errors, path: str, value: Any) -> Any:
    values, ok = _mapping(
        errs,
        path,
        value,
        {"amount": (_decimal("positive"), False), "mode": (_choice(ROUNDING_MODES), False)},
    )
    amount = values.get("amount")
    if amount is not None:
        amount = amount.normalize()
        if amount not in _ROUNDING_AMOUNTS:
            return errs.add(_join(path, "amount"), BAD_ROUNDING_AMOUNT, value=format(amount, "f"))
        values["amount"] = amount
    return values if ok else INVALID


_ROUNDING_AMOUNTS = {Decimal(1).scaleb(-places) for places in range(5)}


def _version(errs: _Errors, path: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        return errs.add(path, NOT_AN_INTEGER)
    if value < 1:
        return errs.add(path, MUST_BE_POSITIVE)
    if value > 1_000_000:
        return errs.add(path, TOO_LARGE, max=1_000_000)
    return value


def _currency(errs: _Errors, path: str, value: Any) -> Any:
    if not isinstance(value, str):
        return errs.add(path, NOT_A_STRING)
    code = value.strip().upper()
    if code not in CURRENCIES:
        return errs.add(path, UNKNOWN_CURRENCY, currency=_plain(value))
    return code


def _jurisdiction(errs: _Errors, path: str, value: Any) -> Any:
    if not isinstance(value, str):
        return errs.add(path, NOT_A_STRING)
    code = value.strip().lower()
    if code not in JURISDICTIONS:
        return errs.add(path, UNKNOWN_JURISDICTION, allowed=list(JURISDICTIONS))
    return code


_TARIFF_SPEC: Spec = {
    "code": (_identifier, True),
    "name": (_text(), False),
    "version": (_version, False),
    "service": (_identifier, True),
    "unit": (_text(16), True),
    "currency": (_currency, True),
    "jurisdiction": (_jurisdiction, False),
    "valid_from": (_date, True),
    "valid_to": (_date, False),
    "tax": (_tax, False),
    "rounding": (_rounding, False),
    "charges": (_charges, True),
}


def _tariff(errs: _Errors, path: str, data: Any) -> Tariff | None:
    values, ok = _mapping(errs, path, data, _TARIFF_SPEC)
    start, end = values.get("valid_from"), values.get("valid_to")
    if start is not None and end is not None and end < start:
        errs.add(_join(path, "valid_to"), VALID_TO_BEFORE_VALID_FROM)
        ok = False
    if not ok:
        return None
    default = default_rounding(values.get("jurisdiction"), values["currency"])
    given = values.pop("rounding", {})
    values["rounding"] = Rounding(given.get("amount", default.amount), given.get("mode", "half_up"))
    return Tariff(**values)


def parse_tariff(data: Any) -> Tariff:
    """One tariff from a mapping (as read from YAML or JSON); TariffError with every error."""
    errs = _Errors()
    tariff = _tariff(errs, "", data)
    if errs.items or tariff is None:
        raise TariffError(errs.items or [FieldError("", NOT_A_MAPPING, {})])
    return tariff


def load_tariffs_text(text: str) -> list[Tariff]:
    """Every tariff in a YAML or JSON text: one mapping, a list of them, or several YAML
    documents (each a mapping or a list). Paths are prefixed `[n].` when there are several.
    Tariffs with the same code and version in one text are an error."""
    if not isinstance(text, str):
        raise TariffError([FieldError("", NOT_A_STRING, {})])
    if len(text) > MAX_TEXT:
        raise TariffError([FieldError("", TEXT_TOO_LARGE, {"max": MAX_TEXT})])
    try:
        # The pure-Python SafeLoader: the C loader crashes the process on deep nesting, this
        # one raises RecursionError. Tariff files are small.
        documents = [doc for doc in yaml.load_all(text, Loader=yaml.SafeLoader) if doc is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise TariffError(
            [
                FieldError(
                    "",
                    YAML_SYNTAX,
                    {
                        "line": mark.line + 1 if mark else None,
                        "column": mark.column + 1 if mark else None,
                        "problem": _plain(exc.problem or exc.context or ""),
                    },
                )
            ]
        ) from None
    except (yaml.YAMLError, ValueError, RecursionError, OverflowError) as exc:
        raise TariffError(
            [FieldError("", YAML_SYNTAX, {"line": None, "column": None, "problem": _plain(exc)})]
        ) from None
    items: list[Any] = []
    for doc in documents:
        items.extend(doc if isinstance(doc, list) else [doc])
    if not items:
        raise TariffError([FieldError("", EMPTY, {})])
    errs = _Errors()
    tariffs: list[Tariff] = []
    seen: set[tuple[str, int]] = set()
    for index, item in enumerate(items):
        prefix = f"[{index}]" if len(items) > 1 else ""
        tariff = _tariff(errs, prefix, item)
        if tariff is None:
            continue
        key = (tariff.code, tariff.version)
        if key in seen:
            errs.add(prefix, DUPLICATE_TARIFF, code=tariff.code, version=tariff.version)
        seen.add(key)
        tariffs.append(tariff)
    if errs.items:
        raise TariffError(errs.items)
    return tariffs


# --- Writing ----------------------------------------------------------------------------------
def _out(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _charge_to_dict(charge: Charge) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": charge.kind}
    for item in fields(charge):
        value = getattr(charge, item.name)
        if value is None or value == ():
            continue
        if item.name in ("when", "free_units_when"):
            out[item.name] = dict(value)
        elif item.name in ("blocks", "tiers"):
            out[item.name] = [
                {"up_to": _out(band.up_to), "price": _out(band.price)} for band in value
            ]
        elif item.name == "by_meter_size":
            out[item.name] = {size: _out(amount) for size, amount in value}
        elif item.name in ("of", "applies_to"):
            out[item.name] = list(value)
        else:
            out[item.name] = _out(value)
    return out


def tariff_to_dict(tariff: Tariff) -> dict[str, Any]:
    """The canonical form: every default written out, decimals as strings, dates ISO; what a
    file, the API and the database store, and what `parse_tariff` reads back unchanged."""
    out: dict[str, Any] = {
        "code": tariff.code,
        "version": tariff.version,
        "service": tariff.service,
        "unit": tariff.unit,
        "currency": tariff.currency,
        "valid_from": tariff.valid_from.isoformat(),
    }
    if tariff.name is not None:
        out["name"] = tariff.name
    if tariff.valid_to is not None:
        out["valid_to"] = tariff.valid_to.isoformat()
    if tariff.jurisdiction is not None:
        out["jurisdiction"] = tariff.jurisdiction
    if tariff.tax is not None:
        out["tax"] = {
            "name": tariff.tax.name,
            "rate": _out(tariff.tax.rate),
            "prices_include_tax": tariff.tax.prices_include_tax,
        }
    out["rounding"] = {"amount": _out(tariff.rounding.amount), "mode": tariff.rounding.mode}
    out["charges"] = [_charge_to_dict(charge) for charge in tariff.charges]
    return out
