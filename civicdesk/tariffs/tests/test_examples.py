"""The example tariffs (civicdesk/tariffs/examples/): each loads, together they use every
charge kind, each prices its sample inputs to the totals worked out by hand, and
docs/tariffs.md quotes each file as it is."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from civicdesk.tariffs import definition as d
from civicdesk.tariffs.definition import load_tariffs_text
from civicdesk.tariffs.engine import PricingInput as P
from civicdesk.tariffs.engine import compile_tariff, price
from civicdesk.tariffs.prepaid import prepaid_purchase

D = Decimal
EXAMPLES = Path(d.__file__).resolve().parent / "examples"
DOCS = Path(d.__file__).resolve().parents[2] / "docs" / "tariffs.md"

# file stem → [(input, [(label, amount, explanation)], (total_excl_tax, tax, total))]
CASES = {
    "example-electricity": [
        (
            P(consumption=D(436), period=(2025, 8)),
            [
                ("block", "1276.00", "100 kWh × R2.50 + 300 kWh × R3.00 + 36 kWh × R3.50"),
                ("fixed", "150.00", "R150.00"),
            ],
            ("1426.00", "213.90", "1639.90"),
        ),
    ],
    "za-electricity-indigent": [
        (
            P(consumption=D(520), period=(2025, 8)),
            [
                (
                    "energy_charge",
                    "1544.61",
                    "100 kWh × R2.3421 + 300 kWh × R2.9876 + 120 kWh × R3.4510",
                ),
                ("network_charge", "85.80", "520 kWh × R0.1650"),
                ("service_charge", "245.80", "R245.80"),
            ],
            ("1876.21", "281.43", "2157.64"),
        ),
        (  # half of September, on the indigent register: 25 of the 50 free kWh
            P(consumption=D(35), period=(2025, 9), days_in_service=15, indigent=True),
            [
                ("energy_charge", "81.97", "35 kWh × R2.3421"),
                ("network_charge", "5.78", "35 kWh × R0.1650"),
                ("service_charge", "122.90", "R245.80 × 15/30 days"),
                ("free_basic_electricity", "-58.55", "25 kWh × −R2.3421"),
            ],
            ("152.10", "22.82", "174.92"),
        ),
    ],
    "za-water": [
        (
            P(consumption=D("22.5"), period=(2025, 8), meter_size="20mm"),
            [
                ("water", "754.35", "6 kL × R24.10 + 9 kL × R31.75 + 7.5 kL × R43.20"),
                ("sewerage", "528.05", "R754.35 × 70%"),
                ("basic_charge", "132.00", "R132.00"),
            ],
            ("1414.40", "212.16", "1626.56"),
        ),
        (
            P(consumption=D(4), period=(2025, 8), meter_size="15mm"),
            [
                ("water", "96.40", "4 kL × R24.10"),
                ("sewerage", "67.48", "R96.40 × 70%"),
                ("minimum_top_up", "16.12", "R180.00 − R163.88"),
                ("basic_charge", "96.50", "R96.50"),
            ],
            ("276.50", "41.48", "317.98"),
        ),
        (
            P(consumption=D("9.4"), period=(2025, 8), meter_size="15mm", indigent=True),
            [
                ("water", "252.55", "6 kL × R24.10 + 3.4 kL × R31.75"),
                ("free_basic", "-144.60", "6 kL × −R24.10"),
                ("sewerage", "75.57", "R107.95 × 70%"),
                ("basic_charge", "96.50", "R96.50"),
                ("indigent_rebate", "-96.50", "R96.50 × −100%"),
            ],
            ("183.52", "27.53", "211.05"),
        ),
    ],
    "za-property-rates": [
        (
            P(valuation=D(1850000), period=(2025, 8), pensioner=True),
            [
                ("property_rates", "1509.82", "(R1,850,000.00 − R15,000.00) × 0.0098735 ÷ 12"),
                ("pensioner_rebate", "-603.93", "R1,509.82 × −40%"),
            ],
            ("905.89", "0.00", "905.89"),
        ),
        (
            P(valuation=D(95000), period=(2025, 8)),
            [("property_rates_exempt", "0.00", "R95,000.00 × 0")],
            ("0.00", "0.00", "0.00"),
        ),
    ],
    "za-business-water-tiers": [
        (
            P(consumption=D(50), period=(2025, 8)),
            [("water", "1945.00", "50 kL × R38.90")],
            ("1945.00", "291.75", "2236.75"),
        ),
        (
            P(consumption=D("50.001"), period=(2025, 8)),
            [("water", "2062.54", "50.001 kL × R41.25")],
            ("2062.54", "309.38", "2371.92"),
        ),
    ],
    "za-availability-by-meter-size": [
        (
            P(period=(2025, 8), meter_size="20mm", days_in_service=10),
            [("availability_charge", "38.87", "R120.50 × 10/31 days")],
            ("38.87", "5.83", "44.70"),
        ),
        (
            P(period=(2025, 8), meter_size="50mm"),
            [("availability_charge", "310.00", "R310.00")],
            ("310.00", "46.50", "356.50"),
        ),
    ],
    "ru-heating-f2": [
        (
            P(area_m2=D("82.5"), period=(2025, 11)),
            [("heating", "5167.54", "82.5 m² × 0.0220 Gcal/m² × ₽2,847.13")],
            ("4306.28", "861.26", "5167.54"),
        ),
    ],
    "ru-heating-f3": [
        (
            P(
                building_consumption=D("152.4"),
                area_m2=D("82.5"),
                building_area_m2=D("4560.3"),
                period=(2025, 11),
            ),
            [("heating", "7849.70", "152.4 Gcal × 82.5/4,560.3 m² × ₽2,847.13")],
            ("6541.42", "1308.28", "7849.70"),
        ),
    ],
    "ru-capital-repair": [
        (
            P(area_m2=D("82.5"), period=(2025, 11)),
            [("capital_repair", "953.70", "82.5 m² × ₽11.56")],
            ("953.70", "0.00", "953.70"),
        ),
    ],
    "ru-maintenance": [
        (
            P(area_m2=D("82.5"), period=(2025, 11)),
            [
                ("maintenance", "2343.00", "82.5 m² × ₽28.40"),
                ("current_repair", "507.38", "82.5 m² × ₽6.15"),
            ],
            ("2375.32", "475.06", "2850.38"),
        ),
    ],
    "ru-cold-water": [
        (
            P(consumption=D("7.412"), period=(2025, 11)),
            [("cold_water", "338.51", "7.412 m³ × ₽45.67")],
            ("282.09", "56.42", "338.51"),
        ),
        (
            P(occupants=3, period=(2025, 11)),
            [("cold_water", "950.16", "3 occupants × 6.935 m³ × ₽45.67")],
            ("791.80", "158.36", "950.16"),
        ),
    ],
    "ua-heating": [
        (
            P(
                heated_area_m2=D("62.4"),
                temperature_coefficient=D("1.12"),
                days_of_service=20,
                period=(2025, 10),
            ),
            [("heating", "1380.02", "62.4 m² × 0.0185 Gcal/m² × 1.12 × 20/31 days × ₴1,654.41")],
            ("1150.02", "230.00", "1380.02"),
        ),
        (
            P(
                heated_area_m2=D("62.4"),
                building_consumption=D("98.7"),
                building_area_m2=D("5210.8"),
                period=(2025, 12),
                indigent=True,
            ),
            [
                ("heating", "1955.42", "98.7 Gcal × 62.4/5,210.8 m² × ₴1,654.41"),
                ("subsidy", "-977.71", "₴1,955.42 × −50%"),
            ],
            ("814.76", "162.95", "977.71"),
        ),
    ],
}


def load(stem: str) -> d.Tariff:
    (tariff,) = load_tariffs_text((EXAMPLES / f"{stem}.yaml").read_text(encoding="utf-8"))
    return tariff


def test_every_example_has_worked_cases_and_every_kind_has_an_example():
    stems = sorted(path.stem for path in EXAMPLES.glob("*.yaml"))
    assert stems == sorted(CASES)
    kinds = {charge.kind for stem in stems for charge in load(stem).charges}
    assert kinds == set(d.CHARGE_KINDS)
    assert len({load(stem).code for stem in stems}) == len(stems)


@pytest.mark.parametrize(
    ("stem", "inp", "lines", "totals"),
    [(stem, *case) for stem, cases in CASES.items() for case in cases],
)
def test_examples_price_as_worked_out(stem, inp, lines, totals):
    tariff = load(stem)
    quote = price(tariff, inp)
    assert [(x.label, x.amount, x.explanation) for x in quote.lines] == [
        (label, D(amount), explanation) for label, amount, explanation in lines
    ]
    assert (quote.total_excl_tax, quote.tax, quote.total) == tuple(D(x) for x in totals)
    assert compile_tariff(tariff).price_many([inp, inp]) == [quote, quote]


def test_the_electricity_examples_sell_prepaid():
    quote = prepaid_purchase(load("example-electricity"), D("500.00"), D(0), period=(2025, 8))
    assert quote.units == D("161.5")
    # energy 2.3421 × 1.15 = 2.693415 and network 0.1650 × 1.15 = 0.18975 a kWh: 2.883165;
    # R200 ÷ 2.883165 = 69.36… kWh (the fixed charge and the free units do not count)
    domestic = prepaid_purchase(
        load("za-electricity-indigent"), D("200.00"), D(0), period=(2025, 8)
    )
    assert domestic.units == D("69.3")
    assert domestic.amount == D("199.80")


def test_the_docs_quote_every_example_as_it_is():
    docs = DOCS.read_text(encoding="utf-8")
    for path in sorted(EXAMPLES.glob("*.yaml")):
        assert path.read_text(encoding="utf-8").strip() in docs, path.name
