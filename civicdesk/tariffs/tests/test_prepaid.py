"""Prepaid purchases: the brief's worked example, purchases continuing through the month's
blocks, what is refused, and properties: more money never buys fewer units, the amount
never exceeds the payment, and two purchases never beat one of their sum."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.tariffs.definition import load_tariffs_text, parse_tariff
from civicdesk.tariffs.engine import PricingError
from civicdesk.tariffs.prepaid import prepaid_purchase
from civicdesk.tariffs.tests.test_definition import ISSUE_EXAMPLE

D = Decimal
(EXAMPLE,) = load_tariffs_text(ISSUE_EXAMPLE)
AUGUST = (2025, 8)
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tariff(*charges: dict, tax: dict | None = None):
    data = {
        "code": "p",
        "service": "electricity",
        "unit": "kWh",
        "currency": "ZAR",
        "valid_from": "2025-01-01",
        "charges": list(charges),
    }
    if tax is not None:
        data["tax"] = tax
    return parse_tariff(data)


def test_r500_with_nothing_bought_yet():
    # Prices with VAT: 2.875, 3.45, 4.025. 100 kWh cost R287.50; R212.50 ÷ 3.45 = 61.59… kWh.
    quote = prepaid_purchase(EXAMPLE, D("500.00"), D(0), period=AUGUST)
    assert quote.units == D("161.5")
    (line,) = quote.lines
    assert line.explanation == "100 kWh × R2.875 + 61.5 kWh × R3.45"
    # 287.50 + 212.175 = 499.675 → 499.68; the VAT in it: 499.68 × 0.15 ÷ 1.15 = 65.176…
    assert (quote.amount, quote.tax, quote.unspent) == (D("499.68"), D("65.18"), D("0.32"))


def test_a_second_purchase_continues_through_the_blocks():
    second = prepaid_purchase(EXAMPLE, D("500.00"), D("161.5"), period=AUGUST)
    assert second.units == D("144.9")  # 500 ÷ 3.45 = 144.92…, all in the second block
    crossing = prepaid_purchase(EXAMPLE, D("100.00"), D(390), period=date(2025, 8, 20))
    # 10 kWh × 3.45 = 34.50; R65.50 ÷ 4.025 = 16.27… → 26.2 kWh in all
    assert crossing.units == D("26.2")
    assert crossing.lines[0].explanation == "10 kWh × R3.45 + 16.2 kWh × R4.025"
    assert crossing.amount == D("99.71")  # 34.50 + 65.205 = 99.705 → 99.71


def test_fixed_charges_are_not_deducted_and_prices_with_tax_are_taken_as_written():
    gross = tariff(
        {"kind": "flat", "price": "2.00"},
        {"kind": "fixed", "amount": "500"},
        {"kind": "subsidy", "free_units": "50", "price": "-2"},
        tax={"name": "VAT", "rate": "0.2", "prices_include_tax": True},
    )
    quote = prepaid_purchase(gross, D("100.00"), D(0), period=AUGUST)
    assert (quote.units, quote.amount, quote.tax) == (D(50), D("100.00"), D("16.67"))


def test_several_per_unit_charges_add_up_per_unit():
    # 1.00 energy in a first block of 10, then 2.00; a 0.50 network charge on every unit.
    t = tariff(
        {"kind": "block", "blocks": [{"up_to": 10, "price": "1"}, {"up_to": None, "price": "2"}]},
        {"kind": "flat", "id": "network", "price": "0.5"},
    )
    quote = prepaid_purchase(t, D("25.00"), D(0), period=AUGUST)
    assert quote.units == D(14)  # 10 × 1.50 = 15, then R10 ÷ 2.50 = 4
    assert [line.amount for line in quote.lines] == [D("18.00"), D("7.00")]
    assert quote.amount == D("25.00") and quote.unspent == 0


def test_lines_rounded_one_by_one_never_push_the_amount_past_the_payment():
    # R0.25 buys exactly 1 kWh at 0.125 + 0.125, but each line rounds up to 0.13: R0.26.
    # So 0.1 kWh less is sold: 2 × 0.1125 → 0.11 + 0.11 = R0.22.
    t = tariff(
        {"kind": "flat", "id": "a", "price": "0.125"}, {"kind": "flat", "id": "b", "price": "0.125"}
    )
    quote = prepaid_purchase(t, D("0.25"), D(0), period=AUGUST)
    assert (quote.units, quote.amount, quote.unspent) == (D("0.9"), D("0.22"), D("0.03"))


@pytest.mark.parametrize(
    ("charges", "amount", "code"),
    [
        (
            [{"kind": "tiers", "tiers": [{"up_to": None, "price": "1"}]}],
            "10",
            "prepaid_unsupported_charge",
        ),
        ([{"kind": "fixed", "amount": "10"}], "10", "prepaid_no_unit_price"),
        (
            [
                {
                    "kind": "block",
                    "blocks": [{"up_to": 5, "price": "1"}, {"up_to": None, "price": "0"}],
                }
            ],
            "10",
            "prepaid_free_unbounded",
        ),
        ([{"kind": "flat", "price": "1"}], "10.005", "input_invalid"),
        ([{"kind": "flat", "price": "1"}], "-1", "input_invalid"),
    ],
)
def test_what_cannot_be_sold(charges, amount, code):
    with pytest.raises(PricingError) as caught:
        prepaid_purchase(tariff(*charges), D(amount), D(0), period=AUGUST)
    assert caught.value.code == code


def test_a_month_outside_the_tariff_is_refused():
    with pytest.raises(PricingError) as caught:
        prepaid_purchase(EXAMPLE, D(100), D(0), period=(2025, 6))
    assert caught.value.code == "tariff_not_in_force"


PAYMENTS = st.decimals(min_value=0, max_value=5000, places=2)
BOUGHT = st.decimals(min_value=0, max_value=1000, places=1)
TARIFFS = st.sampled_from(
    [
        EXAMPLE,
        tariff(
            {
                "kind": "block",
                "blocks": [
                    {"up_to": 50, "price": "1.1111"},
                    {"up_to": 350, "price": "2.3457"},
                    {"up_to": None, "price": "3.0001"},
                ],
            },
            {"kind": "flat", "price": "0.1234"},
            tax={"name": "VAT", "rate": "0.15"},
        ),
    ]
)


@PROPERTY
@given(TARIFFS, PAYMENTS, PAYMENTS, BOUGHT)
def test_more_money_never_buys_fewer_units_and_never_costs_more_than_paid(t, a, b, bought):
    low, high = sorted((a, b))
    q_low = prepaid_purchase(t, low, bought, period=AUGUST)
    q_high = prepaid_purchase(t, high, bought, period=AUGUST)
    assert q_low.units <= q_high.units
    for payment, quote in ((low, q_low), (high, q_high)):
        assert quote.amount <= payment and quote.unspent == payment - quote.amount
        assert quote.amount == sum((line.amount for line in quote.lines), D(0))
        assert quote.units == quote.units.quantize(D("0.1"), ROUND_DOWN)


@PROPERTY
@given(TARIFFS, PAYMENTS, PAYMENTS, BOUGHT)
def test_two_purchases_never_beat_one_of_their_sum(t, a, b, bought):
    first = prepaid_purchase(t, a, bought, period=AUGUST)
    second = prepaid_purchase(t, b, bought + first.units, period=AUGUST)
    once = prepaid_purchase(t, a + b, bought, period=AUGUST)
    assert first.units + second.units <= once.units + D("0.2")  # 0.1 of rounding each


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**13),
    st.floats(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.tuples(st.integers(-1, 10000), st.integers(-1, 13)),
    st.dates(),
)


@settings(max_examples=100, deadline=None)
@given(JUNK, JUNK, JUNK)
def test_any_request_is_sold_or_refused_with_a_pricing_error(amount, bought, period):
    try:
        quote = prepaid_purchase(EXAMPLE, amount, bought, period=period)
    except PricingError as error:
        assert error.code in {"input_invalid", "input_required", "tariff_not_in_force"}
    else:
        assert quote.amount <= amount
