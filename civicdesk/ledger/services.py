"""Every write to the ledger. Each service runs in one atomic block: all or nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection
from django.db import transaction as db_transaction
from django.db.models import OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicdesk.core.bulk import Values, bulk_insert
from civicdesk.core.identifiers import uuid7s
from civicdesk.ledger import postings
from civicdesk.ledger.models import Allocation, LedgerAccount, Posting, Transaction
from civicdesk.ledger.postings import Leg, PostingError
from civicdesk.registry.models import PersonalAccount, Provider

POSTING_ERRORS = {
    "too_few_legs": _("A transaction needs at least two postings."),
    "zero_leg": _("An amount of zero cannot be posted."),
    "unbalanced": _("The postings do not balance: they sum to %(total)s instead of zero."),
    "not_integer": _("Amounts must be whole minor units."),
    "no_account": _("Each posting needs a ledger account."),
    "not_decimal": _("Give the amount as a number."),
    "not_finite": _("Give the amount as a number."),
    "too_many_decimals": _("The amount has more than %(places)s decimal places."),
}


def _posting_error(exc: PostingError, field: str) -> ValidationError:
    message = POSTING_ERRORS.get(exc.code, _("These amounts cannot be posted."))
    return ValidationError({field: ValidationError(message, code=exc.code, params=exc.params)})


def money_to_minor(amount: Decimal, *, currency: str, field: str = "amount") -> int:
    """Exact Decimal → minor units for ``currency``; a ValidationError naming ``field`` if the
    amount has more decimals than the currency (never rounded)."""
    try:
        return postings.to_minor(amount, postings.currency_exponent(currency))
    except PostingError as exc:
        raise _posting_error(exc, field) from exc


@db_transaction.atomic
def transaction_post(
    *,
    kind: str,
    legs: list[Leg],
    currency: str,
    value_date: dt.date,
    reference: str,
    description: str = "",
    actor=None,
    reverses: Transaction | None = None,
    dimensions: list[tuple[str, Provider | None]] | None = None,
) -> Transaction:
    """Post one balanced transaction; refuse it whole (nothing written) on any bad leg.
    ``dimensions`` gives each leg's (service, provider), in the order of ``legs``."""
    if kind not in Transaction.Kind.values:
        raise ValidationError({"kind": _("Unknown transaction kind.")})
    currency = (currency or "").upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationError({"currency": _("Give a three-letter ISO 4217 currency code.")})
    try:
        legs = postings.check_balanced(legs)
    except PostingError as exc:
        raise _posting_error(exc, "legs") from exc

    codes = {leg.account_code for leg in legs}
    accounts = {a.code: a for a in LedgerAccount.objects.filter(code__in=codes)}
    unknown = sorted(codes - accounts.keys())
    if unknown:
        raise ValidationError(
            {
                "legs": ValidationError(
                    _("Unknown ledger account: %(code)s."),
                    code="unknown_account",
                    params={"code": ", ".join(unknown)},
                )
            }
        )
    for code in sorted(codes):
        account = accounts[code]
        if account.closed_at is not None:
            raise ValidationError(
                {
                    "legs": ValidationError(
                        _("The ledger account %(code)s is closed."),
                        code="closed_account",
                        params={"code": code},
                    )
                }
            )
        if account.currency != currency:
            raise ValidationError(
                {
                    "currency": ValidationError(
                        _("The ledger account %(code)s is kept in %(account)s, not %(currency)s."),
                        code="currency_mismatch",
                        params={"code": code, "account": account.currency, "currency": currency},
                    )
                }
            )

    txn = Transaction.objects.create(
        kind=kind,
        value_date=value_date,
        reference=reference,
        description=description,
        actor=actor,
        reverses=reverses,
        currency=currency,
    )
    dimensions = dimensions or [("", None)] * len(legs)
    Posting.objects.bulk_create(
        [
            Posting(
                transaction=txn,
                account=accounts[leg.account_code],
                amount_minor=leg.amount_minor,
                currency=currency,
                service=service,
                provider=provider,
            )
            for leg, (service, provider) in zip(legs, dimensions, strict=True)
        ]
    )
    return txn


@db_transaction.atomic
def transaction_reverse(
    *, transaction: Transaction, actor, reason: str, value_date: dt.date | None = None
) -> Transaction:
    """Post the mirror image of ``transaction``, linked to it. A transaction is reversed once."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the transaction is reversed.")})
    # The lock serialises concurrent reversals; the unique link is the last word.
    original = Transaction.objects.select_for_update().get(pk=transaction.pk)
    if original.kind == Transaction.Kind.REVERSAL:
        raise ValidationError(
            {"transaction": _("A reversal cannot be reversed; post a new transaction instead.")}
        )
    if Transaction.objects.filter(reverses=original).exists():
        raise ValidationError({"transaction": _("This transaction has already been reversed.")})
    originals = list(original.postings.order_by("id").select_related("account", "provider"))
    for posting in originals:
        if posting.account.personal_account_id and posting.account.kind == "receivable":
            receivable_lock(posting.account.personal_account)
    mirror = transaction_post(
        kind=Transaction.Kind.REVERSAL,
        legs=[Leg(p.account.code, -p.amount_minor) for p in originals],
        currency=original.currency,
        value_date=value_date or timezone.localdate(),
        reference=original.reference,
        description=reason.strip()[:300],
        actor=actor,
        reverses=original,
        dimensions=[(p.service, p.provider) for p in originals],
    )
    _allocations_unwind(original, mirror, actor)
    for personal_account in {
        p.account.personal_account for p in originals if p.account.personal_account_id
    }:
        account_allocate(personal_account, actor=actor)
    return mirror


def _operator_currency() -> str:
    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    if operator is None:
        raise ValidationError(_("Set up the operator before using the ledger."))
    return operator.currency


@db_transaction.atomic
def receivable_for(account: PersonalAccount) -> LedgerAccount:
    """The personal account's receivable ledger account, created on first use."""
    ledger_account, _created = LedgerAccount.objects.get_or_create(
        personal_account=account,
        kind=LedgerAccount.Kind.RECEIVABLE,
        defaults={
            "code": f"receivable:{account.number}",
            "name": f"Receivable {account.number}",
            "currency": _operator_currency(),
        },
    )
    return ledger_account


@db_transaction.atomic
def opening_equity_for(provider: Provider | None, currency: str) -> LedgerAccount:
    """Opening balance equity: one per provider, and one for balances without a provider."""
    if provider is None:
        code, name = f"opening-equity:{currency}", f"Opening balance equity {currency}"
    else:
        code = f"opening-equity:{provider.code}:{currency}"
        name = f"Opening balance equity {provider.code} {currency}"
    ledger_account, _created = LedgerAccount.objects.get_or_create(
        code=code,
        defaults={
            "kind": LedgerAccount.Kind.OPENING_BALANCE_EQUITY,
            "name": name,
            "currency": currency,
            "provider": provider,
        },
    )
    return ledger_account


@db_transaction.atomic
def opening_balances_post(*, actor=None) -> int:
    """Post the registry's opening balances not yet posted, in bulk, and have the registry stamp
    them. Returns how many were posted; running it again posts nothing. A positive amount is
    owed by the resident (receivable debit), a negative one is credit. All or nothing: one bad
    row (an unknown currency) posts none."""
    from civicdesk.registry import services as registry_services

    rows = list(
        registry_services.opening_balances_unposted().values_list(
            "pk",
            "account_id",
            "account__number",
            "provider_id",
            "as_of",
            "amount_minor",
            "currency",
        )
    )
    if not rows:
        return 0
    currencies = {currency.upper() for *_, currency in rows}
    operator_currency = _operator_currency()
    if currencies - {operator_currency}:
        raise ValidationError(
            {
                "currency": ValidationError(
                    _("The ledger account %(code)s is kept in %(account)s, not %(currency)s."),
                    code="currency_mismatch",
                    params={
                        "code": "receivable",
                        "account": operator_currency,
                        "currency": ", ".join(sorted(currencies - {operator_currency})),
                    },
                )
            }
        )
    receivables = receivables_ensure({account_id: number for _, account_id, number, *_ in rows})
    providers = {p.pk: p for p in Provider.objects.filter(pk__in={r[3] for r in rows if r[3]})}
    equity = {
        provider_id: opening_equity_for(providers.get(provider_id), operator_currency).code
        for provider_id in {r[3] for r in rows}
    }
    specs, signs = [], {}
    for _pk, account_id, number, provider_id, as_of, amount, _currency in rows:
        if amount == 0:
            continue
        signs.setdefault(account_id, set()).add(amount > 0)
        provider = providers.get(provider_id)
        specs.append(
            TransactionSpec(
                kind=Transaction.Kind.OPENING_BALANCE,
                legs=(Leg(receivables[account_id], amount), Leg(equity[provider_id], -amount)),
                value_date=as_of,
                reference=f"opening:{number}",
                description=f"Opening balance {provider.code if provider else ''}".strip(),
                dimensions=(("", provider_id), ("", provider_id)),
            )
        )
    posted = len(transactions_post_bulk(specs, currency=operator_currency, actor=actor))
    registry_services.opening_balances_mark_posted([r[0] for r in rows])
    # Debt and credit from different providers on one account meet at once.
    mixed = [account_id for account_id, seen in signs.items() if len(seen) == 2]
    for account in PersonalAccount.objects.filter(pk__in=mixed):
        account_allocate(account, actor=actor)
    return posted


def receivables_ensure(numbers: dict[int, str]) -> dict[int, str]:
    """Receivable codes for these personal accounts (id → number), creating the missing ones
    set-based (a billing run's first bill of a million accounts creates a million)."""
    existing: dict[int, str] = {}
    ids = list(numbers)
    for start in range(0, len(ids), 5000):
        existing.update(
            LedgerAccount.objects.filter(
                personal_account_id__in=ids[start : start + 5000],
                kind=LedgerAccount.Kind.RECEIVABLE,
            ).values_list("personal_account_id", "code")
        )
    missing = [(a, n) for a, n in numbers.items() if a not in existing]
    if missing:
        currency = _operator_currency()
        now = timezone.now()
        bulk_insert(
            LedgerAccount,
            ["code", "kind", "name", "currency", "personal_account_id", "created_at"],
            [
                (
                    f"receivable:{number}",
                    LedgerAccount.Kind.RECEIVABLE,
                    f"Receivable {number}",
                    currency,
                    account_id,
                    now,
                )
                for account_id, number in missing
            ],
        )
        existing.update({account_id: f"receivable:{number}" for account_id, number in missing})
    return existing


# --- the chart of system accounts -----------------------------------------------------------

SYSTEM_CODES = {
    LedgerAccount.Kind.GATEWAY_CLEARING: "gateway:{key}:{currency}",
    LedgerAccount.Kind.BANK_CLEARING: "bank:{key}:{currency}",
    LedgerAccount.Kind.SUSPENSE: "suspense:{currency}",
    LedgerAccount.Kind.REFUNDS_PAYABLE: "refunds-payable:{currency}",
    LedgerAccount.Kind.REVENUE: "revenue:{currency}",
}


@db_transaction.atomic
def system_account(kind: str, currency: str, key: str = "") -> LedgerAccount:
    """One of the operator's own ledger accounts, created on first use: gateway and bank
    clearing (``key`` names the gateway or the bank format), suspense, refunds payable,
    revenue."""
    currency = currency.upper()
    code = SYSTEM_CODES[kind].format(key=key, currency=currency)
    ledger_account, _created = LedgerAccount.objects.get_or_create(
        code=code,
        defaults={"kind": kind, "name": code, "currency": currency},
    )
    return ledger_account


@db_transaction.atomic
def provider_payable(provider: Provider, currency: str) -> LedgerAccount:
    currency = currency.upper()
    ledger_account, _created = LedgerAccount.objects.get_or_create(
        code=f"payable:{provider.code}:{currency}",
        defaults={
            "kind": LedgerAccount.Kind.PROVIDER_PAYABLE,
            "name": f"Payable to {provider.name}",
            "currency": currency,
            "provider": provider,
        },
    )
    return ledger_account


def receivable_lock(account: PersonalAccount) -> LedgerAccount:
    """The account's receivable, locked for the rest of the transaction: every change to what
    a resident owes or holds in credit (allocation, refund) is serialised on this row."""
    receivable = receivable_for(account)
    return LedgerAccount.objects.select_for_update().get(pk=receivable.pk)


# --- allocation -----------------------------------------------------------------------------


def open_items(receivable: LedgerAccount):
    """(open charges, open credits) of a receivable, as the pure allocation module's values.
    Charges are its debit postings less what is allocated to them; credits its credit
    postings less what they already pay."""
    return _open_items_many([receivable.pk]).get(receivable.pk, ([], []))


def _open_items_many(receivable_ids: list[int]) -> dict[int, tuple[list, list]]:
    """Open charges and credits of many receivables in one query, keyed by receivable id."""
    from civicdesk.ledger import allocation

    allocated_to = (
        Allocation.objects.filter(charge=OuterRef("pk"))
        .values("charge")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )
    allocated_from = (
        Allocation.objects.filter(credit=OuterRef("pk"))
        .values("credit")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )
    rows = (
        Posting.objects.filter(account_id__in=receivable_ids)
        .annotate(
            to_charge=Coalesce(Subquery(allocated_to), Value(0)),
            from_credit=Coalesce(Subquery(allocated_from), Value(0)),
        )
        .values_list(
            "account_id",
            "pk",
            "amount_minor",
            "to_charge",
            "from_credit",
            "transaction__value_date",
            "transaction__reference",
            "provider__code",
        )
        .order_by("pk")
    )
    items: dict[int, tuple[list, list]] = {}
    for account_id, pk, amount, to_charge, from_credit, value_date, reference, provider in rows:
        charges, credits = items.setdefault(account_id, ([], []))
        if amount > 0 and amount - to_charge > 0:
            charges.append(
                allocation.OpenCharge(
                    id=pk,
                    open_minor=amount - to_charge,
                    value_date=value_date,
                    invoice=reference or "",
                    provider=provider or "",
                    order=pk,
                )
            )
        elif amount < 0 and -amount - from_credit > 0:
            credits.append(
                allocation.Credit(
                    id=pk, open_minor=-amount - from_credit, value_date=value_date, order=pk
                )
            )
    return items


def _allocation_rule() -> dict:
    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    if operator is None:
        return {"rule": "oldest_first", "provider_priority": ()}
    return {
        "rule": operator.allocation_rule,
        "provider_priority": tuple(operator.allocation_provider_priority or ()),
    }


@db_transaction.atomic
def account_allocate(
    account: PersonalAccount, *, invoice: str | None = None, actor=None
) -> list[Allocation]:
    """Set the account's open credits against its open charges by the operator's rule (a named
    invoice first when given). What cannot be allocated stays open: credit or debt."""
    from civicdesk.ledger import allocation

    receivable = receivable_lock(account)
    charges, credits = open_items(receivable)
    if not charges or not credits:
        return []
    result = allocation.allocate(charges, credits, invoice=invoice or None, **_allocation_rule())
    return Allocation.objects.bulk_create(
        [
            Allocation(
                credit_id=row.credit_id,
                charge_id=row.charge_id,
                amount_minor=row.amount_minor,
                actor=actor,
            )
            for row in result
        ]
    )


@db_transaction.atomic
def accounts_allocate(account_ids, *, actor=None, chunk: int = 2000) -> int:
    """:func:`account_allocate` for many personal accounts at once (a bank statement, a billing
    run): their receivables locked in key order, open items read a chunk at a time in one
    query, the allocations written in bulk. Returns how many allocations were written."""
    from civicdesk.ledger import allocation

    receivables = sorted(
        LedgerAccount.objects.filter(
            kind=LedgerAccount.Kind.RECEIVABLE, personal_account_id__in=list(account_ids)
        ).values_list("pk", flat=True)
    )
    rule = _allocation_rule()
    written = 0
    for start in range(0, len(receivables), chunk):
        ids = receivables[start : start + chunk]
        list(
            LedgerAccount.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        rows = []
        for charges, credits in _open_items_many(ids).values():
            if charges and credits:
                rows += [
                    Allocation(
                        credit_id=row.credit_id,
                        charge_id=row.charge_id,
                        amount_minor=row.amount_minor,
                        actor=actor,
                    )
                    for row in allocation.allocate(charges, credits, **rule)
                ]
        Allocation.objects.bulk_create(rows, batch_size=5000)
        written += len(rows)
    return written


def _allocations_unwind(original: Transaction, mirror: Transaction, actor) -> None:
    """After a reversal: release what the original's receivable postings were allocated to,
    then set each original posting against its mirror image, so neither stays open."""
    receivable = {"account__kind": LedgerAccount.Kind.RECEIVABLE}
    originals = list(original.postings.filter(**receivable).order_by("id"))
    if not originals:
        return
    # The mirror was written leg for leg in the original's order.
    mirrors = list(mirror.postings.filter(**receivable).order_by("id"))
    rows: list[Allocation] = []
    for posting, twin in zip(originals, mirrors, strict=True):
        if (twin.account_id, twin.amount_minor) != (posting.account_id, -posting.amount_minor):
            raise RuntimeError(f"reversal {mirror.pk} does not mirror {original.pk}")
        if posting.amount_minor > 0:
            held = (
                Allocation.objects.filter(charge=posting)
                .values("credit")
                .annotate(total=Sum("amount_minor"))
            )
            rows += [
                Allocation(credit_id=h["credit"], charge=posting, amount_minor=-h["total"])
                for h in held
                if h["total"]
            ]
            rows.append(Allocation(credit=twin, charge=posting, amount_minor=posting.amount_minor))
        else:
            held = (
                Allocation.objects.filter(credit=posting)
                .values("charge")
                .annotate(total=Sum("amount_minor"))
            )
            rows += [
                Allocation(credit=posting, charge_id=h["charge"], amount_minor=-h["total"])
                for h in held
                if h["total"]
            ]
            rows.append(Allocation(credit=posting, charge=twin, amount_minor=-posting.amount_minor))
    for row in rows:
        row.actor = actor
    Allocation.objects.bulk_create(rows)


# --- posting what residents owe and pay -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChargeLine:
    amount_minor: int
    service: str = ""
    provider: Provider | None = None


@db_transaction.atomic
def charge_post(
    *,
    account: PersonalAccount,
    lines: list[ChargeLine],
    currency: str,
    value_date: dt.date,
    reference: str,
    description: str = "",
    actor=None,
    kind: str = Transaction.Kind.CHARGE,
) -> Transaction:
    """A bill (or an adjustment) for one account: each line debits the receivable with its
    service and provider and credits that provider's payable (revenue when there is none).
    Open credit is allocated to it at once."""
    if not lines:
        raise ValidationError({"lines": _("A charge needs at least one line.")})
    if any(line.amount_minor <= 0 for line in lines):
        raise ValidationError({"lines": _("Charge amounts must be more than zero.")})
    receivable = receivable_lock(account)
    legs, dims = [], []
    for line in lines:
        income = (
            provider_payable(line.provider, currency)
            if line.provider
            else system_account(LedgerAccount.Kind.REVENUE, currency)
        )
        legs += [Leg(receivable.code, line.amount_minor), Leg(income.code, -line.amount_minor)]
        dims += [(line.service, line.provider), (line.service, line.provider)]
    txn = transaction_post(
        kind=kind,
        legs=legs,
        currency=currency,
        value_date=value_date,
        reference=reference,
        description=description,
        actor=actor,
        dimensions=dims,
    )
    account_allocate(account, actor=actor)
    return txn


@db_transaction.atomic
def payment_post(
    *,
    account: PersonalAccount,
    amount_minor: int,
    currency: str,
    value_date: dt.date,
    source: LedgerAccount,
    reference: str,
    description: str = "",
    actor=None,
    invoice: str | None = None,
    kind: str = Transaction.Kind.PAYMENT,
) -> Transaction:
    """Money received for an account: debit ``source`` (a gateway or bank clearing account, or
    suspense when an officer moves an unmatched line), credit the receivable, then allocate it
    (the named invoice first). Whatever is left over stays as credit."""
    if amount_minor <= 0:
        raise ValidationError({"amount": _("The amount must be more than zero.")})
    receivable = receivable_lock(account)
    txn = transaction_post(
        kind=kind,
        legs=[Leg(source.code, amount_minor), Leg(receivable.code, -amount_minor)],
        currency=currency,
        value_date=value_date,
        reference=reference,
        description=description,
        actor=actor,
    )
    account_allocate(account, invoice=invoice, actor=actor)
    return txn


def credit_available(account: PersonalAccount) -> int:
    """Credit the resident holds, in minor units (zero when they owe)."""
    receivable = LedgerAccount.objects.filter(
        personal_account=account, kind=LedgerAccount.Kind.RECEIVABLE
    ).first()
    if receivable is None:
        return 0
    total = receivable.postings.aggregate(total=Sum("amount_minor"))["total"] or 0
    return max(0, -int(total))


@db_transaction.atomic
def refund_reserve(
    *,
    account: PersonalAccount,
    amount_minor: int,
    currency: str,
    reference: str,
    description: str = "",
    actor=None,
    value_date: dt.date | None = None,
) -> Transaction:
    """Set aside credit for a refund: debit the receivable, credit refunds payable. Never more
    than the credit available, checked under the receivable's lock."""
    if amount_minor <= 0:
        raise ValidationError({"amount": _("The amount must be more than zero.")})
    receivable = receivable_lock(account)
    available = credit_available(account)
    if amount_minor > available:
        raise ValidationError(
            {
                "amount": ValidationError(
                    _("That is more than the credit on the account (%(available)s)."),
                    code="exceeds_credit",
                    params={"available": postings.money(available, currency)},
                )
            }
        )
    payable = system_account(LedgerAccount.Kind.REFUNDS_PAYABLE, currency)
    txn = transaction_post(
        kind=Transaction.Kind.REFUND,
        legs=[Leg(receivable.code, amount_minor), Leg(payable.code, -amount_minor)],
        currency=currency,
        value_date=value_date or timezone.localdate(),
        reference=reference,
        description=description,
        actor=actor,
    )
    account_allocate(account, actor=actor)
    return txn


# --- bulk posting (billing runs, imports, opening balances) ---------------------------------


@dataclass(frozen=True, slots=True)
class TransactionSpec:
    """One transaction for :func:`transactions_post_bulk`."""

    kind: str
    legs: tuple[Leg, ...]
    value_date: dt.date
    reference: str
    description: str = ""
    dimensions: tuple[tuple[str, int | None], ...] | None = None  # (service, provider id) per leg


@db_transaction.atomic
def transactions_post_bulk(
    specs: list[TransactionSpec], *, currency: str, actor=None, booked_at=None
) -> list[uuid.UUID]:
    """Post many transactions at once, all or nothing: every one is checked exactly as
    :func:`transaction_post` checks it (balanced, at least two legs, known open accounts in
    the currency), then they are written with COPY on PostgreSQL or executemany on SQLite —
    no ORM object per row. The database's own guards still run at commit. Allocation is left
    to :func:`accounts_allocate`. Returns the new transactions' ids, in the order of
    ``specs``."""
    if not specs:
        return []
    currency = (currency or "").upper()
    codes: set[str] = set()
    kinds = frozenset(Transaction.Kind.values)
    for index, spec in enumerate(specs):
        if spec.kind not in kinds:
            raise ValidationError({"kind": _("Unknown transaction kind.")})
        try:
            postings.check_balanced(spec.legs)
        except PostingError as exc:
            error = _posting_error(exc, "legs")
            raise ValidationError({f"transactions.{index}": error.error_dict["legs"]}) from exc
        codes.update(leg.account_code for leg in spec.legs)
    accounts: dict[str, int] = {}
    ordered = sorted(codes)
    for start in range(0, len(ordered), 5000):
        accounts.update(
            LedgerAccount.objects.filter(
                code__in=ordered[start : start + 5000], closed_at__isnull=True, currency=currency
            ).values_list("code", "pk")
        )
    missing = sorted(codes - accounts.keys())
    if missing:
        raise ValidationError(
            {
                "legs": ValidationError(
                    _("Unknown, closed or other-currency ledger account: %(code)s."),
                    code="unknown_account",
                    params={"code": ", ".join(missing[:5])},
                )
            }
        )
    booked_at = booked_at or timezone.now()
    actor_id = getattr(actor, "pk", None)
    transaction_rows, posting_rows = [], []
    # Time-ordered ids: the rows go to the end of the key's index instead of all over it.
    ids = uuid7s(len(specs))
    for spec, txn_id in zip(specs, ids, strict=True):
        transaction_rows.append(
            (
                txn_id,
                spec.kind,
                spec.value_date,
                booked_at,
                spec.reference,
                spec.description,
                actor_id,
                None,
                currency,
            )
        )
        dims = spec.dimensions or (("", None),) * len(spec.legs)
        for leg, (service, provider_id) in zip(spec.legs, dims, strict=True):
            posting_rows.append(
                (
                    txn_id,
                    accounts[leg.account_code],
                    leg.amount_minor,
                    currency,
                    service,
                    provider_id,
                )
            )
    bulk_insert(
        Transaction,
        [
            "id",
            "kind",
            "value_date",
            "booked_at",
            "reference",
            "description",
            "actor_id",
            "reverses_id",
            "currency",
        ],
        transaction_rows,
    )
    bulk_insert(
        Posting,
        ["transaction_id", "account_id", "amount_minor", "currency", "service", "provider_id"],
        posting_rows,
    )
    return ids


@dataclass(frozen=True, slots=True)
class BillPosting:
    """One bill (or one adjustment of it) for :func:`bills_post_bulk`: ``lines`` are
    (service, provider id, amount in minor units); each debits (or, negative, credits) the
    receivable and is balanced by its provider's payable."""

    reference: str
    receivable: str  # the receivable's code
    lines: tuple[tuple[str, int, int], ...]


def bills_post_bulk(
    bills: list[BillPosting], *, kind: str, currency: str, value_date: dt.date, booked_at=None
) -> list[uuid.UUID | None]:
    """The billing run's ledger: one transaction per bill, set-based. Balanced by
    construction: every line's amount goes to the receivable (with its service and provider)
    and, summed per provider, the other way to the provider's payable. Lines of zero are left
    out; a bill of nothing but zeros posts nothing (its id is None). All or nothing, checked
    as :func:`transactions_post_bulk` checks (known open accounts in the currency, integer
    amounts). Returns the transactions' ids in the order of ``bills``."""
    if not bills:
        return []
    if kind not in (Transaction.Kind.CHARGE, Transaction.Kind.ADJUSTMENT):
        raise ValidationError({"kind": _("Unknown transaction kind.")})
    currency = (currency or "").upper()
    providers = {provider_id for bill in bills for _s, provider_id, _a in bill.lines}
    payables = {
        provider.pk: provider_payable(provider, currency).pk
        for provider in Provider.objects.filter(pk__in=providers)
    }
    receivables: dict[str, int] = {}
    codes = sorted({bill.receivable for bill in bills})
    table = connection.ops.quote_name(LedgerAccount._meta.db_table)
    with connection.cursor() as cursor:
        # Plain SQL: the ORM's IN lookup prepares each of thousands of codes in Python.
        for start in range(0, len(codes), 5000):
            part = codes[start : start + 5000]
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                f"SELECT code, id FROM {table} WHERE code IN ({marks}) "  # noqa: S608
                "AND kind = 'receivable' AND closed_at IS NULL AND currency = %s",
                [*part, currency],
            )
            receivables.update(cursor.fetchall())
    missing = sorted(set(codes) - receivables.keys()) + sorted(
        str(p) for p in providers - payables.keys()
    )
    if missing:
        raise ValidationError(
            {
                "legs": ValidationError(
                    _("Unknown, closed or other-currency ledger account: %(code)s."),
                    code="unknown_account",
                    params={"code": ", ".join(missing[:5])},
                )
            }
        )
    values = Values()
    booked = values.datetime(booked_at or timezone.now())
    day = values.date(value_date)
    transaction_rows, posting_rows, out = [], [], []
    ids = iter(uuid7s(len(bills)))
    # The postings of a bill but for its transaction and receivable, per distinct set of
    # lines (a run's bills share a few hundred shapes among a million accounts).
    shapes: dict[tuple, tuple[tuple, tuple]] = {}
    for bill in bills:
        shape = shapes.get(bill.lines)
        if shape is None:
            debits, credits = [], defaultdict(int)
            for service, provider_id, amount in bill.lines:
                if type(amount) is not int:
                    raise ValidationError({"amount": _("Amounts must be whole minor units.")})
                if amount:
                    debits.append((amount, currency, service, provider_id))
                    credits[provider_id] += amount
            shape = shapes[bill.lines] = (
                tuple(debits),
                tuple(
                    (payables[p], -amount, currency, "", p)
                    for p, amount in credits.items()
                    if amount
                ),
            )
        debits, credit_rows = shape
        if not debits:
            out.append(None)
            continue
        txn_id = next(ids)
        out.append(txn_id)
        key = values.uuid(txn_id)
        transaction_rows.append((key, kind, day, booked, bill.reference, "", currency))
        receivable = receivables[bill.receivable]
        for debit in debits:
            posting_rows.append((key, receivable, *debit))
        for credit in credit_rows:
            posting_rows.append((key, *credit))
    bulk_insert(
        Transaction,
        ["id", "kind", "value_date", "booked_at", "reference", "description", "currency"],
        transaction_rows,
        prepared=True,
    )
    bulk_insert(
        Posting,
        ["transaction_id", "account_id", "amount_minor", "currency", "service", "provider_id"],
        posting_rows,
        prepared=True,
    )
    return out
