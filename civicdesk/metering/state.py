"""How a register's validation state moves when a reading or an estimate is accepted.

Pure: the services (one reading at a time) and the bulk import (a million at a time) both call
`state_after`, so a register reads the same whichever way its readings came in.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from civicdesk.metering.validation import ZERO, RegisterState

RECENT_MONTHS = 12


def recent_add(
    recent: tuple[tuple[str, Decimal], ...], period: date, use: Decimal
) -> tuple[tuple[str, Decimal], ...]:
    """Add ``use`` to ``period``'s month in the list of recent monthly use (oldest first, at
    most twelve months)."""
    key = period.strftime("%Y-%m")
    items = dict(recent)
    items[key] = items.get(key, ZERO) + use
    return tuple(sorted(items.items()))[-RECENT_MONTHS:]


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
        return replace(
            state,
            last_value=value,
            last_taken_at=taken_at,
            estimated_periods=state.estimated_periods + 1,
            estimated_quantity=state.estimated_quantity + (consumption or ZERO),
        )
    return replace(
        state,
        last_value=value,
        last_taken_at=taken_at,
        last_real_value=value,
        last_real_taken_at=taken_at,
        estimated_periods=0,
        estimated_quantity=ZERO,
    )


def recent_from_json(raw) -> tuple[tuple[str, Decimal], ...]:
    return tuple((str(k), Decimal(str(v))) for k, v in (raw or ()))


def recent_to_json(recent) -> list:
    return [[k, str(v)] for k, v in recent]


def recent_values(recent) -> tuple[Decimal, ...]:
    """The monthly quantities alone, oldest first (what `validation.RegisterState.recent`
    takes)."""
    return tuple(v for _k, v in recent)
