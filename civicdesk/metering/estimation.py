"""Estimating a period's use when no reading came in: plain values in, an estimate out. No
Django import.

The rule (Russia's Decree 354, paragraphs 59-60, and the same shape elsewhere), with its
limits as operator settings:

1. the **average** monthly use of the last ``average_months`` months of history (real
   readings; estimated months are left out by the caller), when there are at least
   ``min_months`` of them, for at most ``max_periods`` consecutive estimated periods;
2. then the **norm**: per registered occupant (water, electricity, gas) or per m² (heat), a
   month;
3. without a norm (South Africa has none nationally) the average goes on; without enough
   history the norm applies from the first period; with neither, nothing is estimated.

An average of a history that nets out negative (a true-up credited more than was used)
estimates zero. Quantities are rounded half-up to thousandths, the register's resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

AVERAGE = "average"
NORM = "norm"
STEP = Decimal("0.001")
ZERO = Decimal("0")

# Explanation codes: (code, values) pairs a caller renders in the reader's language.
EXPLAIN_AVERAGE = "average"  # {"months", "average"}
EXPLAIN_AVERAGE_CONTINUES = "average_continues"  # {"periods"}: past the limit, no norm
EXPLAIN_TOO_LITTLE_HISTORY = "too_little_history"  # {"months", "needed"}
EXPLAIN_LIMIT_REACHED = "limit_reached"  # {"periods"}
EXPLAIN_NORM_PER_OCCUPANT = "norm_per_occupant"  # {"norm", "occupants"}
EXPLAIN_NORM_PER_M2 = "norm_per_m2"  # {"norm", "area"}


@dataclass(frozen=True)
class Norm:
    per_occupant: Decimal | None = None
    per_m2: Decimal | None = None

    @classmethod
    def from_setting(cls, raw) -> Norm | None:
        """A norm from the operator's settings (``{"per_occupant": "6.935"}`` or
        ``{"per_m2": "0.016"}``); None when absent or unreadable."""
        if not isinstance(raw, dict):
            return None
        values = {}
        for key in ("per_occupant", "per_m2"):
            if raw.get(key) in (None, ""):
                continue
            try:
                value = Decimal(str(raw[key]))
            except (InvalidOperation, ValueError):
                return None
            if not value.is_finite() or value < 0:
                return None
            values[key] = value
        return cls(**values) if values else None


@dataclass(frozen=True)
class Rules:
    average_months: int = 6
    min_months: int = 3
    max_periods: int = 3
    norm: Norm | None = None


@dataclass(frozen=True)
class Estimate:
    quantity: Decimal
    basis: str  # AVERAGE or NORM
    explanation: tuple[tuple[str, dict], ...] = field(default=())


def _round(value: Decimal) -> Decimal:
    return value.quantize(STEP, rounding=ROUND_HALF_UP)


def _by_norm(
    norm: Norm | None, occupants: int | None, area: Decimal | None
) -> tuple[Decimal, tuple[str, dict]] | None:
    if norm is None:
        return None
    if norm.per_occupant is not None and occupants is not None:
        return (
            norm.per_occupant * occupants,
            (EXPLAIN_NORM_PER_OCCUPANT, {"norm": norm.per_occupant, "occupants": occupants}),
        )
    if norm.per_m2 is not None and area is not None:
        return norm.per_m2 * area, (EXPLAIN_NORM_PER_M2, {"norm": norm.per_m2, "area": area})
    return None


def estimate(
    *,
    history: Sequence[Decimal],
    estimated_periods: int,
    rules: Rules,
    occupants: int | None = None,
    area: Decimal | None = None,
) -> Estimate | None:
    """One period's estimate. ``history``: monthly use of real months, oldest first;
    ``estimated_periods``: periods already estimated in a row since the last real reading;
    ``occupants``/``area``: the premises' registered occupants and m² for the norm (None for
    a building meter, which has neither)."""
    months = tuple(history[-max(1, rules.average_months) :]) if history else ()
    has_average = len(months) >= max(1, rules.min_months)
    average = None
    if has_average:
        average = max(ZERO, sum(months, ZERO) / len(months))
    within_limit = estimated_periods < rules.max_periods
    norm = _by_norm(rules.norm, occupants, area)

    if average is not None and (within_limit or norm is None):
        parts: list[tuple[str, dict]] = [
            (EXPLAIN_AVERAGE, {"months": len(months), "average": _round(average)})
        ]
        if not within_limit:
            parts.append((EXPLAIN_AVERAGE_CONTINUES, {"periods": rules.max_periods}))
        return Estimate(_round(average), AVERAGE, tuple(parts))
    if norm is not None:
        quantity, part = norm
        reason = (
            (EXPLAIN_LIMIT_REACHED, {"periods": rules.max_periods})
            if average is not None
            else (EXPLAIN_TOO_LITTLE_HISTORY, {"months": len(months), "needed": rules.min_months})
        )
        return Estimate(_round(max(ZERO, quantity)), NORM, (reason, part))
    return None
