"""Public identifiers (pure: no Django): account numbers with check digits, and time-ordered
UUIDs.

Account numbers are digits: an optional operator prefix, a sequence, and one check digit
computed by the operator's algorithm (Luhn by default; Verhoeff and Damm also catch every
adjacent transposition). Residents type them with spaces or dashes; both are ignored.

`uuid7()` makes version 7 UUIDs (RFC 9562): a millisecond timestamp first, so that rows made
one after another get ascending keys and go into a unique index at its right-hand edge, leaf
after leaf, instead of at random places all over it (a random version 4 key costs an index
page read and write per row once the index outgrows the cache).
"""

from __future__ import annotations

import array
import os
import re
import threading
import time
import uuid
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


# --- time-ordered UUIDs (version 7) -----------------------------------------------------------
#
# Layout (RFC 9562, section 5.7, with the "fixed bit-length dedicated counter" of 6.2):
#   bits 127-80  unix_ts_ms: milliseconds since 1970-01-01 UTC
#   bits  79-76  version: 7
#   bits  75-64  counter, high 12 bits (rand_a)
#   bits  63-62  variant: 0b10
#   bits  61-32  counter, low 30 bits (first bits of rand_b)
#   bits  31-0   random (the rest of rand_b)
# The 42-bit counter starts at a random value below 2**41 each new millisecond and goes up by
# one for each UUID made in that millisecond, so the UUIDs one process makes are strictly
# ascending even many to a millisecond, or when the clock steps back (the last millisecond is
# kept until the clock passes it; a counter that runs out moves on to the next millisecond).

_COUNTER_BITS = 42
_COUNTER_HIGH = 1 << 30  # the counter's low 30 bits go below the variant
_VERSION_7 = 7 << 76
_VARIANT = 0b10 << 62
_U32 = next(code for code in "IL" if array.array(code).itemsize == 4)
_uuid7_lock = threading.Lock()
_uuid7_last = [0, 0]  # the last millisecond and counter used


def uuid7() -> uuid.UUID:
    """A new version 7 UUID, greater than every one this process made before."""
    return uuid7s(1)[0]


def uuid7s(count: int) -> list[uuid.UUID]:
    """``count`` new version 7 UUIDs in ascending order, each greater than every one this
    process made before (one clock read and one read of the random source for them all)."""
    if count <= 0:
        return []
    noise = os.urandom(4 * count + 6)
    with _uuid7_lock:
        millis = time.time_ns() // 1_000_000
        last_millis, counter = _uuid7_last
        if millis > last_millis:
            counter = int.from_bytes(noise[-6:], "big") >> 7  # 41 random bits
        else:  # the same millisecond, or the clock went back: go on counting
            millis = last_millis
            counter += 1
        if counter + count > 1 << _COUNTER_BITS:  # not enough room: the next millisecond
            millis += 1
            counter = 0
        _uuid7_last[0], _uuid7_last[1] = millis, counter + count - 1
    prefix = (millis << 80) | _VERSION_7 | _VARIANT
    high, low = _COUNTER_HIGH, _COUNTER_HIGH - 1
    randoms = array.array(_U32)
    randoms.frombytes(noise[: 4 * count])  # 32 random bits each (byte order is no matter)
    numbers = [
        prefix | ((value // high) << 64) | ((value & low) << 32) | extra
        for value, extra in zip(range(counter, counter + count), randoms, strict=True)
    ]
    # uuid.UUID(int=...) checks the range and version we just made sure of.
    made = []
    new, set_slot, unknown = object.__new__, object.__setattr__, uuid.SafeUUID.unknown
    for number in numbers:
        one = new(uuid.UUID)
        set_slot(one, "int", number)
        set_slot(one, "is_safe", unknown)
        made.append(one)
    return made


def uuid7_time(value: uuid.UUID) -> float:
    """When a version 7 UUID was made: seconds since the epoch (for tests and diagnostics)."""
    return (value.int >> 80) / 1000
