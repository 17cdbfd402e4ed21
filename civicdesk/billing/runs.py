"""The billing run: every account's charges for a period, chunk by chunk.

A run is split into chunks of account-id ranges (``RunChunk``). A chunk is the unit of work,
of commit, of retry and of distribution: it reads its inputs with a few set-based queries
(``inputs.chunk_inputs``), prices every service in the pure tariff engine, and writes its
invoices, lines, ledger transactions and exceptions in one database transaction together
with the mark that it is done. A run killed in the middle resumes at the chunks not marked
done, and since every write is recompute-and-diff against what is stored (``compose``), even
a chunk processed twice changes nothing the second time.

Chunks are processed in this process (``billing_run_execute``, the command's default) or as
Celery tasks, one per chunk, taken by any number of workers (``billing_run_dispatch``); the
last chunk to finish closes the run.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from civicdesk.billing import compose, inputs
from civicdesk.billing import selectors as billing_selectors
from civicdesk.billing.models import BillingRun, Invoice, InvoiceLine, RunChunk, RunException
from civicdesk.core.audit import audit_record
from civicdesk.core.bulk import JsonText, Values, bulk_insert
from civicdesk.core.identifiers import uuid7s
from civicdesk.ledger.postings import currency_exponent
from civicdesk.ledger.services import (
    BillPosting,
    accounts_allocate,
    bills_post_bulk,
    provider_payable,
    receivables_ensure,
)
from civicdesk.metering.services import true_ups_mark_billed
from civicdesk.registry.models import AccountService, Provider
from civicdesk.registry.selectors import operator_get
from civicdesk.tariffs.selectors import TariffInForce, tariffs_in_force

log = logging.getLogger(__name__)

INVOICE_FIELDS = (
    "public_id",
    "number",
    "account_id",
    "period",
    "currency",
    "issued_on",
    "due_on",
    "opening_minor",
    "charges_minor",
    "payments_minor",
    "adjustments_minor",
    "closing_minor",
    "digest",
    "revision",
    "run_id",
    "created_at",
    "updated_at",
)
LINE_FIELDS = (
    "invoice_id",
    "position",
    "kind",
    "service",
    "provider_id",
    "tariff_code",
    "tariff_version",
    "quantity",
    "unit",
    "amount_minor",
    "tax_minor",
    "explanation",
    "detail",
    "revision",
    "transaction_id",
)
EXCEPTION_FIELDS = ("run_id", "period", "account_id", "service", "code", "params", "created_at")


MEMO_MAX = 200_000  # remembered lines per tariff version


class RunRefused(Exception):
    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def invoice_prefix(period: date) -> str:
    return f"INV-{period:%Y%m}-"


def invoice_number(period: date, account_number: str) -> str:
    return invoice_prefix(period) + account_number


# --- starting, running, finishing -------------------------------------------------------------


@transaction.atomic
def billing_run_start(
    *, period: date, chunk_size: int = 20_000, actor=None, full: bool = False
) -> BillingRun:
    """The open run of the period (resumed as it is), or a new one with its chunks. ``full``:
    price every chunk again, also those whose inputs have not changed since the last run."""
    period = compose.period_start(period)
    if chunk_size < 1:
        raise RunRefused("chunk_size")
    if operator_get() is None:
        raise RunRefused("no_operator")
    found = (
        BillingRun.objects.select_for_update()
        .filter(period=period, status__in=[BillingRun.Status.PENDING, BillingRun.Status.RUNNING])
        .first()
    )
    if found is not None:
        return found
    bounds = inputs.account_bounds()
    low, high, count = bounds if bounds else (1, 0, 0)
    run = BillingRun.objects.create(
        period=period,
        chunk_size=chunk_size,
        full=full,
        accounts_total=count,
        started_by=actor,
        status=BillingRun.Status.RUNNING,
        started_at=timezone.now(),
    )
    chunks = [
        RunChunk(
            run=run, index=n, first_account=first, last_account=min(high, first + chunk_size - 1)
        )
        for n, first in enumerate(range(low, high + 1, chunk_size))
    ]
    RunChunk.objects.bulk_create(chunks, batch_size=1000)
    run.chunks_total = len(chunks)
    run.save(update_fields=["chunks_total"])
    audit_record(
        "billing.run_started", actor=actor, run=str(run.public_id), period=f"{period:%Y-%m}"
    )
    if not chunks:
        billing_run_finish(run.pk)
        run.refresh_from_db()
    return run


def billing_run_execute(
    run: BillingRun,
    *,
    progress: Callable[[int], None] | None = None,
    timings: dict[str, float] | None = None,
) -> BillingRun:
    """Process the run's unfinished chunks in this process; ``progress(accounts)`` after each.

    Pipelined: while a second thread writes chunk k (on its own database connection, in its
    own transaction), this one reads and prices chunk k+1. The database engine does most of a
    write with the interpreter's lock released, so on two cores the reads, the pricing and
    the writes overlap. Inside a caller's transaction (tests) the chunks go one by one on the
    caller's connection, as the Celery tasks do. ``timings`` (if given) collects the seconds
    spent reading and pricing, writing (in the second thread), and waiting for the writes."""
    chunks = list(run.chunks.filter(status=RunChunk.Status.PENDING).order_by("index"))
    # An in-memory SQLite database (the test suite's) shares its cache between connections
    # and locks whole tables: no reading beside a writer there.
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()
    if connection.in_atomic_block or in_memory or len(chunks) < 2:
        for chunk in chunks:
            done = billing_chunk_process(chunk.pk)
            if progress is not None and done is not None:
                progress(done)
    else:
        _execute_pipelined(run, chunks, progress, timings if timings is not None else {})
    billing_run_finish(run.pk)
    run.refresh_from_db()
    return run


def _execute_pipelined(run: BillingRun, chunks: list[RunChunk], progress, timings) -> None:
    context = _Context(run)
    for name in ("prepare", "write", "wait"):
        timings.setdefault(name, 0.0)
    lock = threading.Lock()
    # PostgreSQL checks and indexes a chunk's rows in its own server process: two chunks in
    # writing keep both cores busy while this thread prices the next. SQLite has one writer.
    writers = 2 if connection.vendor == "postgresql" else 1

    def write(chunk: RunChunk, writes: _Writes) -> int | None:
        began = time.perf_counter()
        try:
            return _write(run, chunk, writes, context)
        finally:
            connection.close()  # this thread's own connection
            with lock:
                timings["write"] += time.perf_counter() - began

    def wait(future) -> None:
        began = time.perf_counter()
        done = future.result()
        timings["wait"] += time.perf_counter() - began
        _report(done, progress)

    collecting = gc.isenabled()
    gc.disable()  # see billing_chunk_process
    try:
        with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="billing-writer") as pool:
            pending: list = []
            for chunk in chunks:
                began = time.perf_counter()
                writes = _Chunk(run, chunk, context).prepare()
                timings["prepare"] += time.perf_counter() - began
                if len(pending) >= writers:
                    wait(pending.pop(0))
                pending.append(pool.submit(write, chunk, writes))
            for future in pending:
                wait(future)
    finally:
        if collecting:
            gc.enable()


def _report(done: int | None, progress) -> None:
    if progress is not None and done is not None:
        progress(done)


def billing_run_dispatch(run: BillingRun) -> int:
    """Queue one Celery task per unfinished chunk; returns how many were queued."""
    from civicdesk.billing.tasks import billing_chunk_task

    ids = list(run.chunks.filter(status=RunChunk.Status.PENDING).values_list("pk", flat=True))
    for chunk_id in ids:
        billing_chunk_task.delay(chunk_id)
    return len(ids)


def billing_run_finish(run_id: int) -> bool:
    """Close the run when every chunk is done: status, time, totals. True when it closed it."""
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        if run.status not in (BillingRun.Status.PENDING, BillingRun.Status.RUNNING):
            return False
        if run.chunks.exclude(status=RunChunk.Status.DONE).exists():
            return False
        totals: dict[str, int] = defaultdict(int)
        for chunk_totals in run.chunks.values_list("totals", flat=True):
            for key, amount in (chunk_totals or {}).items():
                totals[key] += amount
        run.totals = dict(sorted(totals.items()))
        run.status = BillingRun.Status.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["totals", "status", "finished_at"])
        audit_record(
            "billing.run_finished",
            actor=run.started_by,
            run=str(run.public_id),
            period=f"{run.period:%Y-%m}",
            invoices_new=run.invoices_new,
            invoices_adjusted=run.invoices_adjusted,
            exceptions=run.exceptions,
        )
        if (run.invoices_new or run.invoices_adjusted) and _emails_to_send(run):
            # The new and corrected bills go to those who chose e-mail (off the run).
            from civicdesk.billing.tasks import bills_send_task

            transaction.on_commit(lambda: bills_send_task.delay(run_id))
    return True


def _emails_to_send(run: BillingRun) -> bool:
    found = billing_selectors.billing_settings()
    if found is None or not found.email_bills:
        return False
    return Invoice.objects.filter(run_id=run.pk, account__delivery_preference="email").exists()


def billing_chunk_process(chunk_id: int) -> int | None:
    """Bill one chunk, all or nothing (a Celery task's work). Returns the number of accounts,
    or None when another worker has it or it is already done."""
    with transaction.atomic():
        chunk = (
            # Only the chunk's row: locking the run's too would make every other worker skip
            # its chunk while this one works.
            RunChunk.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("run")
            .filter(pk=chunk_id, status=RunChunk.Status.PENDING)
            .first()
        )
        if chunk is None:
            return None
        run = chunk.run
        context = _Context(run)
        # A chunk makes a few million short-lived objects and no cycles worth collecting
        # meanwhile: the cyclic collector would walk the growing heap again and again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            writes = _Chunk(run, chunk, context).prepare()
            return _write(run, chunk, writes, context)
        finally:
            if collecting:
                gc.enable()


# --- one chunk ---------------------------------------------------------------------------------


class _Context:
    """What every chunk of a run shares: the operator's currency, dates, the providers'
    payable accounts (created here, once, before any chunk is written)."""

    def __init__(self, run: BillingRun):
        operator = operator_get()
        self.run_id = run.pk
        self.period = run.period
        self.end = compose.period_end(run.period)
        self.currency = operator.currency
        self.exponent = currency_exponent(self.currency)
        self.issued_on = compose.issue_date(run.period)
        self.due_on = compose.due_date(run.period, billing_selectors.due_days())
        self.prefix = invoice_prefix(run.period)
        self.now = timezone.now()
        # As the database stores them (bulk_insert(prepared=True)).
        self.values = values = Values()
        self.period_text = values.date(self.period)
        self.issued_text = values.date(self.issued_on)
        self.due_text = values.date(self.due_on)
        self.now_text = values.datetime(self.now)
        self.payables = {
            provider.pk: provider_payable(provider, self.currency).code
            for provider in Provider.objects.filter(
                pk__in=AccountService.objects.values("provider_id").distinct()
            )
        }

    def payable(self, provider_id: int) -> str:
        found = self.payables.get(provider_id)
        if found is None:  # a provider given a service since the run started
            found = self.payables[provider_id] = provider_payable(
                Provider.objects.get(pk=provider_id), self.currency
            ).code
        return found


@dataclass
class ChunkResult:
    accounts: int = 0
    new: int = 0
    adjusted: int = 0
    unchanged: int = 0
    exceptions: int = 0
    charged_minor: int = 0
    totals: dict = field(default_factory=dict)


@dataclass
class _Writes:
    """Everything a chunk writes, computed before its transaction starts."""

    result: ChunkResult
    fingerprint: str = ""
    unchanged: bool = False  # nothing to price again: no writes but the chunk's mark
    receivables_missing: dict[int, str] = field(default_factory=dict)
    invoices: list[list] = field(default_factory=list)
    # (account, position, kind, charge, revision, (bill kind, index) or None)
    lines: list[tuple] = field(default_factory=list)
    bills: dict[str, list[BillPosting]] = field(
        default_factory=lambda: {"charge": [], "adjustment": []}
    )
    updates: list[tuple] = field(default_factory=list)  # (invoice id, amount, digest, revision)
    exceptions: list[tuple] = field(default_factory=list)
    true_ups: list[int] = field(default_factory=list)
    in_credit: list[int] = field(default_factory=list)
    existing_ids: dict[int, int] = field(default_factory=dict)


class _Chunk:
    def __init__(self, run: BillingRun, chunk: RunChunk, context: _Context):
        self.run = run
        self.chunk = chunk
        self.context = context
        self.period = context.period
        self.end = context.end
        self.exponent = context.exponent
        self.writes = _Writes(result=ChunkResult())
        self.legs: dict[tuple, tuple] = {}
        self._keep: list = []

    def prepare(self) -> _Writes:
        """Read the chunk's inputs, price every service, and lay out the rows to write; or,
        when nothing that prices these accounts' bills has changed since a chunk of an
        earlier run of the period covering the same accounts was priced, nothing."""
        context, writes = self.context, self.writes
        first, last = self.chunk.first_account, self.chunk.last_account
        # Before the reads: a change made meanwhile shows in the next run's fingerprint.
        writes.fingerprint = inputs.chunk_fingerprint(first, last, self.period)
        if not self.run.full:
            before = (
                RunChunk.objects.filter(
                    run__period=self.period,
                    first_account=first,
                    last_account=last,
                    status=RunChunk.Status.DONE,
                    fingerprint=writes.fingerprint,
                )
                .exclude(run_id=self.run.pk)
                .order_by("-finished_at")
                .first()
            )
            if before is not None:
                writes.unchanged = True
                writes.result.accounts = writes.result.unchanged = before.accounts
                writes.result.exceptions = (
                    RunException.objects.filter(
                        period=self.period,
                        account_id__gte=first,
                        account_id__lte=last,
                        resolved_at__isnull=True,
                    )
                    .values("account_id")
                    .distinct()
                    .count()
                )
                return writes
        data = inputs.chunk_inputs(
            self.chunk.first_account,
            self.chunk.last_account,
            self.period,
            self.end,
            invoice_prefix=context.prefix,
        )
        charges = self._price(data)
        result = writes.result
        receivables = data.receivables
        changed: list[tuple[inputs.Existing, list[compose.ServiceCharge], str]] = []
        totals = result.totals
        invoice_number_of = context.prefix.__add__
        for account_id, account_charges in charges.items():
            facts = data.accounts[account_id]
            result.accounts += 1
            signature = compose.digest(account_charges)
            existing = data.existing.get(account_id)
            if existing is not None:
                writes.existing_ids[account_id] = existing.invoice_id
                if existing.digest == signature:
                    result.unchanged += 1
                else:
                    changed.append((existing, account_charges, signature))
                continue
            receivable = receivables.get(account_id)
            if receivable is None:
                receivable = f"receivable:{facts.number}"
                writes.receivables_missing[account_id] = facts.number
            opening, payments, other = data.balances.get(account_id, (0, 0, 0))
            charged = 0
            for charge in account_charges:
                charged += charge.amount_minor
            closing = opening + charged - payments + other
            number = invoice_number_of(facts.number)
            writes.invoices.append(
                [
                    None,
                    number,
                    account_id,
                    context.period_text,
                    context.currency,
                    context.issued_text,
                    context.due_text,
                    opening,
                    charged,
                    payments,
                    other,
                    closing,
                    signature,
                    0,
                    context.run_id,
                    context.now_text,
                    context.now_text,
                ]
            )
            if opening < 0:
                writes.in_credit.append(account_id)
            index = self._bill("charge", number, receivable, account_charges)
            lines = writes.lines
            for position, charge in enumerate(account_charges, start=1):
                lines.append((account_id, position, "charge", charge, 0, index))
                key = charge.total_key
                totals[key] = totals.get(key, 0) + charge.amount_minor
            result.new += 1
            result.charged_minor += charged
        if changed:
            self._adjust(changed, receivables)
        writes.true_ups = [i for a in charges for i in data.true_up_ids.get(a, ())]
        return writes

    # -- pricing ---------------------------------------------------------------------------

    def _price(self, data: inputs.ChunkInputs) -> dict[int, list[compose.ServiceCharge]]:
        tariffs = tariffs_in_force({s[3] for s in data.services}, self.period)
        currency = self.context.currency
        out: dict[int, list[compose.ServiceCharge]] = {}
        for service in data.services:
            tariff = tariffs.get(service[3])
            if tariff is None:
                self._exception(service, "no_tariff", tariff=service[3])
                continue
            if tariff.currency != currency:
                self._exception(service, "currency", tariff=tariff.code)
                continue
            charge = self._charge(service, tariff, data)
            if charge is not None:
                found = out.get(service[0])
                if found is None:
                    out[service[0]] = [charge]
                else:
                    found.append(charge)
        return out

    def _charge(
        self, service: tuple, tariff: TariffInForce, data: inputs.ChunkInputs
    ) -> compose.ServiceCharge | None:
        account_id, kind, provider_id, _code, starts_on, ends_on = service
        facts = data.accounts[account_id]
        consumption = true_up = None
        for resource in inputs.METERED.get(kind, ()):
            key = (account_id, resource)
            used = data.consumption.get(key)
            if used is not None:
                consumption = used if consumption is None else consumption + used
            if data.true_ups:
                extra = data.true_ups.get(key)
                if extra:
                    true_up = extra if true_up is None else true_up + extra
        if true_up:
            consumption = max(Decimal(0), (consumption or 0) + true_up)
        building = data.buildings.get(facts.building_id, _NO_BUILDING)
        days = None
        if starts_on > self.period or (ends_on is not None and ends_on < self.end):
            first = max(starts_on, self.period)
            last = min(ends_on or self.end, self.end)
            days = (last - first).days + 1
        values = {
            "consumption": consumption,
            "days_in_service": days,
            "area_m2": facts.total_area,
            "heated_area_m2": facts.heated_area,
            "occupants": facts.occupants,
            "valuation": facts.valuation,
            "building_consumption": building[2],
            "building_area_m2": building[1] if kind == "heating" else building[0],
        }
        # Accounts with the same inputs get the same line: made once per tariff version and
        # process (most accounts share their consumption, area or size with many others).
        key = (
            self.period,
            kind,
            provider_id,
            consumption,
            true_up,
            *[values.get(name) for name in tariff.used],
        )
        charge = tariff.memo.get(key)
        if charge is not None:
            return charge
        try:
            priced = tariff.price(
                period=self.period, **{n: values[n] for n in values if n in tariff.used}
            )
        except tariff.errors as exc:
            self._exception(service, "pricing", tariff=tariff.code, reason=exc.code, **exc.params)
            return None
        # (A quantity without its trailing zeros: the same text from SQLite and PostgreSQL.)
        detail = priced.detail + (
            (("true_up", format(true_up.normalize(), "f")),) if true_up else ()
        )
        charge = compose.ServiceCharge(
            service=kind,
            provider_id=provider_id,
            amount_minor=compose.minor(priced.total, self.exponent),
            tax_minor=compose.minor(priced.tax, self.exponent),
            tariff_code=tariff.code,
            tariff_version=tariff.version,
            quantity=consumption,
            unit=tariff.unit if consumption is not None else "",
            explanation=priced.explanation,
            detail=JsonText(json.dumps(detail, ensure_ascii=False)),
        )
        object.__setattr__(charge, "row", _line_values(charge, self.context.values))
        if len(tariff.memo) >= MEMO_MAX:
            tariff.memo.clear()
        tariff.memo[key] = charge
        return charge

    # -- laying out the writes ---------------------------------------------------------------

    def _bill(self, kind: str, reference: str, receivable: str, charges) -> tuple | None:
        """The ledger posting of a bill (or of its adjustment); returns where it is among the
        chunk's bills, which the lines keep to name their transaction."""
        key = tuple(map(id, charges))
        lines = self.legs.get(key)
        if lines is None:
            lines = tuple((c.service, c.provider_id, c.amount_minor) for c in charges)
            self.legs[key] = lines
            self._keep.append(charges)  # the ids in the key stay theirs
        if not any(amount for _s, _p, amount in lines):
            return None
        bills = self.writes.bills[kind]
        bills.append(BillPosting(reference, receivable, lines))
        return (kind, len(bills) - 1)

    def _adjust(self, changed, receivables) -> None:
        writes, result = self.writes, self.writes.result
        ids = [existing.invoice_id for existing, _c, _s in changed]
        billed = inputs.billed_by_invoice(ids)
        positions = _last_positions(ids)
        for existing, charges, signature in changed:
            before = {
                key: compose.Billed(*values)
                for key, values in billed.get(existing.invoice_id, {}).items()
            }
            adjustments = compose.differences(before, charges)
            revision = existing.revision + 1
            account_id = existing.account_id
            index = self._bill("adjustment", existing.number, receivables[account_id], adjustments)
            position = positions.get(existing.invoice_id, 0)
            for charge in adjustments:
                position += 1
                writes.lines.append((account_id, position, "adjustment", charge, revision, index))
                key = charge.total_key
                result.totals[key] = result.totals.get(key, 0) + charge.amount_minor
            amount = sum(c.amount_minor for c in adjustments)
            result.adjusted += 1
            result.charged_minor += amount
            writes.updates.append((existing.invoice_id, amount, signature, revision))

    def _exception(self, service: tuple, code: str, **params) -> None:
        self.writes.exceptions.append(
            (
                self.context.run_id,
                self.period,
                service[0],
                service[1],
                code,
                params,
                self.context.now,
            )
        )


_NO_BUILDING = (None, None, None)


def _write(run: BillingRun, chunk: RunChunk, writes: _Writes, context: _Context) -> int | None:
    """Write a prepared chunk in one transaction, claiming it first: when another process
    has written it meanwhile, nothing is written (None)."""
    result = writes.result
    with transaction.atomic():
        claimed = RunChunk.objects.filter(pk=chunk.pk, status=RunChunk.Status.PENDING).update(
            status=RunChunk.Status.DONE,
            accounts=result.accounts,
            totals=result.totals,
            attempts=F("attempts") + 1,
            worker=f"{socket.gethostname()}:{os.getpid()}"[:100],
            finished_at=timezone.now(),
            fingerprint=writes.fingerprint,
            unchanged=writes.unchanged,
        )
        if not claimed:
            return None
        if writes.unchanged:
            BillingRun.objects.filter(pk=run.pk).update(
                chunks_done=F("chunks_done") + 1,
                accounts_done=F("accounts_done") + result.accounts,
                invoices_unchanged=F("invoices_unchanged") + result.unchanged,
                exceptions=F("exceptions") + result.exceptions,
            )
            return result.accounts
        # Exceptions of earlier runs for these accounts are closed; what still fails is
        # raised again below.
        RunException.objects.filter(
            period=context.period,
            account_id__gte=chunk.first_account,
            account_id__lte=chunk.last_account,
            resolved_at__isnull=True,
        ).update(resolved_at=context.now)
        if writes.receivables_missing:
            receivables_ensure(writes.receivables_missing)
        values = context.values
        transaction_ids = {
            kind: [
                None if txn_id is None else values.uuid(txn_id)
                for txn_id in bills_post_bulk(
                    bills, kind=kind, currency=context.currency, value_date=context.end
                )
            ]
            for kind, bills in writes.bills.items()
        }
        if writes.invoices:
            for row, public_id in zip(writes.invoices, uuid7s(len(writes.invoices)), strict=True):
                row[0] = values.uuid(public_id)
            bulk_insert(Invoice, INVOICE_FIELDS, writes.invoices, prepared=True)
        invoice_ids = writes.existing_ids
        if writes.invoices:
            invoice_ids = {**invoice_ids, **_new_invoice_ids(chunk, context)}
        if writes.lines:
            bulk_insert(
                InvoiceLine,
                LINE_FIELDS,
                [
                    (
                        invoice_ids[account_id],
                        position,
                        kind,
                        *(c.row or _line_values(c, values)),
                        revision,
                        None if bill is None else transaction_ids[bill[0]][bill[1]],
                    )
                    for account_id, position, kind, c, revision, bill in writes.lines
                ],
                prepared=True,
            )
        for invoice_id, amount, signature, revision in writes.updates:
            Invoice.objects.filter(pk=invoice_id).update(
                adjustments_minor=F("adjustments_minor") + amount,
                closing_minor=F("closing_minor") + amount,
                digest=signature,
                revision=revision,
                updated_at=context.now,
                run_id=context.run_id,
            )
        if writes.true_ups:
            true_ups_mark_billed(writes.true_ups, context.period)
        if writes.in_credit:
            accounts_allocate(writes.in_credit)
        if writes.exceptions:
            RunException.objects.bulk_create(
                [
                    RunException(**dict(zip(EXCEPTION_FIELDS, row, strict=True)))
                    for row in writes.exceptions
                ]
            )
        result.exceptions = len({row[2] for row in writes.exceptions})
        BillingRun.objects.filter(pk=run.pk).update(
            chunks_done=F("chunks_done") + 1,
            accounts_done=F("accounts_done") + result.accounts,
            invoices_new=F("invoices_new") + result.new,
            invoices_adjusted=F("invoices_adjusted") + result.adjusted,
            invoices_unchanged=F("invoices_unchanged") + result.unchanged,
            exceptions=F("exceptions") + result.exceptions,
            charged_minor=F("charged_minor") + result.charged_minor,
        )
    return result.accounts


def _line_values(c: compose.ServiceCharge, values: Values) -> tuple:
    """A line's columns from service to detail, as the database stores them."""
    return (
        c.service,
        c.provider_id,
        c.tariff_code,
        c.tariff_version,
        values.decimal(c.quantity),
        c.unit,
        c.amount_minor,
        c.tax_minor,
        c.explanation,
        c.detail if isinstance(c.detail, str) else json.dumps(list(c.detail), ensure_ascii=False),
    )


def _new_invoice_ids(chunk: RunChunk, context: _Context) -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT account_id, id FROM {Invoice._meta.db_table} "  # noqa: S608
            "WHERE period = %s AND account_id BETWEEN %s AND %s",
            [context.period, chunk.first_account, chunk.last_account],
        )
        return dict(cursor.fetchall())


def _last_positions(invoice_ids: list[int]) -> dict[int, int]:
    from django.db.models import Max

    return dict(
        InvoiceLine.objects.filter(invoice_id__in=invoice_ids)
        .values("invoice_id")
        .annotate(last=Max("position"))
        .values_list("invoice_id", "last")
    )


REFUSALS = {
    "chunk_size": gettext_lazy("The chunk size must be at least 1."),
    "no_operator": gettext_lazy("Set up the operator before billing."),
}


def refusal_message(exc: RunRefused) -> str:
    return str(REFUSALS.get(exc.code, exc.code))
