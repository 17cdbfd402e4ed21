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

import json
import logging
import socket
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
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
from civicdesk.core.bulk import bulk_insert
from civicdesk.core.identifiers import uuid7s
from civicdesk.ledger.postings import Leg, currency_exponent
from civicdesk.ledger.services import (
    TransactionSpec,
    accounts_allocate,
    provider_payable,
    receivables_ensure,
    transactions_post_bulk,
)
from civicdesk.metering.services import true_ups_mark_billed
from civicdesk.registry.models import Provider
from civicdesk.registry.selectors import operator_get
from civicdesk.registry.services import accounts_last_bill_set
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
def billing_run_start(*, period: date, chunk_size: int = 20_000, actor=None) -> BillingRun:
    """The open run of the period (resumed as it is), or a new one with its chunks."""
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
    run: BillingRun, *, progress: Callable[[int], None] | None = None
) -> BillingRun:
    """Process the run's unfinished chunks here, in order; ``progress(accounts)`` after each."""
    for chunk_id in run.chunks.filter(status=RunChunk.Status.PENDING).values_list("pk", flat=True):
        done = billing_chunk_process(chunk_id)
        if progress is not None and done is not None:
            progress(done)
    billing_run_finish(run.pk)
    run.refresh_from_db()
    return run


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
    return True


def billing_chunk_process(chunk_id: int) -> int | None:
    """Bill one chunk, all or nothing. Returns the number of accounts, or None when another
    worker has it or it is already done."""
    with transaction.atomic():
        chunk = (
            RunChunk.objects.select_for_update(skip_locked=True)
            .select_related("run")
            .filter(pk=chunk_id, status=RunChunk.Status.PENDING)
            .first()
        )
        if chunk is None:
            return None
        run = chunk.run
        result = _Chunk(run, chunk).bill()
        chunk.status = RunChunk.Status.DONE
        chunk.accounts = result.accounts
        chunk.totals = result.totals
        chunk.attempts += 1
        chunk.worker = socket.gethostname()[:100]
        chunk.finished_at = timezone.now()
        chunk.save(
            update_fields=["status", "accounts", "totals", "attempts", "worker", "finished_at"]
        )
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


# --- one chunk ---------------------------------------------------------------------------------


@dataclass
class ChunkResult:
    accounts: int = 0
    new: int = 0
    adjusted: int = 0
    unchanged: int = 0
    exceptions: int = 0
    charged_minor: int = 0
    totals: dict | None = None


class _Chunk:
    def __init__(self, run: BillingRun, chunk: RunChunk):
        self.run = run
        self.chunk = chunk
        self.period = run.period
        self.end = compose.period_end(run.period)
        operator = operator_get()
        self.currency = operator.currency
        self.exponent = currency_exponent(self.currency)
        self.jurisdiction = operator.jurisdiction
        self.due_days = billing_selectors.due_days()
        self.now = timezone.now()
        self.prefix = invoice_prefix(self.period)
        self.exceptions: list[tuple] = []

    def bill(self) -> ChunkResult:
        data = inputs.chunk_inputs(
            self.chunk.first_account,
            self.chunk.last_account,
            self.period,
            self.end,
            invoice_prefix=self.prefix,
        )
        result = ChunkResult(totals={})
        # Exceptions of earlier runs for these accounts are closed; what still fails is
        # raised again below.
        RunException.objects.filter(
            period=self.period,
            account_id__gte=self.chunk.first_account,
            account_id__lte=self.chunk.last_account,
            resolved_at__isnull=True,
        ).update(resolved_at=self.now)
        charges = self._price(data)
        if not charges:
            self._write_exceptions(result)
            return result
        receivables = dict(data.receivables)
        missing = {a: data.accounts[a].number for a in charges if a not in receivables}
        if missing:
            receivables.update(receivables_ensure(missing))
        payables = self._payables({c.provider_id for cs in charges.values() for c in cs})

        new_invoices, new_lines, specs = [], [], []
        changed: list[tuple[inputs.Existing, list[compose.ServiceCharge], str]] = []
        last_bill: dict[int, Decimal] = {}
        totals = result.totals
        for account_id, account_charges in charges.items():
            facts = data.accounts[account_id]
            existing = data.existing.get(account_id)
            result.accounts += 1
            signature = compose.digest(account_charges)
            if existing is not None:
                if existing.digest == signature:
                    result.unchanged += 1
                else:
                    changed.append((existing, account_charges, signature))
                continue
            opening, payments, other = data.balances.get(account_id, (0, 0, 0))
            charged = sum(c.amount_minor for c in account_charges)
            closing = compose.Totals(opening, charged, payments, other).closing_minor
            number = invoice_number(self.period, facts.number)
            new_invoices.append(
                [
                    None,
                    number,
                    account_id,
                    self.period,
                    self.currency,
                    compose.issue_date(self.period),
                    compose.due_date(self.period, self.due_days),
                    opening,
                    charged,
                    payments,
                    other,
                    closing,
                    signature,
                    0,
                    self.run.pk,
                    self.now,
                    self.now,
                ]
            )
            last_bill[account_id] = Decimal(closing).scaleb(-self.exponent)
            spec = self._spec("charge", number, receivables[account_id], payables, account_charges)
            index = None
            if spec is not None:
                index = len(specs)
                specs.append(spec)
            for position, charge in enumerate(account_charges, start=1):
                new_lines.append((account_id, position, "charge", charge, 0, index))
                key = f"{charge.service}:{charge.provider_id}"
                totals[key] = totals.get(key, 0) + charge.amount_minor
            result.new += 1
            result.charged_minor += charged

        if changed:
            self._adjust(changed, receivables, payables, specs, new_lines, result, last_bill)

        transaction_ids = transactions_post_bulk(specs, currency=self.currency) if specs else []
        if new_invoices:
            public_ids = uuid7s(len(new_invoices))
            for row, public_id in zip(new_invoices, public_ids, strict=True):
                row[0] = public_id
            bulk_insert(Invoice, INVOICE_FIELDS, new_invoices)
        invoice_ids = self._invoice_ids(data)
        # JSON as text for COPY; SQLite's preparation makes the text itself.
        detail = _detail_json if connection.vendor == "postgresql" else list
        rows = []
        for account_id, position, kind, charge, revision, spec_index in new_lines:
            rows.append(
                (
                    invoice_ids[account_id],
                    position,
                    kind,
                    charge.service,
                    charge.provider_id,
                    charge.tariff_code,
                    charge.tariff_version,
                    charge.quantity,
                    charge.unit,
                    charge.amount_minor,
                    charge.tax_minor,
                    charge.explanation,
                    detail(charge.detail),
                    revision,
                    transaction_ids[spec_index] if spec_index is not None else None,
                )
            )
        if rows:
            bulk_insert(InvoiceLine, LINE_FIELDS, rows)
        true_up_ids = [i for a in charges for i in data.true_up_ids.get(a, ())]
        if true_up_ids:
            true_ups_mark_billed(true_up_ids, self.period)
        if last_bill:
            accounts_last_bill_set(last_bill)
        in_credit = [a for a in charges if data.balances.get(a, (0, 0, 0))[0] < 0]
        if in_credit:
            accounts_allocate(in_credit)
        self._write_exceptions(result)
        return result

    # -- pricing ---------------------------------------------------------------------------

    def _price(self, data: inputs.ChunkInputs) -> dict[int, list[compose.ServiceCharge]]:
        tariffs = tariffs_in_force({s.tariff_code for s in data.services}, self.period)
        out: dict[int, list[compose.ServiceCharge]] = {}
        for service in data.services:
            tariff = tariffs.get(service.tariff_code)
            if tariff is None:
                self._exception(service, "no_tariff", tariff=service.tariff_code)
                continue
            if tariff.currency != self.currency:
                self._exception(service, "currency", tariff=tariff.code)
                continue
            charge = self._charge(service, tariff, data)
            if charge is not None:
                out.setdefault(service.account_id, []).append(charge)
        return out

    def _charge(
        self, service: inputs.ServiceRow, tariff: TariffInForce, data: inputs.ChunkInputs
    ) -> compose.ServiceCharge | None:
        facts = data.accounts[service.account_id]
        consumption = true_up = None
        resources = inputs.METERED.get(service.service, ())
        for resource in resources:
            key = (service.account_id, resource)
            used = data.consumption.get(key)
            if used is not None:
                consumption = (consumption or 0) + used
            extra = data.true_ups.get(key)
            if extra:
                true_up = (true_up or 0) + extra
        if true_up:
            consumption = (consumption or 0) + true_up
            if consumption < 0:
                consumption = Decimal(0)
        building = data.buildings.get(facts.building_id, (None, None, None))
        days = None
        if service.starts_on > self.period or (service.ends_on and service.ends_on < self.end):
            first = max(service.starts_on, self.period)
            last = min(service.ends_on or self.end, self.end)
            days = (last - first).days + 1
        try:
            quote = tariff.price(
                period=self.period,
                consumption=consumption,
                days_in_service=days,
                area_m2=facts.total_area,
                heated_area_m2=facts.heated_area,
                occupants=facts.occupants,
                valuation=facts.valuation,
                building_consumption=building[2],
                building_area_m2=building[1] if service.service == "heating" else building[0],
            )
        except tariff.errors as exc:
            self._exception(service, "pricing", tariff=tariff.code, reason=str(exc))
            return None
        return compose.ServiceCharge(
            service=service.service,
            provider_id=service.provider_id,
            amount_minor=compose.minor(quote.total, self.exponent),
            tax_minor=compose.minor(quote.tax, self.exponent),
            tariff_code=tariff.code,
            tariff_version=tariff.version,
            quantity=consumption,
            unit=tariff.unit if consumption is not None else "",
            explanation=quote.explanation,
            detail=quote.detail + ((("true_up", str(true_up)),) if true_up else ()),
        )

    # -- writing -----------------------------------------------------------------------------

    def _payables(self, provider_ids: set[int]) -> dict[int, str]:
        return {
            provider.pk: provider_payable(provider, self.currency).code
            for provider in Provider.objects.filter(pk__in=provider_ids)
        }

    def _spec(self, kind, reference, receivable, payables, charges) -> TransactionSpec | None:
        """The ledger transaction of a bill (or of its adjustment): each service debits the
        receivable, each provider's payable is credited with its services' sum."""
        legs, dims = [], []
        credits: dict[int, int] = defaultdict(int)
        for charge in charges:
            if charge.amount_minor:
                legs.append(Leg(receivable, charge.amount_minor))
                dims.append((charge.service, charge.provider_id))
                credits[charge.provider_id] += charge.amount_minor
        for provider_id, amount in credits.items():
            if amount:
                legs.append(Leg(payables[provider_id], -amount))
                dims.append(("", provider_id))
        if len(legs) < 2:
            return None
        return TransactionSpec(
            kind=kind,
            legs=tuple(legs),
            value_date=self.end,
            reference=reference,
            dimensions=tuple(dims),
        )

    def _adjust(self, changed, receivables, payables, specs, new_lines, result, last_bill):
        billed = inputs.billed_by_invoice([e.invoice_id for e, _c, _s in changed])
        positions = _last_positions([e.invoice_id for e, _c, _s in changed])
        updates = []
        for existing, charges, signature in changed:
            before = {
                key: compose.Billed(*values) for key, values in billed[existing.invoice_id].items()
            }
            adjustments = compose.differences(before, charges)
            revision = existing.revision + 1
            account_id = existing.account_id
            spec = self._spec(
                "adjustment", existing.number, receivables[account_id], payables, adjustments
            )
            index = None
            if spec is not None:
                index = len(specs)
                specs.append(spec)
            position = positions.get(existing.invoice_id, 0)
            for charge in adjustments:
                position += 1
                new_lines.append((account_id, position, "adjustment", charge, revision, index))
                key = f"{charge.service}:{charge.provider_id}"
                result.totals[key] = result.totals.get(key, 0) + charge.amount_minor
            amount = sum(c.amount_minor for c in adjustments)
            result.adjusted += 1
            result.charged_minor += amount
            updates.append((existing.invoice_id, amount, signature, revision))
        now = self.now
        for invoice_id, amount, signature, revision in updates:
            Invoice.objects.filter(pk=invoice_id).update(
                adjustments_minor=F("adjustments_minor") + amount,
                closing_minor=F("closing_minor") + amount,
                digest=signature,
                revision=revision,
                updated_at=now,
                run_id=self.run.pk,
            )

    def _invoice_ids(self, data: inputs.ChunkInputs) -> dict[int, int]:
        ids = {account: e.invoice_id for account, e in data.existing.items()}
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT account_id, id FROM {Invoice._meta.db_table} "  # noqa: S608
                "WHERE period = %s AND account_id BETWEEN %s AND %s",
                [self.period, self.chunk.first_account, self.chunk.last_account],
            )
            ids.update(cursor.fetchall())
        return ids

    def _exception(self, service: inputs.ServiceRow, code: str, **params) -> None:
        self.exceptions.append(
            (self.run.pk, self.period, service.account_id, service.service, code, params, self.now)
        )

    def _write_exceptions(self, result: ChunkResult) -> None:
        if self.exceptions:
            RunException.objects.bulk_create(
                [
                    RunException(**dict(zip(EXCEPTION_FIELDS, row, strict=True)))
                    for row in self.exceptions
                ]
            )
        result.exceptions = len({row[2] for row in self.exceptions})


def _detail_json(detail) -> str:
    return json.dumps(detail, default=str, ensure_ascii=False)


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
