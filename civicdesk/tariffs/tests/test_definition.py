"""Tariff definitions: the issue's shape reads as written, every error of a definition is
reported at once with its path, the canonical form reads back unchanged, and junk of any
shape gives a TariffError, never another exception. The messages of errors.py cover every
code."""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk.tariffs import definition as d
from civicdesk.tariffs.definition import (
    Band,
    BlockCharge,
    FixedCharge,
    Rounding,
    TariffError,
    Tax,
    load_tariffs_text,
    parse_tariff,
    tariff_to_dict,
)

D = Decimal

ISSUE_EXAMPLE = """\
code: example-electricity
service: electricity
unit: kWh
currency: ZAR
valid_from: 2025-07-01
tax: {name: VAT, rate: "0.15", prices_include_tax: false}
charges:
  - kind: block
    blocks:
      - {up_to: 100, price: "2.50"}
      - {up_to: 400, price: "3.00"}
      - {up_to: null, price: "3.50"}
  - kind: fixed
    amount: "150.00"
"""


def minimal(**changes) -> dict:
    """A small valid definition, changed as given (None removes a key)."""
    data = {
        "code": "t",
        "service": "electricity",
        "unit": "kWh",
        "currency": "ZAR",
        "valid_from": "2025-07-01",
        "charges": [{"kind": "flat", "price": "1.00"}],
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def errors_of(data) -> set[tuple[str, str]]:
    with pytest.raises(TariffError) as caught:
        parse_tariff(data)
    return {(e.path, e.code) for e in caught.value.errors}


# --- The issue's example ----------------------------------------------------------------------
def test_the_issue_example_reads_as_written():
    (tariff,) = load_tariffs_text(ISSUE_EXAMPLE)
    assert tariff.code == "example-electricity" and tariff.version == 1
    assert (tariff.service, tariff.unit, tariff.currency) == ("electricity", "kWh", "ZAR")
    assert tariff.valid_from == date(2025, 7, 1) and tariff.valid_to is None
    assert tariff.tax == Tax("VAT", D("0.15"), prices_include_tax=False)
    assert tariff.rounding == Rounding(D("0.01"), "half_up")
    assert tariff.charges == (
        BlockCharge(
            id="block",
            blocks=(Band(D(100), D("2.50")), Band(D(400), D("3.00")), Band(None, D("3.50"))),
        ),
        FixedCharge(id="fixed", amount=D("150.00")),
    )


def test_json_reads_the_same():
    (from_yaml,) = load_tariffs_text(ISSUE_EXAMPLE)
    (from_json,) = load_tariffs_text(json.dumps(tariff_to_dict(from_yaml)))
    assert from_json == from_yaml


def test_yaml_floats_read_through_their_text_and_ints_as_they_are():
    data = minimal(
        charges=[
            {
                "kind": "block",
                "blocks": [{"up_to": 100, "price": 2.5}, {"up_to": None, "price": 0.1}],
            }
        ]
    )
    (charge,) = parse_tariff(data).charges
    assert charge.blocks == (
        Band(D(100), D("2.5")),
        Band(None, D("0.1")),
    )  # not 0.1000000000000000055…


def test_a_file_may_hold_a_list_or_several_documents():
    two = ISSUE_EXAMPLE + "---\n" + ISSUE_EXAMPLE.replace("example-electricity", "second")
    assert [t.code for t in load_tariffs_text(two)] == ["example-electricity", "second"]
    listed = yaml.safe_dump([minimal(code="a"), minimal(code="b")])
    assert [t.code for t in load_tariffs_text(listed)] == ["a", "b"]


def test_the_same_code_and_version_twice_in_a_file_is_an_error():
    listed = yaml.safe_dump([minimal(code="a"), minimal(code="a"), minimal(code="a", version=2)])
    with pytest.raises(TariffError) as caught:
        load_tariffs_text(listed)
    assert [(e.path, e.code) for e in caught.value.errors] == [("[1]", "duplicate_tariff")]


def test_errors_in_a_file_of_several_tariffs_say_which_tariff():
    listed = yaml.safe_dump([minimal(code="a"), minimal(code="b", unit=None)])
    with pytest.raises(TariffError) as caught:
        load_tariffs_text(listed)
    assert [(e.path, e.code) for e in caught.value.errors] == [("[1].unit", "required")]


def test_defaults_ids_rounding_and_jurisdiction():
    tariff = parse_tariff(
        minimal(
            currency="jpy",
            charges=[
                {"kind": "fixed", "amount": "100"},
                {"kind": "fixed", "id": "fixed", "amount": "5"},
                {"kind": "fixed", "amount": "1"},
            ],
        )
    )
    assert [c.id for c in tariff.charges] == ["fixed-2", "fixed", "fixed-3"]
    assert tariff.currency == "JPY" and tariff.rounding == Rounding(D(1), "half_up")
    ru = parse_tariff(minimal(currency="RUB", jurisdiction="RU"))
    assert ru.jurisdiction == "ru" and ru.rounding == Rounding(D("0.01"), "half_up")
    kwd = parse_tariff(minimal(currency="KWD", rounding={"mode": "half_even"}))
    assert kwd.rounding == Rounding(D("0.001"), "half_even")


# --- Every error at once ----------------------------------------------------------------------
def test_every_error_of_a_definition_is_reported_with_its_path():
    text = """
code: "bad code!"
service: electricity
currency: ZZZ
valid_from: 2025-07-01
valid_to: 2025-06-30
tax: {name: VAT, rate: "1.5"}
charges:
  - kind: block
    blocks:
      - {up_to: 400, price: "2.50"}
      - {up_to: 100, price: "-3.00"}
      - {up_to: null, price: "3.50", extra: 1}
  - kind: teleport
  - kind: percentage
    of: [nowhere]
    rate: "0.7"
  - kind: rebate
    amount: "oops"
"""
    with pytest.raises(TariffError) as caught:
        load_tariffs_text(text)
    assert {(e.path, e.code) for e in caught.value.errors} == {
        ("code", "bad_identifier"),
        ("unit", "required"),
        ("currency", "unknown_currency"),
        ("valid_to", "valid_to_before_valid_from"),
        ("tax.rate", "out_of_range"),
        ("charges[0].blocks[1].up_to", "not_ascending"),
        ("charges[0].blocks[1].price", "negative_not_allowed"),
        ("charges[0].blocks[2].extra", "unknown_key"),
        ("charges[1].kind", "unknown_charge_kind"),
        ("charges[2].of[0]", "unknown_reference"),
        ("charges[3].amount", "not_a_decimal"),
    }


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ([], {("charges[0].blocks", "empty")}),
        (
            [{"up_to": 100, "price": "1"}],
            {("charges[0].blocks[0].up_to", "last_must_be_unbounded")},
        ),
        (
            [{"up_to": None, "price": "1"}, {"up_to": None, "price": "2"}],
            {("charges[0].blocks[0].up_to", "unbounded_not_last")},
        ),
        (
            [
                {"up_to": 100, "price": "1"},
                {"up_to": 100, "price": "2"},
                {"up_to": None, "price": "3"},
            ],
            {("charges[0].blocks[1].up_to", "not_ascending")},
        ),
        (
            [{"up_to": 0, "price": "1"}, {"up_to": None, "price": "1"}],
            {("charges[0].blocks[0].up_to", "must_be_positive")},
        ),
        ([{"price": "1"}], {("charges[0].blocks[0].up_to", "required")}),
        ([{"up_to": None, "price": True}], {("charges[0].blocks[0].price", "not_a_decimal")}),
        (
            [{"up_to": None, "price": "1.12345678901"}],
            {("charges[0].blocks[0].price", "too_many_decimals")},
        ),
        ([{"up_to": None, "price": "1e12"}], {("charges[0].blocks[0].price", "too_large")}),
        ([{"up_to": None, "price": "NaN"}], {("charges[0].blocks[0].price", "not_a_decimal")}),
    ],
)
def test_blocks_ascend_and_only_the_last_is_unbounded(blocks, expected):
    assert errors_of(minimal(charges=[{"kind": "block", "blocks": blocks}])) == expected


@pytest.mark.parametrize(
    ("charge", "expected"),
    [
        ({"kind": "flat", "price": "-1"}, {("charges[0].price", "negative_not_allowed")}),
        ({"kind": "rebate", "amount": "50"}, {("charges[0].amount", "must_not_be_positive")}),
        ({"kind": "subsidy", "free_units": "6"}, {("charges[0].price", "required")}),
        ({"kind": "rebate"}, {("charges[0]", "one_of_required")}),
        ({"kind": "rebate", "amount": "-1", "rate": "-1"}, {("charges[0]", "conflicting_keys")}),
        ({"kind": "rebate", "rate": "-0.5"}, {("charges[0].of", "required")}),
        (
            {"kind": "rebate", "rate": "-1.5", "of": ["x"]},
            {("charges[0].rate", "out_of_range"), ("charges[0].of[0]", "unknown_reference")},
        ),
        ({"kind": "fixed"}, {("charges[0]", "one_of_required")}),
        (
            {"kind": "fixed", "by_meter_size": {"15mm": "-1"}},
            {("charges[0].by_meter_size.15mm", "negative_not_allowed")},
        ),
        ({"kind": "property_rates", "rate": "2"}, {("charges[0].rate", "out_of_range")}),
        (
            {"kind": "norm", "norm": "1", "per": "goat", "price": "1"},
            {("charges[0].per", "unknown_choice")},
        ),
        (
            {"kind": "flat", "price": "1", "quantity": "shoe_size"},
            {("charges[0].quantity", "unknown_input")},
        ),
        (
            {"kind": "flat", "price": "1", "when": {"rich": True}},
            {("charges[0].when.rich", "unknown_condition")},
        ),
        (
            {"kind": "flat", "price": "1", "when": {"indigent": "yes"}},
            {("charges[0].when.indigent", "not_a_boolean")},
        ),
        (
            {"kind": "flat", "price": "1", "description": "free_beer"},
            {("charges[0].description", "unknown_label")},
        ),
        (
            {"kind": "heating_ua", "norm": "1", "price": "1", "temperature_coefficient": "0"},
            {("charges[0].temperature_coefficient", "must_be_positive")},
        ),
        (
            {"kind": "minimum", "applies_to": [], "amount": "1"},
            {("charges[0].applies_to", "empty")},
        ),
        ({"price": "1"}, {("charges[0].kind", "required")}),
        ("flat", {("charges[0]", "not_a_mapping")}),
    ],
)
def test_charge_rules(charge, expected):
    assert errors_of(minimal(charges=[charge])) == expected


def test_references_point_back_and_ids_are_unique():
    charges = [
        {"kind": "percentage", "of": ["water"], "rate": "0.7"},
        {"kind": "flat", "id": "water", "price": "1"},
        {"kind": "flat", "id": "water", "price": "2"},
        {"kind": "minimum", "applies_to": ["minimum"], "amount": "5"},
    ]
    assert errors_of(minimal(charges=charges)) == {
        ("charges[0].of[0]", "reference_not_before"),
        ("charges[2].id", "duplicate_id"),
        ("charges[3].applies_to[0]", "reference_not_before"),
    }


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"valid_from": "2025-02-30"}, {("valid_from", "not_a_date")}),
        ({"valid_from": "yesterday"}, {("valid_from", "not_a_date")}),
        ({"version": 0}, {("version", "must_be_positive")}),
        ({"version": "2"}, {("version", "not_an_integer")}),
        ({"currency": 978}, {("currency", "not_a_string")}),
        ({"jurisdiction": "fr"}, {("jurisdiction", "unknown_jurisdiction")}),
        ({"rounding": {"amount": "0.05"}}, {("rounding.amount", "bad_rounding_amount")}),
        ({"rounding": {"mode": "banker"}}, {("rounding.mode", "unknown_choice")}),
        ({"tax": {"rate": "0.15"}}, {("tax.name", "required")}),
        (
            {"tax": {"name": "VAT", "rate": "0.15", "prices_include_tax": "no"}},
            {("tax.prices_include_tax", "not_a_boolean")},
        ),
        ({"charges": []}, {("charges", "empty")}),
        ({"charges": {"kind": "flat"}}, {("charges", "not_a_list")}),
        ({"colour": "blue"}, {("colour", "unknown_key")}),
        ({"code": None, "service": None}, {("code", "required"), ("service", "required")}),
    ],
)
def test_top_level_rules(changes, expected):
    assert errors_of(minimal(**changes)) == expected


def test_valid_to_may_equal_valid_from():
    tariff = parse_tariff(minimal(valid_from="2025-07-01", valid_to="2025-07-01"))
    assert tariff.in_force(date(2025, 7, 1), date(2025, 7, 31))
    assert not tariff.in_force(date(2025, 8, 1), date(2025, 8, 31))


@pytest.mark.parametrize(
    "text",
    [
        "code: [unclosed",
        "a: 2025-13-45",
        "[" * 1000,
        "a: !!python/name:os.system x",
        "? [a, b]\n: c",
    ],
)
def test_bad_yaml_is_a_tariff_error(text):
    with pytest.raises(TariffError) as caught:
        load_tariffs_text(text)
    assert caught.value.errors[0].code == "yaml_syntax"


def test_empty_and_oversized_texts():
    with pytest.raises(TariffError) as caught:
        load_tariffs_text("# nothing\n")
    assert caught.value.errors[0].code == "empty"
    with pytest.raises(TariffError) as caught:
        load_tariffs_text("#" * (d.MAX_TEXT + 1))
    assert caught.value.errors[0].code == "text_too_large"


# --- Round trip and junk (properties) ---------------------------------------------------------
def _number(low: str, high: str, places: int):
    """A decimal as a definition may write it: a string, a (YAML) float, or an int when one
    lies in the range."""
    value = st.decimals(min_value=D(low), max_value=D(high), places=places)
    whole = st.integers(math.ceil(D(low)), math.floor(D(high)))
    return st.one_of(value.map(str), value.map(float), whole)


def _bands():
    limits = st.lists(
        st.decimals(min_value=D("0.001"), max_value=D(5000), places=3), max_size=4, unique=True
    )
    return limits.flatmap(
        lambda ups: st.lists(
            _number("0", "50", 4), min_size=len(ups) + 1, max_size=len(ups) + 1
        ).map(
            lambda prices: [
                {"up_to": None if up is None else str(up), "price": price}
                for up, price in zip([*sorted(ups), None], prices, strict=True)
            ]
        )
    )


def _conditions():
    return st.dictionaries(st.sampled_from(d.CONDITIONS), st.booleans(), max_size=2)


@st.composite
def tariff_dicts(draw) -> dict:
    """Valid definitions of every kind, with references to earlier charges."""
    charges: list[dict] = []
    ids: list[str] = []
    for index in range(draw(st.integers(1, 6))):
        kinds = (
            d.CHARGE_KINDS
            if ids
            else [k for k in d.CHARGE_KINDS if k not in ("minimum", "percentage")]
        )
        kind = draw(st.sampled_from(kinds))
        charge = {"kind": kind}
        if draw(st.booleans()):
            charge["id"] = f"c{index}"
        if draw(st.booleans()):
            charge["description"] = draw(st.sampled_from(sorted(d.LABELS)))
        if draw(st.booleans()):
            charge["when"] = draw(_conditions())
        refs = st.lists(st.sampled_from(ids), min_size=1, max_size=3) if ids else None
        if kind == "flat":
            charge["price"] = draw(_number("0", "100", 4))
            charge["quantity"] = draw(st.sampled_from([*d.QUANTITY_INPUTS, "extra.bins"]))
        elif kind == "block":
            charge["blocks"] = draw(_bands())
            if draw(st.booleans()):
                charge["free_units"] = draw(_number("1", "50", 1))
                charge["free_units_when"] = draw(_conditions())
            charge["prorate"] = draw(st.booleans())
        elif kind == "tiers":
            charge["tiers"] = draw(_bands())
        elif kind == "fixed":
            if draw(st.booleans()):
                charge["amount"] = draw(_number("0", "1000", 2))
            else:
                charge["by_meter_size"] = {"15mm": draw(_number("0", "500", 2)), "20mm": "120.00"}
            charge["prorate"] = draw(st.booleans())
        elif kind == "per_m2":
            charge["rate"] = draw(_number("0", "100", 2))
            charge["area"] = draw(st.sampled_from(d.AREA_CHOICES))
        elif kind == "norm":
            charge |= {
                "norm": draw(_number("0", "10", 4)),
                "per": draw(st.sampled_from(d.PER_CHOICES)),
                "price": draw(_number("0", "100", 2)),
            }
        elif kind == "heating_ru_f2":
            charge |= {"norm": draw(_number("0", "1", 4)), "price": draw(_number("0", "5000", 2))}
        elif kind == "heating_ru_f3":
            charge["price"] = draw(_number("0", "5000", 2))
        elif kind == "heating_ua":
            charge |= {
                "norm": draw(_number("0", "1", 4)),
                "price": draw(_number("0", "5000", 2)),
                "method": draw(st.sampled_from(d.HEATING_UA_METHODS)),
            }
            if draw(st.booleans()):
                charge["temperature_coefficient"] = draw(_number("0.5", "2", 2))
        elif kind == "property_rates":
            charge |= {
                "rate": draw(_number("0", "0.05", 6)),
                "valuation_rebate": "15000",
                "exempt_up_to": draw(_number("0", "200000", 0)),
            }
            if draw(st.booleans()):
                charge |= {"indigent_rebate": "1", "pensioner_rebate": draw(_number("0", "1", 2))}
        elif kind == "minimum":
            charge |= {"applies_to": draw(refs), "amount": draw(_number("0", "500", 2))}
        elif kind == "percentage":
            charge |= {"of": draw(refs), "rate": draw(_number("0", "2", 2))}
        else:  # rebate, subsidy
            basis = draw(
                st.sampled_from(
                    ["amount", "rate", "free_units"] if ids else ["amount", "free_units"]
                )
            )
            if basis == "amount":
                charge["amount"] = draw(_number("-500", "0", 2))
                if ids and draw(st.booleans()):
                    charge["of"] = draw(refs)
            elif basis == "rate":
                charge |= {"rate": draw(_number("-1", "0", 2)), "of": draw(refs)}
            else:
                charge |= {
                    "free_units": draw(_number("1", "100", 0)),
                    "price": draw(_number("-10", "0", 2)),
                }
        if "id" in charge:
            ids.append(charge["id"])
        charges.append(charge)
    start = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
    data = {
        "code": draw(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)),
        "service": draw(st.sampled_from(["electricity", "water", "heating", "rates"])),
        "unit": draw(st.sampled_from(["kWh", "kL", "m³", "Gcal"])),
        "currency": draw(st.sampled_from(["ZAR", "UAH", "RUB", "USD", "JPY", "KWD"])),
        "valid_from": start,
        "charges": charges,
    }
    if draw(st.booleans()):
        data["valid_to"] = draw(st.dates(start, date(2031, 12, 31)))
    if draw(st.booleans()):
        data["jurisdiction"] = draw(st.sampled_from(d.JURISDICTIONS))
    if draw(st.booleans()):
        data["tax"] = {
            "name": "VAT",
            "rate": draw(_number("0", "0.3", 2)),
            "prices_include_tax": draw(st.booleans()),
        }
    if draw(st.booleans()):
        data["version"] = draw(st.integers(1, 50))
    return data


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(tariff_dicts())
def test_the_canonical_form_reads_back_unchanged(data):
    tariff = parse_tariff(data)
    canonical = tariff_to_dict(tariff)
    assert parse_tariff(canonical) == tariff
    assert load_tariffs_text(yaml.safe_dump(canonical, allow_unicode=True)) == [tariff]
    assert load_tariffs_text(json.dumps(canonical)) == [tariff]
    assert tariff_to_dict(parse_tariff(canonical)) == canonical


JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.dates(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _replace(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


@PROPERTY
@given(st.data())
def test_junk_gives_a_tariff_error_and_nothing_else(data):
    valid = data.draw(tariff_dicts())
    path = data.draw(st.sampled_from(list(_paths(valid))))
    mutated = _replace(valid, path, data.draw(JUNK))
    for candidate in (data.draw(JUNK), mutated):
        try:
            parse_tariff(candidate)
        except TariffError as error:
            assert error.errors and all(e.code in d.ERROR_CODES for e in error.errors)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200) | JUNK.map(lambda v: yaml.safe_dump(v, allow_unicode=True)))
def test_any_text_gives_tariffs_or_a_tariff_error(text):
    try:
        load_tariffs_text(text)
    except TariffError as error:
        assert error.errors and all(e.code in d.ERROR_CODES for e in error.errors)


# --- Messages (errors.py) ---------------------------------------------------------------------
def test_every_code_and_label_has_a_translatable_text():
    from civicdesk.tariffs import engine, errors, prepaid

    assert set(errors.FIELD_MESSAGES) == d.ERROR_CODES
    assert set(errors.PRICING_MESSAGES) == engine.PRICING_ERROR_CODES | prepaid.PREPAID_ERROR_CODES
    assert set(errors.LABELS) == d.LABELS
    assert set(errors.UNITS) == set(engine.DEFAULT_UNIT_LABELS)
    assert set(errors.INPUT_REASONS) == engine.INVALID_REASONS


def test_messages_name_the_field_and_fill_their_parameters():
    from django.utils import translation

    from civicdesk.tariffs.errors import error_messages

    with pytest.raises(TariffError) as caught:
        parse_tariff(
            minimal(
                currency="ZZZ",
                tax={"name": "VAT", "rate": "-1"},
                charges=[
                    {
                        "kind": "block",
                        "blocks": [
                            {"up_to": 5, "price": "1"},
                            {"up_to": 2, "price": "1"},
                            {"up_to": None, "price": "1"},
                        ],
                    }
                ],
            )
        )
    with translation.override("en"):
        messages = error_messages(caught.value)
    assert messages == [
        {
            "path": "currency",
            "code": "unknown_currency",
            "message": "currency: “ZZZ” is not an ISO 4217 currency code.",
        },
        {
            "path": "tax.rate",
            "code": "negative_not_allowed",
            "message": "tax.rate: This cannot be negative "
            "(only rebates and subsidies are credits).",
        },
        {
            "path": "charges[0].blocks[1].up_to",
            "code": "not_ascending",
            "message": "charges[0].blocks[1].up_to: "
            "Each limit must be above the one before it (5).",
        },
    ]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_error_renders_as_a_message(data):
    from civicdesk.tariffs.errors import error_messages

    valid = data.draw(tariff_dicts())
    path = data.draw(st.sampled_from(list(_paths(valid))))
    try:
        parse_tariff(_replace(valid, path, data.draw(JUNK)))
    except TariffError as error:
        for message in error_messages(error):
            assert message["message"] and "%(" not in message["message"]
