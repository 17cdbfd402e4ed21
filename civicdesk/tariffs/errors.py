"""The tariff modules' codes in the reader's language: definition errors, pricing errors,
line labels and the word units of explanations (the pure modules speak in codes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.formats import get_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicdesk.tariffs import definition as d
from civicdesk.tariffs import engine, prepaid

# Definition errors (FieldError.code); the message follows the field's path.
FIELD_MESSAGES = {
    d.YAML_SYNTAX: _("The text is not valid YAML or JSON (line %(line)s, column %(column)s)."),
    d.TEXT_TOO_LARGE: _("The text is too long: at most %(max)s characters."),
    d.EMPTY: _("Nothing is given here: add at least one entry."),
    d.NOT_A_MAPPING: _("Expected keys with values here."),
    d.NOT_A_LIST: _("Expected a list here."),
    d.REQUIRED: _("This field is required."),
    d.UNKNOWN_KEY: _("Unknown key “%(key)s”; the keys allowed here are: %(allowed)s."),
    d.NOT_A_STRING: _("Expected text here."),
    d.TOO_LONG: _("Too long: at most %(max)s characters."),
    d.BAD_IDENTIFIER: _(
        "“%(value)s” is not a valid code: use letters, digits, dots, dashes and underscores."
    ),
    d.NOT_A_DECIMAL: _('“%(value)s” is not a number: write a number such as "2.50".'),
    d.TOO_MANY_DECIMALS: _("Too many decimal places: at most %(max)s."),
    d.TOO_LARGE: _("Too large: it must be below %(max)s."),
    d.NEGATIVE_NOT_ALLOWED: _("This cannot be negative (only rebates and subsidies are credits)."),
    d.MUST_NOT_BE_POSITIVE: _(
        "Rebates and subsidies are credits: write this value as zero or a negative number."
    ),
    d.MUST_BE_POSITIVE: _("This must be greater than zero."),
    d.OUT_OF_RANGE: _("This must be between %(min)s and %(max)s."),
    d.NOT_AN_INTEGER: _("Expected a whole number."),
    d.NOT_A_BOOLEAN: _("Expected true or false."),
    d.NOT_A_DATE: _("“%(value)s” is not a date: write it as YYYY-MM-DD."),
    d.VALID_TO_BEFORE_VALID_FROM: _("The tariff cannot end (valid_to) before it starts."),
    d.UNKNOWN_CURRENCY: _("“%(currency)s” is not an ISO 4217 currency code."),
    d.UNKNOWN_JURISDICTION: _("Unknown jurisdiction; choose one of: %(allowed)s."),
    d.BAD_ROUNDING_AMOUNT: _(
        'Amounts round to a power of ten from 1 to 0.0001, such as "0.01" (not %(value)s).'
    ),
    d.UNKNOWN_CHARGE_KIND: _("Unknown charge kind “%(kind)s”; choose one of: %(allowed)s."),
    d.UNKNOWN_CHOICE: _("“%(value)s” is not allowed here; choose one of: %(allowed)s."),
    d.UNKNOWN_LABEL: _("“%(label)s” is not a known description."),
    d.UNKNOWN_INPUT: _("“%(input)s” is not an input; choose one of: %(allowed)s."),
    d.UNKNOWN_CONDITION: _("Unknown condition “%(condition)s”; choose one of: %(allowed)s."),
    d.NOT_ASCENDING: _("Each limit must be above the one before it (%(previous)s)."),
    d.UNBOUNDED_NOT_LAST: _("Only the last block may be without an upper limit (up_to: null)."),
    d.LAST_MUST_BE_UNBOUNDED: _(
        "The last block must have no upper limit (up_to: null), so that every unit has a price."
    ),
    d.TOO_MANY: _("Too many entries: at most %(max)s."),
    d.DUPLICATE_ID: _("Another charge already has the id “%(id)s”."),
    d.UNKNOWN_REFERENCE: _("No charge has the id “%(id)s”."),
    d.REFERENCE_NOT_BEFORE: _(
        "The charge “%(id)s” must be listed before the charge that refers to it."
    ),
    d.ONE_OF_REQUIRED: _("Give one of these keys: %(keys)s."),
    d.CONFLICTING_KEYS: _("These keys cannot be used together: %(keys)s."),
    d.DUPLICATE_TARIFF: _("The tariff %(code)s, version %(version)s, is given more than once."),
}

# Pricing and prepaid errors (PricingError.code).
PRICING_MESSAGES = {
    engine.INPUT_REQUIRED: _("The input “%(input)s” is needed to price this tariff."),
    engine.INPUT_INVALID: _("The input “%(input)s” is not valid: %(reason)s."),
    engine.METER_SIZE_UNKNOWN: _(
        "The tariff has no charge for meter size “%(meter_size)s” (it has: %(sizes)s)."
    ),
    engine.TARIFF_NOT_IN_FORCE: _(
        "The tariff %(code)s is not in force in this period (valid from %(valid_from)s to "
        "%(valid_to)s)."
    ),
    prepaid.PREPAID_UNSUPPORTED_CHARGE: _(
        "The charge “%(charge)s” (%(kind)s) cannot be bought in advance."
    ),
    prepaid.PREPAID_NO_UNIT_PRICE: _("The tariff %(code)s has no price per unit to sell."),
    prepaid.PREPAID_FREE_UNBOUNDED: _(
        "The tariff %(code)s gives units free without limit, so a purchase has no end."
    ),
}

# Why an input is invalid (the `reason` of input_invalid).
INPUT_REASONS = {
    "not_a_number": _("it must be a number"),
    "out_of_range": _("it is out of range"),
    "negative": _("it cannot be negative"),
    "not_a_whole_number": _("it must be a whole number"),
    "period_given_twice": _("give either the month or the first and last day, not both"),
    "not_year_month": _("give the year and the month"),
    "not_a_date": _("it must be a date"),
    "before_start": _("the period ends before it starts"),
    "below_area": _("the building's total area must be at least the premises' area"),
    "too_many_decimals": _("it has more decimals than the currency"),
    "not_text": _("it must be text"),
}

# Line labels (definition.LABELS): what a bill shows for each line.
LABELS = {
    "flat": pgettext_lazy("tariff line", "Charge per unit"),
    "block": pgettext_lazy("tariff line", "Consumption (inclining blocks)"),
    "tiers": pgettext_lazy("tariff line", "Consumption (volume tier)"),
    "fixed": pgettext_lazy("tariff line", "Fixed monthly charge"),
    "per_m2": pgettext_lazy("tariff line", "Charge per m²"),
    "norm": pgettext_lazy("tariff line", "Consumption by norm"),
    "heating": pgettext_lazy("tariff line", "Heating"),
    "property_rates": pgettext_lazy("tariff line", "Property rates"),
    "property_rates_exempt": pgettext_lazy(
        "tariff line", "Property rates (valuation below the exemption threshold)"
    ),
    "minimum_top_up": pgettext_lazy("tariff line", "Minimum charge top-up"),
    "percentage": pgettext_lazy("tariff line", "Percentage charge"),
    "rebate": pgettext_lazy("tariff line", "Rebate"),
    "subsidy": pgettext_lazy("tariff line", "Subsidy"),
    "free_basic": pgettext_lazy("tariff line", "Free basic allowance"),
    "indigent_rebate": pgettext_lazy("tariff line", "Indigent rebate"),
    "pensioner_rebate": pgettext_lazy("tariff line", "Pensioner rebate"),
    "vat": pgettext_lazy("tariff line", "VAT"),
    "tax": pgettext_lazy("tariff line", "Tax"),
    "electricity": pgettext_lazy("tariff line", "Electricity"),
    "energy_charge": pgettext_lazy("tariff line", "Energy charge"),
    "network_charge": pgettext_lazy("tariff line", "Network charge"),
    "basic_charge": pgettext_lazy("tariff line", "Basic charge"),
    "availability_charge": pgettext_lazy("tariff line", "Availability charge"),
    "service_charge": pgettext_lazy("tariff line", "Service charge"),
    "water": pgettext_lazy("tariff line", "Water"),
    "cold_water": pgettext_lazy("tariff line", "Cold water"),
    "hot_water": pgettext_lazy("tariff line", "Hot water"),
    "sewerage": pgettext_lazy("tariff line", "Sewerage"),
    "refuse": pgettext_lazy("tariff line", "Refuse removal"),
    "solid_waste": pgettext_lazy("tariff line", "Solid waste"),
    "gas": pgettext_lazy("tariff line", "Gas"),
    "maintenance": pgettext_lazy("tariff line", "Maintenance of the building"),
    "management": pgettext_lazy("tariff line", "Management of the building"),
    "current_repair": pgettext_lazy("tariff line", "Current repairs"),
    "capital_repair": pgettext_lazy("tariff line", "Capital repair contribution"),
    "common_property": pgettext_lazy("tariff line", "Utilities for common property"),
    "free_basic_electricity": pgettext_lazy("tariff line", "Free basic electricity"),
    "free_basic_water": pgettext_lazy("tariff line", "Free basic water"),
}

# Word units of explanations (engine.DEFAULT_UNIT_LABELS).
UNITS = {
    # Translators: after a number in a bill's explanation ("3 occupants × 6.935 m³");
    # an abbreviation avoids plural forms.
    engine.OCCUPANTS: pgettext_lazy("unit", "occupants"),
    # Translators: "20/31 days" in a bill's explanation; an abbreviation is fine.
    engine.DAYS: pgettext_lazy("unit", "days"),
    engine.MONTH: pgettext_lazy("unit", "month"),
}


def _params(params: dict[str, Any]) -> dict[str, str]:
    """Parameters as message text: lists joined, None as a dash."""
    out = {}
    for key, value in params.items():
        if isinstance(value, list | tuple):
            out[key] = ", ".join(str(item) for item in value)
        else:
            out[key] = "–" if value is None else str(value)
    return out


def field_error_message(error: d.FieldError) -> str:
    """One definition error as a sentence, starting with the field's path."""
    params = _params(dict(error.params))
    if error.code == d.YAML_SYNTAX and error.params.get("line") is None:
        text = str(_("The text is not valid YAML or JSON."))
    elif error.code == d.OUT_OF_RANGE and error.params.get("max") is None:
        text = str(_("This must be at least %(min)s.")) % params
    elif error.code == d.OUT_OF_RANGE and error.params.get("min") is None:
        text = str(_("This must be at most %(max)s.")) % params
    elif error.code in FIELD_MESSAGES:
        text = str(FIELD_MESSAGES[error.code]) % params
    else:
        text = error.code
    return f"{error.path}: {text}" if error.path else text


def error_messages(err: d.TariffError) -> list[dict[str, str]]:
    """Every error of a definition as {path, code, message} (what the API returns)."""
    return [
        {"path": error.path, "code": error.code, "message": field_error_message(error)}
        for error in err.errors
    ]


def pricing_error_message(err: engine.PricingError) -> str:
    """A PricingError (from price, a Pricer or prepaid_purchase) as a sentence."""
    params = _params(dict(err.params))
    if "reason" in err.params:
        params["reason"] = str(INPUT_REASONS.get(err.params["reason"], err.params["reason"]))
    message = PRICING_MESSAGES.get(err.code)
    text = str(message) % params if message is not None else err.code
    charge = err.params.get("charge")
    if charge:
        text += " " + str(_("(charge %(charge)s)")) % {"charge": charge}
    return text


def label_text(key: str) -> str:
    """A line label in the reader's language (the key itself if unknown)."""
    label = LABELS.get(key)
    return key if label is None else str(label)


def unit_labels() -> dict[str, str]:
    return {key: str(label) for key, label in UNITS.items()}


def explain(terms: Iterable[engine.Term], *, currency: str, money_places: int = 2) -> str:
    """A line's explanation in the active language's number style and words."""
    grouping = get_format("NUMBER_GROUPING")
    return engine.format_explanation(
        terms,
        currency=currency,
        decimal_sep=get_format("DECIMAL_SEPARATOR"),
        group_sep=get_format("THOUSAND_SEPARATOR") if grouping else "",
        unit_labels=unit_labels(),
        money_places=money_places,
    )
