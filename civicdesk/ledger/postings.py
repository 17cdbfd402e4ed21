"""Pure double-entry rules: legs, balance checks and conversion between Decimal and minor units.

No Django here. Errors carry a stable ``code`` so services can turn them into translated
messages; ``str(error)`` is an English description for logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents for the currencies the jurisdiction packs use; others default to 2.
CURRENCY_EXPONENTS: dict[str, int] = {"ZAR": 2, "UAH": 2, "RUB": 2, "EUR": 2, "USD": 2}


def currency_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get((currency or "").upper(), 2)


class PostingError(ValueError):
    """A set of legs or an amount that cannot be posted."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a transaction: positive amounts debit the account, negative amounts credit."""

    account_code: str
    amount_minor: int


def check_balanced(legs: Sequence[Leg] | Iterable[Leg]) -> list[Leg]:
    """Return the legs as a list when they form a valid transaction, else raise PostingError."""
    legs = list(legs)
    if len(legs) < 2:
        raise PostingError("too_few_legs", "a transaction needs at least two legs")
    for leg in legs:
        if isinstance(leg.amount_minor, bool) or not isinstance(leg.amount_minor, int):
            raise PostingError(
                "not_integer", f"amount for {leg.account_code!r} is not an integer of minor units"
            )
        if leg.amount_minor == 0:
            raise PostingError("zero_leg", f"leg for {leg.account_code!r} has a zero amount")
        if not leg.account_code:
            raise PostingError("no_account", "a leg has no account")
    total = sum(leg.amount_minor for leg in legs)
    if total != 0:
        raise PostingError("unbalanced", f"legs sum to {total}, not zero", total=total)
    return legs


def to_minor(amount: Decimal, currency_exponent: int = 2) -> int:
    """Exact conversion of a Decimal amount to integer minor units; never rounds.

    Raises PostingError for floats, non-finite values or more decimals than the currency has.
    """
    if isinstance(amount, float | bool) or not isinstance(amount, Decimal | int):
        raise PostingError("not_decimal", "money must be a Decimal, never a float")
    amount = Decimal(amount)
    if not amount.is_finite():
        raise PostingError("not_finite", "amount is not a finite number")
    try:
        scaled = amount.scaleb(currency_exponent)
    except InvalidOperation as exc:  # pragma: no cover - scaleb only fails on signalling NaN
        raise PostingError("not_finite", "amount is not a finite number") from exc
    if scaled != scaled.to_integral_value():
        raise PostingError(
            "too_many_decimals",
            f"{amount} has more than {currency_exponent} decimal places",
            places=currency_exponent,
        )
    return int(scaled)


def from_minor(amount_minor: int, currency_exponent: int = 2) -> Decimal:
    """Decimal amount for integer minor units, with exactly the currency's decimal places."""
    return Decimal(int(amount_minor)).scaleb(-currency_exponent)


def money(amount_minor: int, currency: str) -> Decimal:
    """``from_minor`` in ``currency``'s own decimal places: ``money(12345, "ZAR")`` → 123.45."""
    return from_minor(amount_minor, currency_exponent(currency))


def amount_text(amount_minor: int, currency: str) -> str:
    """The API's form of an amount: a plain decimal string, "123.45" (never an exponent)."""
    return format(money(amount_minor, currency), "f")
