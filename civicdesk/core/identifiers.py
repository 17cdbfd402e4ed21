"""Public identifiers with check digits (pure: no Django).

Account numbers are digits: an optional operator prefix, a sequence, and one check digit
computed by the operator's algorithm (Luhn by default; Verhoeff and Damm also catch every
adjacent transposition). Residents type them with spaces or dashes; both are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import damm, luhn, verhoeff

ALGORITHMS = {"luhn": luhn, "verhoeff": verhoeff, "damm": damm}


class InvalidIdentifier(ValueError):
    """`reason` is one of: empty, format, length, prefix, check_digit."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AccountNumberFormat:
    algorithm: str = "luhn"
    length: int = 10  # every digit, the check digit included
    prefix: str = ""

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown check-digit algorithm {self.algorithm!r}")
        if not self.prefix.isdigit() and self.prefix:
            raise ValueError("the prefix must be digits")
        if not 4 <= self.length <= 20 or len(self.prefix) >= self.length - 2:
            raise ValueError("length must be 4-20 and leave room after the prefix")

    @property
    def capacity(self) -> int:
        return 10 ** (self.length - 1 - len(self.prefix))


_SEPARATORS = re.compile(r"[\s\-./]")


def normalise(raw: str) -> str:
    return _SEPARATORS.sub("", raw or "")


def account_number_make(fmt: AccountNumberFormat, sequence: int) -> str:
    if not 0 <= sequence < fmt.capacity:
        raise ValueError(f"sequence {sequence} does not fit {fmt}")
    body = fmt.prefix + str(sequence).zfill(fmt.length - 1 - len(fmt.prefix))
    return body + ALGORITHMS[fmt.algorithm].calc_check_digit(body)


def account_number_check(fmt: AccountNumberFormat, raw: str) -> str:
    """The normalised number, or InvalidIdentifier saying what is wrong with it."""
    number = normalise(raw)
    if not number:
        raise InvalidIdentifier("empty")
    if not number.isdigit():
        raise InvalidIdentifier("format")
    if len(number) != fmt.length:
        raise InvalidIdentifier("length")
    if fmt.prefix and not number.startswith(fmt.prefix):
        raise InvalidIdentifier("prefix")
    if not ALGORITHMS[fmt.algorithm].is_valid(number):
        raise InvalidIdentifier("check_digit")
    return number


def check_digit_valid(fmt: AccountNumberFormat, raw: str) -> bool:
    try:
        account_number_check(fmt, raw)
    except InvalidIdentifier:
        return False
    return True
