"""Public calculator pages (no login), mounted at /calculators/: the tariffs in force, what a
month costs on one of them, and what a prepaid electricity payment buys. The forms are plain
GET forms (a result can be shared as a link, nothing is written); htmx swaps in the inputs of
the tariff chosen. The rules are the engine's (`engine.py`, `prepaid.py`); these views parse,
call and show, with every number in the reader's style."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from civicdesk.tariffs import definition, engine, errors, prepaid, selectors
from civicdesk.tariffs.api import money_places, unit_text
from civicdesk.tariffs.forms import PrepaidForm, QuoteForm
from civicdesk.tariffs.models import Tariff

PREPAID_SERVICE = "electricity"


# --- presentation -----------------------------------------------------------------------------


def quantity_text(value: Decimal) -> str:
    """A quantity in the active language's style, without trailing zeros."""
    if value == value.to_integral_value():
        return formats.number_format(value.quantize(Decimal(1)))
    return formats.number_format(value.normalize())


@dataclass(frozen=True)
class ShownLine:
    description: str
    quantity: str
    unit: str
    explanation: str
    amount: str


@dataclass(frozen=True)
class ShownQuote:
    tariff: str
    version: int
    month: str
    currency: str
    lines: list[ShownLine]
    total_excl_tax: str
    tax_label: str
    tax: str
    total: str


@dataclass(frozen=True)
class ShownPurchase:
    tariff: str
    version: int
    month: str
    currency: str
    units: str
    unit: str
    amount: str
    tax: str
    unspent: str
    lines: list[ShownLine]


def _lines(lines, tariff: definition.Tariff) -> list[ShownLine]:
    places = money_places(tariff)
    return [
        ShownLine(
            description=errors.label_text(line.label),
            quantity=quantity_text(line.quantity),
            unit=unit_text(line.unit, tariff.currency),
            explanation=errors.explain(line.terms, currency=tariff.currency, money_places=places),
            amount=formats.number_format(line.amount, places),
        )
        for line in lines
    ]


def _month_text(first: date) -> str:
    return formats.date_format(first, "YEAR_MONTH_FORMAT")


def _tariff_name(tariff: definition.Tariff) -> str:
    return tariff.name or tariff.code


def _choice(row: Tariff) -> tuple[str, str]:
    return row.code, f"{row.name} ({row.code})" if row.name else row.code


# --- the calculators --------------------------------------------------------------------------


def _first_day(form) -> date:
    """The first day of the month chosen, or of this month (the operator's)."""
    return (form.cleaned_data.get("period") or timezone.localdate()).replace(day=1)


def _in_force(form, code: str, first: date) -> definition.Tariff | None:
    """The version of `code` in force on the month's first day (as the billing run picks
    it), or None with the reason on the form."""
    found = selectors.tariff_in_force(code, first)
    if found is None:
        form.add_error(
            "period",
            _("The tariff %(code)s is not in force in %(month)s.")
            % {"code": code, "month": _month_text(first)},
        )
        return None
    return found.tariff


def _chosen(rows: list[Tariff], wanted: str | None) -> tuple[str, definition.Tariff | None]:
    """The code asked for if it is in force today, else the first; and today's version of
    it, whose inputs the form asks for."""
    row = next((row for row in rows if row.code == wanted), rows[0] if rows else None)
    if row is None:
        return "", None
    return row.code, selectors.compiled(row).tariff


def _quote(request: HttpRequest, rows: list[Tariff]) -> tuple[QuoteForm, ShownQuote | None]:
    """The quote form (bound when it was sent) and its result, or None."""
    choices = [_choice(row) for row in rows]
    sent = request.GET.get("form") == "quote"
    code, tariff = _chosen(rows, request.GET.get("tariff"))
    if not sent or request.GET.get("shown_for") != code:
        # The first visit, or a new tariff chosen without JavaScript: its inputs, unpriced.
        initial = {"tariff": code, "shown_for": code}
        if sent:
            initial["period"] = request.GET.get("period") or None
        return QuoteForm(initial=initial, choices=choices, tariff=tariff), None
    form = QuoteForm(request.GET, choices=choices, tariff=tariff)
    if not form.is_valid():
        return form, None
    first = _first_day(form)
    priced = _in_force(form, code, first)
    if priced is None:
        return form, None
    try:
        quote = engine.price(
            priced,
            engine.PricingInput(period=(first.year, first.month), **form.pricing_inputs()),
        )
    except engine.PricingError as exc:
        form.add_error(form.field_for(exc), errors.pricing_error_message(exc))
        return form, None
    places = money_places(priced)
    tax_label = ""  # no tax rows without a tax
    if quote.tax_rate is not None:
        label = errors.label_text(quote.tax_label or "tax")
        tax_label = f"{label} ({quantity_text(quote.tax_rate * 100)}%)"
    return form, ShownQuote(
        tariff=_tariff_name(priced),
        version=quote.tariff_version,
        month=_month_text(first),
        currency=quote.currency,
        lines=_lines(quote.lines, priced),
        total_excl_tax=formats.number_format(quote.total_excl_tax, places),
        tax_label=tax_label,
        tax=formats.number_format(quote.tax, places),
        total=formats.number_format(quote.total, places),
    )


def _purchase(
    request: HttpRequest, choices: list
) -> tuple[PrepaidForm | None, ShownPurchase | None]:
    """The prepaid form (None without an electricity tariff) and its result, or None."""
    if not choices:
        return None, None
    if request.GET.get("form") != "prepaid":
        return PrepaidForm(choices=choices, initial={"already_purchased_units": 0}), None
    form = PrepaidForm(request.GET, choices=choices)
    if not form.is_valid():
        return form, None
    first = _first_day(form)
    tariff = _in_force(form, form.cleaned_data["tariff"], first)
    if tariff is None:
        return form, None
    try:
        bought = prepaid.prepaid_purchase(
            tariff,
            form.cleaned_data["amount"],
            form.cleaned_data["already_purchased_units"] or Decimal(0),
            period=(first.year, first.month),
        )
    except engine.PricingError as exc:
        form.add_error(form.field_for(exc), errors.pricing_error_message(exc))
        return form, None
    places = money_places(tariff)
    return form, ShownPurchase(
        tariff=_tariff_name(tariff),
        version=tariff.version,
        month=_month_text(first),
        currency=tariff.currency,
        units=quantity_text(bought.units),
        unit=tariff.unit,
        amount=formats.number_format(bought.amount, places),
        tax=formats.number_format(bought.tax, places),
        unspent=formats.number_format(bought.unspent, places),
        lines=_lines(bought.lines, tariff),
    )


@require_GET
def calculators(request: HttpRequest) -> HttpResponse:
    rows = selectors.tariffs_current(timezone.localdate())
    quote_form, quote = _quote(request, rows)
    prepaid_choices = [_choice(row) for row in rows if row.service == PREPAID_SERVICE]
    prepaid_form, purchase = _purchase(request, prepaid_choices)
    return render(
        request,
        "tariffs/calculators.html",
        {
            "tariffs": rows,
            "quote_form": quote_form if rows else None,
            "quote": quote,
            "prepaid_form": prepaid_form,
            "purchase": purchase,
        },
    )


@require_GET
def quote_inputs(request: HttpRequest) -> HttpResponse:
    """The inputs of the tariff chosen (htmx swaps them into the quote form)."""
    rows = selectors.tariffs_current(timezone.localdate())
    code, tariff = _chosen(rows, request.GET.get("tariff"))
    form = QuoteForm(
        initial={"tariff": code, "shown_for": code},
        choices=[_choice(item) for item in rows],
        tariff=tariff,
    )
    return render(request, "tariffs/_quote_inputs.html", {"form": form})
