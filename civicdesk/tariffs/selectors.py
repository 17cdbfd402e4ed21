"""Reads of tariffs: the version in force on a day, compiled for pricing.

Compiled tariffs (``engine.Pricer``) are kept per (code, version) in this process, so the
quotes a pricer remembers serve every chunk of a billing run, and later runs too; a stored
version never changes (a correction is a new version), so nothing here goes stale.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q, QuerySet

from civicdesk.tariffs import definition, engine
from civicdesk.tariffs.models import Tariff

# Keyed by (code, version, digest): a version never changes in one database, but tests and
# benchmarks make many databases in one process.
_compiled: dict[tuple[str, int, str], engine.Pricer] = {}
_in_force: dict[tuple[str, int, str], TariffInForce] = {}
_lock = threading.Lock()
_COMPILED_MAX = 500


@dataclass(frozen=True, slots=True)
class Priced:
    """A quote as a bill line keeps it: totals, the explanation, the sub-lines as text."""

    total: Decimal
    tax: Decimal
    explanation: str
    detail: tuple


class TariffInForce:
    """One stored version, compiled: ``price(**inputs)`` gives a :class:`Priced`."""

    errors = (engine.PricingError,)

    def __init__(self, row: Tariff, pricer: engine.Pricer):
        self.code = row.code
        self.version = row.version
        self.service = row.service
        self.currency = row.currency
        self.unit = row.unit
        self.tariff = pricer.tariff
        self.pricer = pricer
        self._priced: dict[int, tuple[engine.Quote, Priced]] = {}
        # The PricingInput fields the price depends on (besides the period).
        names, _extra = engine.inputs_used(pricer.tariff)
        self.used = tuple(n for n in names if n not in ("period", "period_start", "period_end"))
        # For callers that remember what they made of a price (the billing run's lines).
        self.memo: dict = {}

    def quote(self, **inputs) -> engine.Quote:
        return self.pricer.price(engine.PricingInput(**inputs))

    def price(self, *, period: date, **inputs) -> Priced:
        quote = self.pricer.price(engine.PricingInput(period=(period.year, period.month), **inputs))
        found = self._priced.get(id(quote))
        if found is not None and found[0] is quote:
            return found[1]
        priced = Priced(
            total=quote.total,
            tax=quote.tax,
            explanation="; ".join(line.explanation for line in quote.lines if line.explanation),
            detail=tuple(
                (
                    line.label,
                    str(line.quantity),
                    line.unit,
                    "" if line.rate is None else str(line.rate),
                    str(line.amount),
                    line.explanation,
                )
                for line in quote.lines
            ),
        )
        if len(self._priced) > 100_000:
            self._priced.clear()
        self._priced[id(quote)] = (quote, priced)
        return priced


def compiled(row: Tariff) -> engine.Pricer:
    key = (row.code, row.version, row.digest)
    with _lock:
        found = _compiled.get(key)
        if found is None:
            if len(_compiled) >= _COMPILED_MAX:
                _compiled.pop(next(iter(_compiled)))
            found = _compiled[key] = engine.compile_tariff(definition.parse_tariff(row.definition))
    return found


def versions_in_force(day: date) -> QuerySet[Tariff]:
    return Tariff.objects.filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=day), valid_from__lte=day
    )


def tariffs_in_force(codes, day: date) -> dict[str, TariffInForce]:
    """For each code, the version in force on ``day`` (the latest start, then the highest
    version); codes with none are left out."""
    codes = [code for code in codes if code]
    if not codes:
        return {}
    rows = versions_in_force(day).filter(code__in=codes).order_by("code", "-valid_from", "-version")
    out: dict[str, TariffInForce] = {}
    for row in rows:
        if row.code not in out:
            out[row.code] = _tariff_in_force(row)
    return out


def _tariff_in_force(row: Tariff) -> TariffInForce:
    """One object per stored version and process (a stored version never changes), so what
    its pricer and memo learn serves every chunk and run."""
    key = (row.code, row.version, row.digest)
    with _lock:
        found = _in_force.get(key)
        if found is not None:
            return found
    found = TariffInForce(row, compiled(row))
    with _lock:
        if len(_in_force) >= _COMPILED_MAX:
            _in_force.pop(next(iter(_in_force)))
        _in_force[key] = found
    return found


def tariff_in_force(code: str, day: date) -> TariffInForce | None:
    return tariffs_in_force([code], day).get(code)


def tariff_versions(code: str) -> QuerySet[Tariff]:
    return Tariff.objects.filter(code=code).order_by("-valid_from", "-version")


def tariffs_current(day: date) -> list[Tariff]:
    """The version of every code in force on ``day``, by code."""
    seen: dict[str, Tariff] = {}
    for row in versions_in_force(day).order_by("code", "-valid_from", "-version"):
        seen.setdefault(row.code, row)
    return list(seen.values())
