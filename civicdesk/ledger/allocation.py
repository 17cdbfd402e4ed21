"""Pure payment allocation: which open charges each payment (or credit note) settles.

No Django here. The service reads a personal account's open charges and unallocated credits,
calls :func:`allocate` and writes the returned :class:`Allocation` rows; whatever a credit
keeps unallocated stays on the account as credit (an overpayment), and
:func:`remaining_after` says how much.

Rules (``RULES``):

``oldest_first`` (the default)
    Bills (charges sharing an ``invoice``) are settled oldest first: by the earliest
    ``value_date`` among the bill's open charges, then the invoice reference. (Billing dates
    every charge of a bill with the bill's date, so a bill keeps its place when part of it is
    paid; a later adjustment to an old bill does not make the bill younger.) Within a bill,
    providers come in ``provider_priority`` order, then the other providers by name (the
    operator's own charges, ``provider == ""``, first among those); within a provider,
    charges by ``value_date``, ``order``, then id. Credits are consumed oldest first
    (``value_date``, ``order``, id).

``proportional``
    "Per provider on a bill that carries several": bills oldest first as above; a credit that
    covers the whole of the current bill settles it fully; a credit that does not is split
    across the bill's providers in proportion to what each still has open, in whole minor
    units by the largest-remainder method (ties broken by the provider order above), so every
    provider's share is within one minor unit of its exact pro-rata share and none is paid
    beyond what it has open. Within a provider, its share goes to its charges oldest first.

``invoice=``
    The named bill is settled first (by the rule), then the rest follows the rule over the
    other bills. A named invoice with nothing open is not an error: the payment follows the
    rule (the service decides whether to tell the payer).

Rounding: amounts are integer minor units throughout; the only division is the pro-rata
split, whose remainders are handed out one unit at a time as described above.

Errors carry a stable ``code`` (and ``params``) so services can turn them into translated
messages; ``str(error)`` is an English description for logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

RULES = ("oldest_first", "proportional")


class AllocationError(ValueError):
    """Input that cannot be allocated. ``code`` is one of: unknown_rule, bad_item, not_integer,
    not_positive, bad_date, duplicate_charge, duplicate_credit, bad_invoice,
    bad_provider_priority, unknown_charge, unknown_credit, over_allocated."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True, slots=True)
class OpenCharge:
    """What is still unpaid of one charge (a debit on the account's receivable)."""

    id: object
    open_minor: int
    value_date: date
    invoice: str  # the bill reference; the charges of one bill share it
    provider: str = ""  # "" when the charge belongs to no separate provider
    order: int = 0  # tie-breaker, e.g. the posting id


@dataclass(frozen=True, slots=True)
class Credit:
    """The unallocated part of a payment or credit note."""

    id: object
    open_minor: int
    value_date: date
    order: int = 0


@dataclass(frozen=True, slots=True)
class Allocation:
    credit_id: object
    charge_id: object
    amount_minor: int


# ---------------------------------------------------------------------------------------------
# validation and ordering


def _id_key(value: object) -> tuple:
    """A total, input-order-independent order over ids of mixed types (ints numerically)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (0, value, "", "")
    return (1, 0, type(value).__name__, str(value))


def _check_amount(kind: str, item_id: object, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AllocationError(
            "not_integer",
            f"open amount of {kind} {item_id!r} is not an integer of minor units",
            kind=kind,
            id=item_id,
        )
    if value <= 0:
        raise AllocationError(
            "not_positive",
            f"open amount of {kind} {item_id!r} is {value}, it must be above zero",
            kind=kind,
            id=item_id,
        )


def _check_common(kind: str, item: OpenCharge | Credit) -> None:
    _check_amount(kind, item.id, item.open_minor)
    # datetime is a date subclass; a datetime here is a caller's mistake (timezone ambiguity).
    if not isinstance(item.value_date, date) or hasattr(item.value_date, "hour"):
        raise AllocationError(
            "bad_date", f"value date of {kind} {item.id!r} is not a date", kind=kind, id=item.id
        )
    if isinstance(item.order, bool) or not isinstance(item.order, int):
        raise AllocationError(
            "not_integer", f"order of {kind} {item.id!r} is not an integer", kind=kind, id=item.id
        )


def _validated_charges(charges: Iterable[OpenCharge]) -> list[OpenCharge]:
    result: list[OpenCharge] = []
    seen: set = set()
    for charge in charges:
        if not isinstance(charge, OpenCharge):
            raise AllocationError("bad_item", f"{charge!r} is not an OpenCharge", kind="charge")
        _check_common("charge", charge)
        if not isinstance(charge.invoice, str) or not isinstance(charge.provider, str):
            raise AllocationError(
                "bad_item",
                f"invoice and provider of charge {charge.id!r} must be strings",
                kind="charge",
                id=charge.id,
            )
        key = _id_key(charge.id)
        if key in seen:
            raise AllocationError(
                "duplicate_charge", f"charge {charge.id!r} is listed twice", id=charge.id
            )
        seen.add(key)
        result.append(charge)
    return result


def _validated_credits(credits: Iterable[Credit]) -> list[Credit]:
    result: list[Credit] = []
    seen: set = set()
    for credit in credits:
        if not isinstance(credit, Credit):
            raise AllocationError("bad_item", f"{credit!r} is not a Credit", kind="credit")
        _check_common("credit", credit)
        key = _id_key(credit.id)
        if key in seen:
            raise AllocationError(
                "duplicate_credit", f"credit {credit.id!r} is listed twice", id=credit.id
            )
        seen.add(key)
        result.append(credit)
    return result


def _credit_key(credit: Credit) -> tuple:
    return (credit.value_date, credit.order, _id_key(credit.id))


def _charge_key(charge: OpenCharge) -> tuple:
    return (charge.value_date, charge.order, _id_key(charge.id))


@dataclass(slots=True)
class _Bill:
    invoice: str
    # providers in settlement order, each with its charges in settlement order
    providers: list[tuple[str, list[OpenCharge]]]

    def charges(self) -> list[OpenCharge]:
        return [charge for _, group in self.providers for charge in group]


def _ordered_bills(
    charges: list[OpenCharge], invoice: str | None, provider_priority: Sequence[str]
) -> list[_Bill]:
    rank = {}
    for position, name in enumerate(provider_priority):
        rank.setdefault(name, position)

    def provider_key(name: str) -> tuple:
        return (0, rank[name], "") if name in rank else (1, 0, name)

    by_invoice: dict[str, list[OpenCharge]] = {}
    for charge in charges:
        by_invoice.setdefault(charge.invoice, []).append(charge)

    def bill_key(item: tuple[str, list[OpenCharge]]) -> tuple:
        reference, group = item
        named_first = 0 if invoice is not None and reference == invoice else 1
        return (
            named_first,
            min(c.value_date for c in group),
            reference,  # unique per bill, so ``order`` only ranks charges within a bill
        )

    bills = []
    for reference, group in sorted(by_invoice.items(), key=bill_key):
        by_provider: dict[str, list[OpenCharge]] = {}
        for charge in group:
            by_provider.setdefault(charge.provider, []).append(charge)
        providers = [
            (name, sorted(by_provider[name], key=_charge_key))
            for name in sorted(by_provider, key=provider_key)
        ]
        bills.append(_Bill(reference, providers))
    return bills


# ---------------------------------------------------------------------------------------------
# the rules


def largest_remainder(amount: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount`` (>= 0) in proportion to non-negative integer ``weights`` (sum > 0).

    Each share is the floor of its exact share, plus one unit for the shares with the largest
    remainders until the total is reached; equal remainders go to the earlier weight. Every
    share is within one unit of the exact share, and none exceeds its weight when
    ``amount <= sum(weights)``.
    """
    total = sum(weights)
    if total <= 0:
        raise AllocationError("not_positive", "weights must add up to more than zero")
    shares = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    leftover = amount - sum(shares)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:leftover]:
        shares[index] += 1
    return shares


def _fill_sequentially(
    credits: list[list], charges: list[OpenCharge], open_left: dict[tuple, int]
) -> list[Allocation]:
    """Oldest-first core: walk credits and charges in order, settling as far as money goes.

    ``credits`` holds mutable ``[credit, remaining]`` pairs; ``open_left`` maps a charge's id
    key to what is still open.
    """
    allocations: list[Allocation] = []
    credit_index = 0
    for charge in charges:
        while open_left[_id_key(charge.id)] > 0 and credit_index < len(credits):
            credit, remaining = credits[credit_index]
            if remaining == 0:
                credit_index += 1
                continue
            amount = min(remaining, open_left[_id_key(charge.id)])
            allocations.append(Allocation(credit.id, charge.id, amount))
            credits[credit_index][1] -= amount
            open_left[_id_key(charge.id)] -= amount
        if credit_index >= len(credits):
            break
    return allocations


def _allocate_proportional(
    credits: list[list], bills: list[_Bill], open_left: dict[tuple, int]
) -> list[Allocation]:
    allocations: list[Allocation] = []
    bill_index = 0
    for credit_pair in credits:
        credit = credit_pair[0]
        while credit_pair[1] > 0 and bill_index < len(bills):
            bill = bills[bill_index]
            provider_open = [
                sum(open_left[_id_key(c.id)] for c in group) for _, group in bill.providers
            ]
            bill_open = sum(provider_open)
            if bill_open == 0:
                bill_index += 1
                continue
            if credit_pair[1] >= bill_open:
                shares = provider_open
            else:
                # Providers with nothing left open get weight 0 and so a share of 0; the split
                # is over those still open, in the bill's provider order for tie-breaks.
                live = [i for i, amount in enumerate(provider_open) if amount > 0]
                split = largest_remainder(credit_pair[1], [provider_open[i] for i in live])
                shares = [0] * len(provider_open)
                for i, share in zip(live, split, strict=True):
                    shares[i] = share
            for (_, group), share in zip(bill.providers, shares, strict=True):
                for charge in group:
                    if share == 0:
                        break
                    amount = min(share, open_left[_id_key(charge.id)])
                    if amount == 0:
                        continue
                    allocations.append(Allocation(credit.id, charge.id, amount))
                    open_left[_id_key(charge.id)] -= amount
                    share -= amount
                    credit_pair[1] -= amount
    return allocations


def allocate(
    charges: Iterable[OpenCharge],
    credits: Iterable[Credit],
    *,
    rule: str = "oldest_first",
    invoice: str | None = None,
    provider_priority: Sequence[str] = (),
) -> list[Allocation]:
    """Allocate the credits to the open charges by ``rule``; see the module docstring.

    Returns allocations in the order they were made, each > 0, at most one per (credit,
    charge) pair. The total is ``min(sum of credits, sum of charges)``; whatever
    is left of the credits stays as credit on the account.
    """
    if rule not in RULES:
        raise AllocationError("unknown_rule", f"unknown allocation rule {rule!r}", rule=rule)
    if invoice is not None and not isinstance(invoice, str):
        raise AllocationError("bad_invoice", "the named invoice must be a string or None")
    if isinstance(provider_priority, str) or not all(
        isinstance(name, str) for name in provider_priority
    ):
        raise AllocationError(
            "bad_provider_priority", "provider_priority must be a sequence of provider names"
        )
    charge_list = _validated_charges(charges)
    credit_list = _validated_credits(credits)
    bills = _ordered_bills(charge_list, invoice, provider_priority)
    ordered_credits = [
        [credit, credit.open_minor] for credit in sorted(credit_list, key=_credit_key)
    ]
    open_left = {_id_key(charge.id): charge.open_minor for charge in charge_list}
    if rule == "oldest_first":
        ordered_charges = [charge for bill in bills for charge in bill.charges()]
        return _fill_sequentially(ordered_credits, ordered_charges, open_left)
    return _allocate_proportional(ordered_credits, bills, open_left)


def remaining_after(
    charges: Iterable[OpenCharge],
    credits: Iterable[Credit],
    allocations: Iterable[Allocation],
) -> tuple[list[OpenCharge], list[Credit]]:
    """What stays open after ``allocations``: charges still unpaid and credits still unallocated
    (the overpayment), in input order, with their reduced ``open_minor``; settled ones drop out.

    Raises ``unknown_charge``/``unknown_credit`` for an allocation naming an id not given and
    ``over_allocated`` when allocations exceed an open amount.
    """
    charge_list = _validated_charges(charges)
    credit_list = _validated_credits(credits)
    charge_used = {_id_key(c.id): 0 for c in charge_list}
    credit_used = {_id_key(c.id): 0 for c in credit_list}
    for allocation in allocations:
        _check_amount("allocation", allocation.charge_id, allocation.amount_minor)
        charge_key, credit_key = _id_key(allocation.charge_id), _id_key(allocation.credit_id)
        if charge_key not in charge_used:
            raise AllocationError(
                "unknown_charge",
                f"allocation names unknown charge {allocation.charge_id!r}",
                id=allocation.charge_id,
            )
        if credit_key not in credit_used:
            raise AllocationError(
                "unknown_credit",
                f"allocation names unknown credit {allocation.credit_id!r}",
                id=allocation.credit_id,
            )
        charge_used[charge_key] += allocation.amount_minor
        credit_used[credit_key] += allocation.amount_minor

    def reduced(items, used, kind):
        left = []
        for item in items:
            rest = item.open_minor - used[_id_key(item.id)]
            if rest < 0:
                raise AllocationError(
                    "over_allocated",
                    f"{kind} {item.id!r} is allocated {-rest} beyond its open amount",
                    kind=kind,
                    id=item.id,
                )
            if rest:
                left.append(replace(item, open_minor=rest))
        return left

    return reduced(charge_list, charge_used, "charge"), reduced(credit_list, credit_used, "credit")
