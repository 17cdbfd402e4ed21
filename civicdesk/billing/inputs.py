"""Everything a chunk of accounts needs to be billed, read with a handful of set-based queries.

The billing run's read side (a selector): one query per kind of input for a range of account
ids, never one per account. Values come back as plain tuples and dicts; the queries are raw
SQL on Django's connection because the ORM's per-row model or dict building would cost more
than the whole pricing of a chunk (see bench/bench_billing_run.py).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import connection

from civicdesk.billing.models import Invoice, InvoiceLine
from civicdesk.ledger.models import LedgerAccount, Posting, Transaction
from civicdesk.metering.models import EstimateTrueUp, Meter, Reading
from civicdesk.registry.models import AccountService, Building, PersonalAccount, Premises
from civicdesk.tariffs.models import Tariff

# The meter resource whose readings a service is billed from.
METERED = {
    "cold_water": ("cold_water",),
    "hot_water": ("hot_water",),
    "electricity": ("electricity",),
    "gas": ("gas",),
    "heating": ("heat",),
    "sewerage": ("cold_water", "hot_water"),  # sewerage follows the water used
}


@dataclass(slots=True)
class AccountFacts:
    id: int
    number: str
    total_area: Decimal
    heated_area: Decimal
    occupants: int
    valuation: Decimal | None
    building_id: int


@dataclass(slots=True)
class Existing:
    invoice_id: int
    account_id: int
    number: str
    digest: str
    revision: int
    charges_minor: int
    adjustments_minor: int


@dataclass(slots=True)
class ChunkInputs:
    accounts: dict[int, AccountFacts] = field(default_factory=dict)
    # (account id, service, provider id, tariff code, starts on, ends on)
    services: list[tuple] = field(default_factory=list)
    # (account id, meter resource) → consumption of the period (accepted readings and
    # estimates), and the unbilled true-ups of earlier estimates (with their ids).
    consumption: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    true_ups: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    true_up_ids: dict[int, list[int]] = field(default_factory=dict)
    # building id → (total area, heated area, heat used by the building meters)
    buildings: dict[int, tuple[Decimal | None, Decimal | None, Decimal | None]] = field(
        default_factory=dict
    )
    existing: dict[int, Existing] = field(default_factory=dict)
    receivables: dict[int, str] = field(default_factory=dict)
    # account id → (opening balance, payments in the period, other movements in the period)
    balances: dict[int, tuple[int, int, int]] = field(default_factory=dict)


def _tables():
    q = connection.ops.quote_name
    return {
        "account": q(PersonalAccount._meta.db_table),
        "premises": q(Premises._meta.db_table),
        "building": q(Building._meta.db_table),
        "service": q(AccountService._meta.db_table),
        "reading": q(Reading._meta.db_table),
        "meter": q(Meter._meta.db_table),
        "trueup": q(EstimateTrueUp._meta.db_table),
        "invoice": q(Invoice._meta.db_table),
        "line": q(InvoiceLine._meta.db_table),
        "ledger": q(LedgerAccount._meta.db_table),
        "posting": q(Posting._meta.db_table),
        "txn": q(Transaction._meta.db_table),
        "tariff": q(Tariff._meta.db_table),
    }


def _decimal(value) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _day(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def account_bounds() -> tuple[int, int, int] | None:
    """(lowest id, highest id, count) of the accounts: the range a run splits into chunks
    (which accounts exist during the period is chunk_inputs' to decide, by their dates)."""
    t = _tables()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(id), MAX(id), COUNT(*) FROM {t['account']}")  # noqa: S608
        low, high, count = cursor.fetchone()
    return None if low is None else (low, high, count)


def chunk_inputs(first: int, last: int, start: date, end: date, *, invoice_prefix: str):
    """The inputs of the accounts with ids in [first, last] for the period [start, end]."""
    t = _tables()
    out = ChunkInputs()
    with connection.cursor() as cursor:
        # Accounts that exist during the period, with their premises.
        cursor.execute(
            f"SELECT a.id, a.number, p.total_area, p.heated_area, p.occupants, "  # noqa: S608
            f"p.municipal_valuation, p.building_id FROM {t['account']} a "
            f"JOIN {t['premises']} p ON p.id = a.premises_id "
            "WHERE a.id BETWEEN %s AND %s AND a.opened_on <= %s "
            "AND (a.closed_on IS NULL OR a.closed_on >= %s)",
            [first, last, end, start],
        )
        for row in cursor.fetchall():
            out.accounts[row[0]] = AccountFacts(
                row[0],
                row[1],
                _decimal(row[2]),
                _decimal(row[3]),
                row[4],
                _decimal(row[5]),
                row[6],
            )
        if not out.accounts:
            return out
        cursor.execute(
            # Dates as text (no declared type: no conversion per row; each distinct date is
            # read once below).
            "SELECT account_id, service_type, provider_id, tariff_code, "  # noqa: S608
            f"starts_on || '', ends_on || '' FROM {t['service']} "
            "WHERE account_id BETWEEN %s AND %s "
            "AND starts_on <= %s AND (ends_on IS NULL OR ends_on >= %s) "
            "ORDER BY account_id, service_type, provider_id, starts_on",
            [first, last, end, start],
        )
        accounts = out.accounts
        days: dict = {None: None}
        for r in cursor.fetchall():
            if r[0] in accounts:
                starts, ends = r[4], r[5]
                if starts not in days:
                    days[starts] = _day(starts)
                if ends not in days:
                    days[ends] = _day(ends)
                out.services.append((r[0], r[1], r[2], r[3], days[starts], days[ends]))
        # The period's consumption per account and resource.
        cursor.execute(
            f"SELECT m.account_id, m.resource, SUM(r.consumption) "  # noqa: S608
            f"FROM {t['meter']} m JOIN {t['reading']} r ON r.meter_id = m.id "
            "WHERE m.account_id BETWEEN %s AND %s AND r.period = %s "
            "AND r.status = 'accepted' AND r.consumption IS NOT NULL "
            "GROUP BY m.account_id, m.resource",
            [first, last, start],
        )
        out.consumption = {(r[0], r[1]): _decimal(r[2]) for r in cursor.fetchall()}
        # True-ups of estimates not yet billed (or billed by this period: a re-run sees the
        # same ones), for readings of this period or before.
        cursor.execute(
            f"SELECT m.account_id, m.resource, u.id, u.difference "  # noqa: S608
            f"FROM {t['trueup']} u JOIN {t['meter']} m ON m.id = u.meter_id "
            f"JOIN {t['reading']} r ON r.id = u.reading_id "
            "WHERE m.account_id BETWEEN %s AND %s AND r.period <= %s "
            "AND (u.billed_period IS NULL OR u.billed_period = %s)",
            [first, last, start, start],
        )
        for account_id, resource, true_up_id, difference in cursor.fetchall():
            key = (account_id, resource)
            out.true_ups[key] = out.true_ups.get(key, Decimal(0)) + _decimal(difference)
            out.true_up_ids.setdefault(account_id, []).append(true_up_id)
        # Buildings: areas, and heat measured by building meters (formula 3).
        building_ids = sorted({a.building_id for a in accounts.values()})
        for part in _slices(building_ids, 900):
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                f"SELECT id, total_area, heated_area FROM {t['building']} "  # noqa: S608
                f"WHERE id IN ({marks})",
                part,
            )
            for building_id, total, heated in cursor.fetchall():
                out.buildings[building_id] = (_decimal(total), _decimal(heated), None)
            cursor.execute(
                f"SELECT m.building_id, SUM(r.consumption) FROM {t['meter']} m "  # noqa: S608
                f"JOIN {t['reading']} r ON r.meter_id = m.id "
                f"WHERE m.building_id IN ({marks}) AND m.premises_id IS NULL "
                "AND m.resource = 'heat' AND r.period = %s AND r.status = 'accepted' "
                "GROUP BY m.building_id",
                [*part, start],
            )
            for building_id, used in cursor.fetchall():
                total, heated, _none = out.buildings[building_id]
                out.buildings[building_id] = (total, heated, _decimal(used))
        # The period's invoices already written.
        cursor.execute(
            f"SELECT id, account_id, number, digest, revision, charges_minor, "  # noqa: S608
            f"adjustments_minor FROM {t['invoice']} "
            "WHERE period = %s AND account_id BETWEEN %s AND %s",
            [start, first, last],
        )
        for row in cursor.fetchall():
            out.existing[row[1]] = Existing(row[0], row[1], row[2], row[3], row[4], row[5], row[6])
        # The ledger: receivables, and the balance before and movements during the period
        # (the bills' own transactions are told apart by their reference, the invoice number).
        cursor.execute(
            f"SELECT personal_account_id, code FROM {t['ledger']} "  # noqa: S608
            "WHERE kind = 'receivable' AND personal_account_id BETWEEN %s AND %s",
            [first, last],
        )
        out.receivables = dict(cursor.fetchall())
        if out.receivables:
            cursor.execute(
                "SELECT l.personal_account_id, "  # noqa: S608
                "SUM(CASE WHEN t.value_date < %s THEN p.amount_minor ELSE 0 END), "
                "SUM(CASE WHEN t.value_date >= %s AND t.kind = 'payment' "
                "THEN -p.amount_minor ELSE 0 END), "
                "SUM(CASE WHEN t.value_date >= %s AND t.kind <> 'payment' "
                "AND t.reference NOT LIKE %s THEN p.amount_minor ELSE 0 END) "
                f"FROM {t['ledger']} l JOIN {t['posting']} p ON p.account_id = l.id "
                f"JOIN {t['txn']} t ON t.id = p.transaction_id "
                "WHERE l.kind = 'receivable' AND l.personal_account_id BETWEEN %s AND %s "
                "AND t.value_date <= %s GROUP BY l.personal_account_id",
                [start, start, start, invoice_prefix + "%", first, last, end],
            )
            out.balances = {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in cursor.fetchall()}
    return out


def billed_by_invoice(invoice_ids: list[int]) -> dict[int, dict[tuple[str, int], tuple]]:
    """Per invoice, per (service, provider): (amount, tax, quantity) the runs billed so far
    (a dispute's settlement is staff's, not a run's: recompute-and-diff leaves it alone)."""
    if not invoice_ids:
        return {}
    t = _tables()
    out: dict[int, dict] = defaultdict(dict)
    with connection.cursor() as cursor:
        for part in _slices(invoice_ids, 900):
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                f"SELECT invoice_id, service, provider_id, SUM(amount_minor), "  # noqa: S608
                f"SUM(tax_minor), SUM(quantity) FROM {t['line']} "
                f"WHERE invoice_id IN ({marks}) AND kind IN ('charge', 'adjustment') "
                "GROUP BY invoice_id, service, provider_id",
                part,
            )
            for invoice_id, service, provider_id, amount, tax, quantity in cursor.fetchall():
                out[invoice_id][(service, provider_id)] = (
                    int(amount),
                    int(tax),
                    _decimal(quantity),
                )
    return out


def _slices(items: list, size: int):
    for index in range(0, len(items), size):
        yield items[index : index + size]


def chunk_fingerprint(first: int, last: int, start: date) -> str:
    """A digest of what could change a bill of the accounts in [first, last] for the period
    starting ``start``: how many rows of each input there are and when the last of them was
    written (accounts, premises, buildings, services, meters, the period's readings and their
    reviews, unbilled true-ups, the building meters' readings, tariffs). Equal digests mean
    nothing was added, removed or saved since: a later run of the period need not price the
    chunk again. (Every change of these goes through a service that saves the row, which
    stamps it; ``billing_run --full`` recomputes regardless.) A few aggregate queries."""
    t = _tables()
    between = "BETWEEN %s AND %s"
    queries = [
        (f"SELECT COUNT(*), MAX(updated_at) FROM {t['account']} WHERE id {between}", [first, last]),  # noqa: S608
        (
            f"SELECT COUNT(*), MAX(p.updated_at), MAX(b.updated_at) FROM {t['account']} a "  # noqa: S608
            f"JOIN {t['premises']} p ON p.id = a.premises_id "
            f"JOIN {t['building']} b ON b.id = p.building_id WHERE a.id {between}",
            [first, last],
        ),
        (
            f"SELECT COUNT(*), MAX(updated_at) FROM {t['service']} WHERE account_id {between}",  # noqa: S608
            [first, last],
        ),
        (
            f"SELECT COUNT(*), MAX(updated_at) FROM {t['meter']} WHERE account_id {between}",  # noqa: S608
            [first, last],
        ),
        (
            "SELECT COUNT(*), SUM(r.consumption), MAX(r.created_at), MAX(r.reviewed_at) "  # noqa: S608
            f"FROM {t['meter']} m "
            f"JOIN {t['reading']} r ON r.meter_id = m.id "
            f"WHERE m.account_id {between} AND r.period = %s",
            [first, last, start],
        ),
        (
            f"SELECT COUNT(*), SUM(u.difference), MAX(u.created_at) FROM {t['trueup']} u "  # noqa: S608
            f"JOIN {t['meter']} m ON m.id = u.meter_id WHERE m.account_id {between} "
            "AND (u.billed_period IS NULL OR u.billed_period = %s)",
            [first, last, start],
        ),
        (f"SELECT COUNT(*), MAX(loaded_at) FROM {t['tariff']}", []),  # noqa: S608
    ]
    parts = []
    with connection.cursor() as cursor:
        for sql, params in queries:
            cursor.execute(sql, params)
            parts.append(repr(tuple(str(value) for value in cursor.fetchone())))
        # The building meters' readings (heat shared by area): the chunk's buildings first,
        # then their meters by id (a join from the accounts would let the planner walk every
        # reading of the period).
        cursor.execute(
            f"SELECT DISTINCT p.building_id FROM {t['account']} a "  # noqa: S608
            f"JOIN {t['premises']} p ON p.id = a.premises_id WHERE a.id {between}",
            [first, last],
        )
        buildings = sorted(row[0] for row in cursor.fetchall())
        for part in _slices(buildings, 900):
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                "SELECT COUNT(*), SUM(r.consumption), MAX(r.created_at), "  # noqa: S608
                f"MAX(r.reviewed_at) FROM {t['meter']} m "
                f"JOIN {t['reading']} r ON r.meter_id = m.id "
                f"WHERE m.building_id IN ({marks}) AND m.premises_id IS NULL "
                "AND r.period = %s",
                [*part, start],
            )
            parts.append(repr(tuple(str(value) for value in cursor.fetchone())))
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()
