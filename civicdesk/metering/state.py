"""How a register's validation state moves when a reading or an estimate is accepted.

Pure: the services (one reading at a time) and the bulk import (a million at a time) both call
`state_after`, so a register reads the same whichever way its readings came in.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from civicdesk.metering.validation import ZERO, RegisterState

RECENT_MONTHS = 12

_month_keys: dict[date, str] = {}  # period → "YYYY-MM" (strftime is slow; bounded)


class _Recent(tuple):
    """What `recent_add` returns: a plain tuple of (month, use) pairs that is known to be
    sorted by month with no month twice and at most RECENT_MONTHS long, so the next
    `recent_add` need not check it."""

    __slots__ = ()


def month_key(period: date) -> str:
    """The month's key in the recent list: ``period.strftime("%Y-%m")``."""
    key = _month_keys.get(period)
    if key is None:
        key = period.strftime("%Y-%m")
        if len(_month_keys) >= 4096:
            _month_keys.clear()
        _month_keys[period] = key
    return key


def recent_add(
    recent: tuple[tuple[str, Decimal], ...], period: date, use: Decimal
) -> tuple[tuple[str, Decimal], ...]:
    """Add ``use`` to ``period``'s month in the list of recent monthly use (oldest first, at
    most twelve months)."""
    key = _month_keys.get(period) or month_key(period)
    # The usual case, a later month than any on record: append it (and drop the oldest).
    # Exactly what the general way gives when ``recent`` is a tuple of (str, use) pairs in
    # order (checked, unless this function made it).
    kind = type(recent)
    if kind is _Recent or kind is tuple:
        if not recent:
            return _Recent(((key, ZERO + use),))
        if (kind is _Recent or _in_order(recent)) and recent[-1][0] < key:
            if len(recent) < RECENT_MONTHS:
                return _Recent((*recent, (key, ZERO + use)))
            return _Recent((*recent[len(recent) - RECENT_MONTHS + 1 :], (key, ZERO + use)))
    return recent_add_general(recent, key, use)


def recent_add_general(
    recent: tuple[tuple[str, Decimal], ...], key: str, use: Decimal
) -> tuple[tuple[str, Decimal], ...]:
    """`recent_add` for any list and month key (the way every case is defined)."""
    items = dict(recent)
    items[key] = items.get(key, ZERO) + use
    return _Recent(sorted(items.items())[-RECENT_MONTHS:])


def _in_order(recent) -> bool:
    """Pairs with strictly increasing string months, at most RECENT_MONTHS of them."""
    if len(recent) > RECENT_MONTHS:
        return False
    previous = None
    for pair in recent:
        if type(pair) is not tuple or len(pair) != 2 or type(pair[0]) is not str:
            return False
        if previous is not None and not previous < pair[0]:
            return False
        previous = pair[0]
    return True


def state_after(
    state: RegisterState,
    *,
    value: Decimal,
    taken_at: datetime,
    consumption: Decimal | None,
    estimate: bool,
) -> RegisterState:
    """The state once ``value`` (accepted) is on record. An estimate counts towards the
    estimated periods; a real reading clears them."""
    if estimate:
        return RegisterState(
            value,
            taken_at,
            state.last_real_value,
            state.last_real_taken_at,
            state.recent,
            state.estimated_periods + 1,
            state.estimated_quantity + (consumption or ZERO),
        )
    return RegisterState(value, taken_at, value, taken_at, state.recent, 0, ZERO)


def recent_from_json(raw) -> tuple[tuple[str, Decimal], ...]:
    return tuple((str(k), Decimal(str(v))) for k, v in (raw or ()))


def recent_to_json(recent) -> list:
    return [[k, str(v)] for k, v in recent]


def recent_values(recent) -> tuple[Decimal, ...]:
    """The monthly quantities alone, oldest first (what `validation.RegisterState.recent`
    takes)."""
    return tuple(v for _k, v in recent)
