"""The pricing engine: the issue's worked example to the cent, each charge kind by a worked
example and by properties against an independent computation, the tax both ways, input
errors, explanations in the reader's number style, and the compiled Pricer agreeing with
`price` whatever it remembers."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from civicdesk.tariffs.definition import load_tariffs_text, parse_tariff
from civicdesk.tariffs.engine import (
    INVALID_REASONS,
    PRICING_ERROR_CODES,
    Factor,
    PricingError,
    PricingInput,
    Quote,
    Term,
    compile_tariff,
    format_explanation,
    price,
)
from civicdesk.tariffs.tests.test_definition import ISSUE_EXAMPLE, tariff_dicts

D = Decimal
CENT = D("0.01")
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
(EXAMPLE,) = load_tariffs_text(ISSUE_EXAMPLE)
AUGUST = (2025, 8)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def tariff(*charges: dict, tax: dict | None = None, currency: str = "ZAR", unit: str = "kWh"):
    data = {
        "code": "t",
        "service": "s",
        "unit": unit,
        "currency": currency,
        "valid_from": "2020-01-01",
        "charges": list(charges),
    }
    if tax is not None:
        data["tax"] = tax
    return parse_tariff(data)


def only(quote: Quote, label: str | None = None):
    lines = [line for line in quote.lines if label is None or line.label == label]
    assert len(lines) == 1, quote.lines
    return lines[0]


def check_totals(quote: Quote, quantum: Decimal = CENT) -> None:
    """Amounts at the minor unit, and the lines add up to the right total."""
    exponent = quantum.as_tuple().exponent
    for amount in (quote.total_excl_tax, quote.tax, quote.total, *(x.amount for x in quote.lines)):
        assert amount.as_tuple().exponent == exponent
    assert quote.total_excl_tax + quote.tax == quote.total
    lines = sum((line.amount for line in quote.lines), D(0))
    assert lines == (quote.total if quote.prices_include_tax else quote.total_excl_tax)


# --- The issue's worked example ---------------------------------------------------------------
def test_436_kwh_for_a_full_month():
    quote = price(EXAMPLE, PricingInput(consumption=D(436), period=AUGUST))
    block, fixed = quote.lines
    assert (block.charge_id, block.kind, block.label) == ("block", "block", "block")
    assert [(t.quantity, t.rate) for t in block.terms] == [
        (D(100), D("2.50")),
        (D(300), D("3.00")),
        (D(36), D("3.50")),
    ]
    assert block.explanation == "100 kWh × R2.50 + 300 kWh × R3.00 + 36 kWh × R3.50"
    assert (block.quantity, block.unit, block.amount) == (D(436), "kWh", D("1276.00"))
    assert (fixed.label, fixed.amount, fixed.explanation) == ("fixed", D("150.00"), "R150.00")
    assert (quote.total_excl_tax, quote.tax, quote.total) == (
        D("1426.00"),
        D("213.90"),
        D("1639.90"),
    )
    assert (quote.tax_label, quote.tax_rate, quote.prices_include_tax) == ("vat", D("0.15"), False)
    check_totals(quote)


def test_a_partial_month_prorates_the_block_limits():
    # 15 of August's 31 days: limits 100 × 15/31 = 48.387097 and 400 × 15/31 = 193.548387.
    quote = price(EXAMPLE, PricingInput(consumption=D(436), period=AUGUST, days_in_service=15))
    block = quote.lines[0]
    assert block.explanation == (
        "48.387097 kWh × R2.50 + 145.16129 kWh × R3.00 + 242.451613 kWh × R3.50"
    )
    # 120.9677425 + 435.48387 + 848.5806455 = 1405.032257
    assert block.amount == D("1405.03")
    assert quote.lines[1].amount == D("150.00")  # fixed charges prorate only when told


def test_period_given_as_first_and_last_day_and_the_full_period_is_no_proration():
    whole = price(EXAMPLE, PricingInput(consumption=D(436), period=AUGUST))
    same = PricingInput(
        consumption=D(436),
        period_start=date(2025, 8, 1),
        period_end=date(2025, 8, 31),
        days_in_service=31,
    )
    assert price(EXAMPLE, same) == whole


def test_zero_consumption_prices_the_first_block_at_nothing():
    quote = price(EXAMPLE, PricingInput(consumption=D(0), period=AUGUST))
    assert quote.lines[0].explanation == "0 kWh × R2.50" and quote.lines[0].amount == D("0.00")
    assert quote.total == D("172.50")


# --- Charge kinds, worked ---------------------------------------------------------------------
def test_flat_on_consumption_or_any_input():
    t = tariff(
        {"kind": "flat", "id": "energy", "price": "1.8765"},
        {"kind": "flat", "id": "bins", "quantity": "extra.bins", "unit": "bins", "price": "95"},
    )
    quote = price(t, PricingInput(consumption=D("123.4"), extra={"bins": D(2)}))
    energy, bins = quote.lines
    assert (energy.amount, energy.explanation) == (D("231.56"), "123.4 kWh × R1.8765")
    assert (bins.amount, bins.explanation) == (D("190.00"), "2 bins × R95.00")


def test_free_basic_allowance_for_indigent_accounts_only():
    water = {
        "kind": "block",
        "id": "water",
        "blocks": [{"up_to": 6, "price": "20"}, {"up_to": None, "price": "30"}],
        "free_units": "6",
        "free_units_when": {"indigent": True},
    }
    t = tariff(water, unit="kL")
    paying = price(t, PricingInput(consumption=D(10), period=AUGUST))
    assert [line.label for line in paying.lines] == ["block"]
    helped = price(t, PricingInput(consumption=D(10), period=AUGUST, indigent=True))
    block, free = helped.lines
    assert (block.amount, free.amount) == (D("240.00"), D("-120.00"))
    assert (free.label, free.explanation) == ("free_basic", "6 kL × −R20.00")
    small = price(t, PricingInput(consumption=D(4), period=AUGUST, indigent=True))
    assert small.total == D("0.00")  # never more free water than was used


def test_tiers_charge_all_units_at_the_tier_reached():
    t = tariff(
        {"kind": "tiers", "tiers": [{"up_to": 50, "price": "10"}, {"up_to": None, "price": "12"}]}
    )
    assert only(price(t, PricingInput(consumption=D(50)))).amount == D("500.00")
    above = only(price(t, PricingInput(consumption=D("50.5"))))
    assert (above.amount, above.explanation) == (D("606.00"), "50.5 kWh × R12.00")


def test_fixed_by_meter_size_with_a_default_and_proration():
    t = tariff(
        {
            "kind": "fixed",
            "amount": "300",
            "by_meter_size": {"15mm": "80", "20mm": "120"},
            "prorate": True,
        }
    )
    assert only(price(t, PricingInput(meter_size="20mm"))).amount == D("120.00")
    assert only(price(t, PricingInput(meter_size="100mm"))).amount == D("300.00")
    part = only(price(t, PricingInput(meter_size="15mm", period=(2025, 9), days_in_service=10)))
    assert (part.amount, part.explanation) == (D("26.67"), "R80.00 × 10/30 days")
    # The same tariff again, for other sizes and days (lines are built once per case):
    september = [
        only(price(t, PricingInput(meter_size=size, period=(2025, 9), days_in_service=days)))
        for size, days in [("15mm", 20), ("20mm", 10), ("15mm", 30), ("100mm", 10), (None, 10)]
    ]
    assert [line.amount for line in september] == [
        D("53.33"),
        D("40.00"),
        D("80.00"),
        D("100.00"),
        D("100.00"),
    ]
    strict = tariff({"kind": "fixed", "by_meter_size": {"15mm": "80"}})
    with pytest.raises(PricingError) as caught:
        price(strict, PricingInput(meter_size="100mm"))
    assert caught.value.code == "meter_size_unknown"
    assert caught.value.params == {"meter_size": "100mm", "charge": "fixed", "sizes": ["15mm"]}
    with pytest.raises(PricingError) as caught:
        price(strict, PricingInput())
    assert caught.value.params == {"input": "meter_size", "charge": "fixed"}


def test_per_m2_and_norms():
    t = tariff(
        {"kind": "per_m2", "id": "repair", "rate": "11.56"},
        {"kind": "per_m2", "id": "heat", "area": "heated_area_m2", "rate": "2"},
        {"kind": "norm", "id": "people", "per": "occupant", "norm": "6.935", "price": "45.67"},
        {"kind": "norm", "id": "area", "per": "m2", "norm": "0.016", "price": "100"},
        unit="m³",
    )
    quote = price(t, PricingInput(area_m2=D("82.5"), heated_area_m2=D(70), occupants=3))
    repair, heat, people, area = quote.lines
    assert (repair.amount, repair.explanation) == (D("953.70"), "82.5 m² × R11.56")
    assert heat.amount == D("140.00")
    assert (people.quantity, people.unit, people.amount) == (D("20.805"), "m³", D("950.16"))
    assert people.explanation == "3 occupants × 6.935 m³ × R45.67"
    assert (area.quantity, area.amount) == (D("1.32"), D("132.00"))
    assert area.explanation == "82.5 m² × 0.016 m³/m² × R100.00"


def test_russian_heating_formulas_2_and_3():
    f2 = tariff(
        {"kind": "heating_ru_f2", "norm": "0.0220", "price": "2847.13"}, currency="RUB", unit="Gcal"
    )
    line = only(price(f2, PricingInput(area_m2=D("82.5"))))
    assert line.explanation == "82.5 m² × 0.0220 Gcal/m² × ₽2,847.13"
    assert (line.quantity, line.amount) == (D("1.815"), D("5167.54"))
    f3 = tariff({"kind": "heating_ru_f3", "price": "2847.13"}, currency="RUB", unit="Gcal")
    inp = PricingInput(
        building_consumption=D("152.4"), area_m2=D("82.5"), building_area_m2=D("4560.3")
    )
    line = only(price(f3, inp))
    assert line.explanation == "152.4 Gcal × 82.5/4,560.3 m² × ₽2,847.13"
    # 152.4 × 82.5 ÷ 4560.3 = 2.7570554… Gcal × 2847.13 = 7849.6987…
    assert (line.quantity, line.amount) == (D("2.757055"), D("7849.70"))
    with pytest.raises(PricingError) as caught:
        price(f3, PricingInput(building_consumption=D(1), area_m2=D(90), building_area_m2=D(80)))
    assert caught.value.params["reason"] == "below_area"


def test_ukrainian_heating_by_norm_and_by_building_meter():
    t = tariff(
        {"kind": "heating_ua", "norm": "0.0185", "price": "1654.41"}, currency="UAH", unit="Gcal"
    )
    by_norm = PricingInput(
        heated_area_m2=D("62.4"),
        temperature_coefficient=D("1.12"),
        days_of_service=20,
        period=(2025, 10),
    )
    line = only(price(t, by_norm))
    assert line.explanation == "62.4 m² × 0.0185 Gcal/m² × 1.12 × 20/31 days × ₴1,654.41"
    assert (line.quantity, line.amount) == (D("0.834147"), D("1380.02"))
    with pytest.raises(PricingError) as caught:  # no coefficient in the input or the tariff
        price(t, PricingInput(heated_area_m2=D(1)))
    assert caught.value.params == {"input": "temperature_coefficient", "charge": "heating_ua"}
    metered = PricingInput(
        heated_area_m2=D("62.4"), building_consumption=D("98.7"), building_area_m2=D("5210.8")
    )
    line = only(price(t, metered))
    assert line.explanation == "98.7 Gcal × 62.4/5,210.8 m² × ₴1,654.41"
    assert line.amount == D("1955.42")  # 98.7 × 62.4 ÷ 5210.8 × 1654.41 = 1955.4197…


def test_property_rates_exemption_reduction_and_rebates():
    t = tariff(
        {
            "kind": "property_rates",
            "rate": "0.0098735",
            "valuation_rebate": "15000",
            "exempt_up_to": "100000",
            "indigent_rebate": "0.5",
            "pensioner_rebate": "0.4",
        }
    )
    rates = only(price(t, PricingInput(valuation=D(1850000))))
    # (1,850,000 − 15,000) × 0.0098735 ÷ 12 = 1509.8227…
    assert rates.amount == D("1509.82")
    assert rates.explanation == "(R1,850,000.00 − R15,000.00) × 0.0098735 ÷ 12"
    both = price(t, PricingInput(valuation=D(1850000), indigent=True, pensioner=True))
    assert [(x.label, x.amount) for x in both.lines] == [
        ("property_rates", D("1509.82")),
        ("indigent_rebate", D("-754.91")),
        ("pensioner_rebate", D("-301.96")),  # 40% of what the indigent rebate left
    ]
    exempt = only(price(t, PricingInput(valuation=D(100000))))
    assert (exempt.label, exempt.amount) == ("property_rates_exempt", D("0.00"))


def test_minimum_percentage_rebate_and_subsidy():
    t = tariff(
        {"kind": "flat", "id": "water", "price": "10"},
        {"kind": "percentage", "id": "sewer", "of": ["water"], "rate": "0.7"},
        {"kind": "minimum", "applies_to": ["water", "sewer"], "amount": "100"},
        {"kind": "fixed", "id": "basic", "amount": "50"},
        {"kind": "rebate", "when": {"indigent": True}, "of": ["basic"], "amount": "-80"},
        {"kind": "subsidy", "when": {"pensioner": True}, "free_units": "2", "price": "-10"},
    )
    quote = price(t, PricingInput(consumption=D(4), indigent=True, pensioner=True))
    assert [(x.label, x.amount, x.explanation) for x in quote.lines] == [
        ("flat", D("40.00"), "4 kWh × R10.00"),
        ("percentage", D("28.00"), "R40.00 × 70%"),
        ("minimum_top_up", D("32.00"), "R100.00 − R68.00"),
        ("fixed", D("50.00"), "R50.00"),
        ("indigent_rebate", D("-50.00"), "−R50.00"),  # capped at the basic charge
        ("subsidy", D("-20.00"), "2 kWh × −R10.00"),
    ]
    plain = price(t, PricingInput(consumption=D(20)))
    assert [x.label for x in plain.lines] == ["flat", "percentage", "fixed"]  # 340 ≥ 100


def test_tax_included_in_the_prices():
    t = tariff(
        {"kind": "flat", "price": "45.67"},
        tax={"name": "VAT", "rate": "0.20", "prices_include_tax": True},
    )
    quote = price(t, PricingInput(consumption=D("7.412")))
    # 7.412 × 45.67 = 338.50604 → 338.51; VAT in it 338.51 × 0.2 ÷ 1.2 = 56.418…
    assert (quote.total, quote.tax, quote.total_excl_tax) == (D("338.51"), D("56.42"), D("282.09"))
    check_totals(quote)


def test_currencies_without_cents_and_a_chosen_rounding_mode():
    yen = tariff({"kind": "flat", "price": "12.5"}, currency="JPY")
    assert price(yen, PricingInput(consumption=D(3))).total == D(38)  # 37.5 half up
    even = parse_tariff(
        {
            "code": "t",
            "service": "s",
            "unit": "kWh",
            "currency": "ZAR",
            "valid_from": "2020-01-01",
            "rounding": {"amount": "0.01", "mode": "half_even"},
            "charges": [{"kind": "flat", "price": "0.125"}],
        }
    )
    assert price(even, PricingInput(consumption=D(1))).total == D("0.12")


# --- Inputs that cannot be priced -------------------------------------------------------------
@pytest.mark.parametrize(
    ("inp", "code", "params"),
    [
        (PricingInput(), "input_required", {"input": "consumption", "charge": "block"}),
        (
            PricingInput(consumption=2.5),  # type: ignore[arg-type]
            "input_invalid",
            {"input": "consumption", "charge": "block", "reason": "not_a_number"},
        ),
        (
            PricingInput(consumption=D(-1)),
            "input_invalid",
            {"input": "consumption", "charge": "block", "reason": "negative"},
        ),
        (
            PricingInput(consumption=D(1), days_in_service=10),
            "input_required",
            {"input": "period", "charge": None},
        ),
        (
            PricingInput(consumption=D(1), period=AUGUST, days_in_service=32),
            "input_invalid",
            {"input": "days_in_service", "charge": None, "reason": "out_of_range"},
        ),
        (
            PricingInput(consumption=D(1), period=(2025, 13)),
            "input_invalid",
            {"input": "period", "charge": None, "reason": "out_of_range"},
        ),
        (
            PricingInput(consumption=D(1), period=AUGUST, period_start=date(2025, 8, 1)),
            "input_invalid",
            {"input": "period", "charge": None, "reason": "period_given_twice"},
        ),
        (
            PricingInput(consumption=D(1), period=(2025, 6)),
            "tariff_not_in_force",
            {"code": "example-electricity", "valid_from": "2025-07-01", "valid_to": None},
        ),
    ],
)
def test_inputs_that_cannot_be_priced_say_why(inp, code, params):
    with pytest.raises(PricingError) as caught:
        price(EXAMPLE, inp)
    assert (caught.value.code, caught.value.params) == (code, params)


def test_conditions_choose_metered_or_norm():
    t = tariff(
        {"kind": "flat", "when": {"metered": True}, "price": "2"},
        {"kind": "norm", "when": {"metered": False}, "per": "occupant", "norm": "3", "price": "2"},
    )
    assert only(price(t, PricingInput(consumption=D(5)))).amount == D("10.00")
    assert only(price(t, PricingInput(occupants=2))).amount == D("12.00")


# --- Explanations -----------------------------------------------------------------------------
def test_explanations_in_the_readers_number_style():
    terms = (Term(D("82.5"), "m²", D("2847.13"), (Factor(D("0.0220"), "Gcal/m²"),)),)
    assert (
        format_explanation(terms, currency="RUB", decimal_sep=",", group_sep="\u00a0")
        == "82,5 m² × 0,0220 Gcal/m² × ₽2\u00a0847,13"
    )
    days = (Term(D("1234.5"), "money", None, (Factor(D(20), "days", D(31)),)),)
    assert (
        format_explanation(
            days, currency="UAH", unit_labels={"days": "дн."}, decimal_sep=",", group_sep="."
        )
        == "₴1.234,50 × 20/31 дн."
    )
    assert format_explanation((Term(D(3), "kWh", D("2.5")),), currency="USD") == "3 kWh × USD 2.50"


def test_errors_module_explains_in_the_active_language():
    from django.utils import translation

    from civicdesk.tariffs.errors import explain, label_text, pricing_error_message

    terms = (Term(D(1200), "kWh", D("2.5")),)
    with translation.override("ru"):
        assert explain(terms, currency="RUB") == "1\u00a0200 kWh × ₽2,50"
    with translation.override("en"):
        assert explain(terms, currency="ZAR") == "1,200 kWh × R2.50"
        assert label_text("free_basic") == "Free basic allowance"
        error = PricingError("input_required", input="area_m2", charge="repair")
        assert pricing_error_message(error) == (
            "The input “area_m2” is needed to price this tariff. (charge repair)"
        )


# --- Properties -------------------------------------------------------------------------------
AMOUNTS = st.decimals(min_value=0, max_value=50, places=4)
QUANTITIES = st.decimals(min_value=0, max_value=3000, places=3)


@st.composite
def bands(draw):
    limits = sorted(
        draw(
            st.lists(
                st.decimals(min_value=D("0.5"), max_value=D(2000), places=2),
                max_size=4,
                unique=True,
            )
        )
    )
    prices = draw(st.lists(AMOUNTS, min_size=len(limits) + 1, max_size=len(limits) + 1))
    return [(up, p) for up, p in zip([*limits, None], prices, strict=True)]


def as_blocks(pairs):
    return [{"up_to": None if up is None else str(up), "price": str(p)} for up, p in pairs]


def block_reference(pairs, consumption: Decimal) -> Decimal:
    """Σ over blocks of the units inside it × its price, units inside = max(0, min(c, upper)
    − lower): the textbook formula, independent of the engine's walk."""
    total, lower = D(0), D(0)
    for up, p in pairs:
        upper = consumption if up is None else min(consumption, up)
        total += max(D(0), upper - lower) * p
        lower = lower if up is None else up
    return cents(total)


@PROPERTY
@given(bands(), QUANTITIES, QUANTITIES, st.booleans())
def test_block_pricing_is_the_sum_over_blocks_and_monotone(pairs, c1, c2, included):
    tax = {"name": "VAT", "rate": "0.15", "prices_include_tax": included}
    t = tariff({"kind": "block", "blocks": as_blocks(pairs)}, tax=tax)
    low, high = sorted((c1, c2))
    q_low, q_high = (price(t, PricingInput(consumption=c)) for c in (low, high))
    for c, quote in ((low, q_low), (high, q_high)):
        line = only(quote)
        assert line.amount == block_reference(pairs, c)
        assert sum((term.quantity for term in line.terms), D(0)) == c
        check_totals(quote)
    assert only(q_low).amount <= only(q_high).amount


@PROPERTY
@given(bands(), QUANTITIES, st.integers(1, 31))
def test_a_full_period_prorates_to_the_unprorated_price(pairs, c, days):
    t = tariff(
        {"kind": "block", "blocks": as_blocks(pairs)},
        {"kind": "fixed", "amount": "99.99", "prorate": True},
    )
    plain = price(t, PricingInput(consumption=c, period=AUGUST))
    assert price(t, PricingInput(consumption=c, period=AUGUST, days_in_service=31)) == plain
    part = price(t, PricingInput(consumption=c, period=AUGUST, days_in_service=days))
    assert only(part, "fixed").amount == cents(D("99.99") * days / 31)


@PROPERTY
@given(bands(), QUANTITIES)
def test_tiers_charge_every_unit_at_one_rate(pairs, c):
    line = only(
        price(tariff({"kind": "tiers", "tiers": as_blocks(pairs)}), PricingInput(consumption=c))
    )
    expected = next(p for up, p in pairs if up is None or c <= up)
    assert len(line.terms) == 1 and line.terms[0].quantity == c
    assert line.rate == expected and line.amount == cents(c * expected)


@PROPERTY
@given(bands(), QUANTITIES, st.decimals(min_value=1, max_value=60, places=1))
def test_free_units_credit_the_cheapest_units_and_never_more_than_used(pairs, c, free):
    t = tariff({"kind": "block", "blocks": as_blocks(pairs), "free_units": str(free)})
    block, credit = price(t, PricingInput(consumption=c)).lines
    assert credit.amount == -block_reference(pairs, min(c, free))
    assert block.amount + credit.amount >= 0


@PROPERTY
@given(AMOUNTS, QUANTITIES, st.sampled_from(["flat", "per_m2", "norm_m2", "norm_people", "f2"]))
def test_linear_kinds_are_quantity_times_price(rate, q, kind):
    charge = {
        "flat": {"kind": "flat", "price": str(rate)},
        "per_m2": {"kind": "per_m2", "rate": str(rate)},
        "norm_m2": {"kind": "norm", "per": "m2", "norm": "0.0185", "price": str(rate)},
        "norm_people": {"kind": "norm", "per": "occupant", "norm": "6.935", "price": str(rate)},
        "f2": {"kind": "heating_ru_f2", "norm": "0.0220", "price": str(rate)},
    }[kind]
    whole = int(q)
    inp = PricingInput(consumption=q, area_m2=q, occupants=whole)
    factor = {"norm_m2": D("0.0185"), "norm_people": D("6.935"), "f2": D("0.0220")}.get(kind, 1)
    base = D(whole) if kind == "norm_people" else q
    assert only(price(tariff(charge), inp)).amount == cents(base * factor * rate)


@PROPERTY
@given(
    st.lists(st.decimals(min_value=1, max_value=300, places=1), min_size=1, max_size=12),
    st.decimals(min_value=0, max_value=500, places=3),
    st.sampled_from(["heating_ru_f3", "heating_ua"]),
)
def test_a_building_meter_is_shared_out_whole(areas, volume, kind):
    """Every premises' share of the building's heat adds up to the building's heat: the sum
    of the lines is within half a cent per line of the building's volume × price."""
    charge = {"kind": kind, "price": "2847.13"}
    if kind == "heating_ua":
        charge |= {"norm": "0.0185", "method": "metered"}
    t = tariff(charge, currency="RUB", unit="Gcal")
    area_input = "area_m2" if kind == "heating_ru_f3" else "heated_area_m2"
    total_area = sum(areas, D(0))
    amounts = [
        only(
            price(
                t,
                PricingInput(
                    building_consumption=volume,
                    building_area_m2=total_area,
                    **{area_input: area},
                ),
            )
        ).amount
        for area in areas
    ]
    assert abs(sum(amounts, D(0)) - volume * D("2847.13")) <= D("0.005") * len(areas)


@PROPERTY
@given(st.integers(0, 29), st.decimals(min_value=D("0.5"), max_value=2, places=2))
def test_ukrainian_norm_heating_grows_with_the_days_of_service(days, coefficient):
    t = tariff(
        {"kind": "heating_ua", "norm": "0.0185", "price": "1654.41", "temperature_coefficient": "1"}
    )

    def amount(d: int | None) -> Decimal:
        inp = PricingInput(
            heated_area_m2=D(60),
            temperature_coefficient=coefficient,
            days_of_service=d,
            period=(2025, 11),
        )
        return only(price(t, inp)).amount

    assert amount(days) <= amount(days + 1)
    assert amount(30) == amount(None) == cents(60 * D("0.0185") * coefficient * D("1654.41"))
    assert amount(0) == 0


@PROPERTY
@given(
    st.decimals(min_value=0, max_value=10_000_000, places=0),
    st.decimals(min_value=0, max_value=1, places=2),
    st.booleans(),
    st.booleans(),
)
def test_property_rates_rebates_never_exceed_the_rates(valuation, share, indigent, pensioner):
    t = tariff(
        {
            "kind": "property_rates",
            "rate": "0.0098735",
            "valuation_rebate": "15000",
            "exempt_up_to": "100000",
            "indigent_rebate": str(share),
            "pensioner_rebate": str(share),
        }
    )
    quote = price(t, PricingInput(valuation=valuation, indigent=indigent, pensioner=pensioner))
    gross = quote.lines[0].amount
    assert 0 <= quote.total <= gross
    if valuation <= 100000:
        assert gross == 0
    else:
        assert gross == cents((valuation - 15000) * D("0.0098735") / 12)


@PROPERTY
@given(QUANTITIES, AMOUNTS, st.decimals(min_value=0, max_value=500, places=2), st.booleans())
def test_minimum_percentage_and_rebates(c, p, minimum, indigent):
    t = tariff(
        {"kind": "flat", "id": "water", "price": str(p)},
        {"kind": "percentage", "id": "sewer", "of": ["water"], "rate": "0.7"},
        {"kind": "minimum", "applies_to": ["water", "sewer"], "amount": str(minimum)},
        {"kind": "rebate", "when": {"indigent": True}, "of": ["water"], "rate": "-0.5"},
        {"kind": "subsidy", "when": {"indigent": True}, "amount": "-20", "of": ["sewer"]},
    )
    quote = price(t, PricingInput(consumption=c, indigent=indigent))
    by_label = {line.label: line.amount for line in quote.lines}
    water, sewer = by_label["flat"], by_label["percentage"]
    assert sewer == cents(water * D("0.7"))
    group = water + sewer + by_label.get("minimum_top_up", 0)
    assert group >= minimum and (group == minimum or "minimum_top_up" not in by_label)
    if indigent:
        assert by_label["indigent_rebate"] == -cents(water * D("0.5"))
        assert by_label["subsidy"] == max(D(-20), -sewer)
    check_totals(quote)


INPUTS = st.builds(
    PricingInput,
    consumption=st.sampled_from([None, D(0), D(5), D("5.000"), D(120), D("450.5")]),
    period=st.sampled_from([None, (2025, 8), (2026, 2)]),
    days_in_service=st.sampled_from([None, 10, 28]),
    area_m2=st.sampled_from([None, D("54.2"), D(80)]),
    heated_area_m2=st.sampled_from([None, D("50.1")]),
    occupants=st.sampled_from([None, 0, 3]),
    meter_size=st.sampled_from([None, "15mm", "20mm", "50mm"]),
    valuation=st.sampled_from([None, D(90000), D(1500000)]),
    building_consumption=st.sampled_from([None, D("150.4")]),
    building_area_m2=st.sampled_from([None, D(4000), D(10)]),
    temperature_coefficient=st.sampled_from([None, D("1.1")]),
    days_of_service=st.sampled_from([None, 0, 20]),
    indigent=st.booleans(),
    pensioner=st.booleans(),
    extra=st.sampled_from([{}, {"bins": D(2)}]),
)


def outcome(call, inp):
    try:
        return call(inp)
    except PricingError as error:
        return error


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tariff_dicts(), st.lists(INPUTS, min_size=1, max_size=25))
def test_the_compiled_pricer_agrees_with_price(data, inputs):
    t = parse_tariff(data | {"valid_from": "2025-01-01", "valid_to": None})
    pricer = compile_tariff(t, cache_size=8)
    for inp in inputs:
        expected = outcome(lambda i: price(t, i), inp)
        assert outcome(pricer.price, inp) == expected
        if isinstance(expected, Quote):
            check_totals(expected, t.rounding.amount)
    assert pricer.price_many(inputs, errors="return") == [
        outcome(lambda i: price(t, i), inp) for inp in inputs
    ]


def test_price_many_remembers_each_distinct_case_once():
    pricer = compile_tariff(EXAMPLE)
    inputs = [PricingInput(consumption=D(c % 3), period=AUGUST) for c in range(1000)]
    quotes = pricer.price_many(inputs)
    assert quotes[0] is quotes[3] and (pricer.misses, pricer.hits) == (3, 997)
    assert quotes[2] == price(EXAMPLE, PricingInput(consumption=D(2), period=AUGUST))
    with pytest.raises(PricingError):
        pricer.price_many([PricingInput(period=AUGUST)])
    (error,) = pricer.price_many([PricingInput(period=AUGUST)], errors="return")
    assert isinstance(error, PricingError) and error.code == "input_required"


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_inputs_the_tariff_ignores_never_change_its_price(data):
    inp = data.draw(INPUTS)
    assume(inp.consumption is not None and inp.days_in_service is None)
    pricer = compile_tariff(EXAMPLE)
    other = data.draw(INPUTS)
    mixed = replace(other, consumption=inp.consumption, period=AUGUST, days_in_service=None)
    base = PricingInput(consumption=inp.consumption, period=AUGUST)
    assert outcome(pricer.price, base) == outcome(pricer.price, mixed) == price(EXAMPLE, base)


JUNK_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**13),
    st.floats(allow_nan=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.lists(st.integers(0, 3000), max_size=3),
    st.tuples(st.integers(-1, 13), st.integers(-1, 13)),
    st.dates(),
    st.datetimes(),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tariff_dicts(),
    st.fixed_dictionaries(
        {},
        optional=dict.fromkeys((f.name for f in fields(PricingInput)), JUNK_VALUES),
    ),
)
def test_any_input_is_priced_or_refused_with_a_pricing_error(data, fields):
    """No input, however wrong its types, gets anything but a quote or a PricingError."""
    t = parse_tariff(data)
    inp = PricingInput(**fields)
    for call in (lambda i: price(t, i), compile_tariff(t).price):
        result = outcome(call, inp)
        assert isinstance(result, Quote | PricingError)
        if isinstance(result, PricingError):
            assert result.code in PRICING_ERROR_CODES
            assert result.params.get("reason", "not_a_number") in INVALID_REASONS
