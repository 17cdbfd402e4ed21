"""Money in templates: amounts formatted for the active language with the currency code."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils import formats

from civicdesk.ledger import postings
from civicdesk.registry.models import ServiceType

register = template.Library()

SYMBOLS = {"ZAR": "R", "UAH": "₴", "RUB": "₽"}


@register.filter
def money(amount, currency: str = "") -> str:
    """``Decimal("1234.5")|money:"ZAR"`` → "R 1 234,50" or "R1,234.50" per the language."""
    if amount in (None, ""):
        return ""
    amount = Decimal(amount)
    exponent = postings.currency_exponent(currency)
    text = formats.number_format(amount, decimal_pos=exponent, use_l10n=True, force_grouping=True)
    symbol = SYMBOLS.get((currency or "").upper(), currency)
    return f"{symbol}\u00a0{text}" if symbol else text


@register.filter
def minor_money(amount_minor, currency: str = "") -> str:
    if amount_minor in (None, ""):
        return ""
    return money(postings.money(int(amount_minor), currency), currency)


@register.filter
def negate(value):
    return -value


@register.filter
def service_label(code: str) -> str:
    try:
        return ServiceType(code).label
    except ValueError:
        return code or ""
