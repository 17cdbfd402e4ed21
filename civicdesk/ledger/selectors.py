"""Reads from the ledger. Balances are always the sum of postings; nothing is cached."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.http import Http404

from civicdesk.ledger import postings
from civicdesk.ledger.models import Allocation, LedgerAccount, Posting, Transaction
from civicdesk.registry.models import PersonalAccount

LEDGER_READ_PERMISSION = "ledger.view_transaction"


def balance(account_code: str) -> int:
    """Balance of a ledger account in minor units: debits positive, credits negative."""
    total = Posting.objects.filter(account__code=account_code).aggregate(total=Sum("amount_minor"))
    return int(total["total"] or 0)


def operator_currency() -> str:
    """The ledger's currency (the operator's); empty before an operator is set up."""
    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    return operator.currency if operator else ""


def receivable_of(personal_account: PersonalAccount) -> LedgerAccount | None:
    return LedgerAccount.objects.filter(
        personal_account=personal_account, kind=LedgerAccount.Kind.RECEIVABLE
    ).first()


def account_balance(personal_account: PersonalAccount) -> Decimal:
    """What the resident owes (positive) or has in credit (negative), in the ledger currency."""
    receivable = receivable_of(personal_account)
    if receivable is None:
        return postings.from_minor(0)
    return postings.money(balance(receivable.code), receivable.currency)


def account_for_caller(user, number: str) -> PersonalAccount:
    """The account a caller may read money for: a resident's own linked account, or any
    account for staff allowed to read the ledger. Anything else is 404."""
    from civicdesk.registry.selectors import account_for_user

    if user.is_staff and user.has_perm(LEDGER_READ_PERMISSION):
        account = PersonalAccount.objects.filter(number=number).first()
        if account is None:
            raise Http404
        return account
    return account_for_user(user, number)


@dataclass(frozen=True)
class OpenAmount:
    service: str
    provider: str
    amount_minor: int


@dataclass(frozen=True)
class AccountSummary:
    account: PersonalAccount
    currency: str
    balance_minor: int
    open_by_service: list[OpenAmount]

    @property
    def exponent(self) -> int:
        return postings.currency_exponent(self.currency)

    @property
    def balance(self) -> Decimal:
        return postings.from_minor(self.balance_minor, self.exponent)

    @property
    def owed(self) -> Decimal:
        return postings.from_minor(max(0, self.balance_minor), self.exponent)

    @property
    def credit(self) -> Decimal:
        return postings.from_minor(max(0, -self.balance_minor), self.exponent)


def account_summary(personal_account: PersonalAccount, *, currency: str) -> AccountSummary:
    """Balance, and what is still open per service and provider (charges less allocations)."""
    receivable = receivable_of(personal_account)
    if receivable is None:
        return AccountSummary(personal_account, currency, 0, [])
    total = receivable.postings.aggregate(total=Sum("amount_minor"))["total"] or 0
    charged = (
        receivable.postings.filter(amount_minor__gt=0)
        .values("service", "provider__name")
        .annotate(total=Sum("amount_minor"))
    )
    paid = (
        Allocation.objects.filter(charge__account=receivable)
        .values("charge__service", "charge__provider__name")
        .annotate(total=Sum("amount_minor"))
    )
    open_amounts: dict[tuple[str, str], int] = defaultdict(int)
    for row in charged:
        open_amounts[(row["service"], row["provider__name"] or "")] += row["total"]
    for row in paid:
        open_amounts[(row["charge__service"], row["charge__provider__name"] or "")] -= row["total"]
    return AccountSummary(
        personal_account,
        receivable.currency,
        int(total),
        [
            OpenAmount(service, provider, amount)
            for (service, provider), amount in sorted(open_amounts.items())
            if amount > 0
        ],
    )


@dataclass(frozen=True)
class StatementRow:
    transaction: Transaction
    amount_minor: int  # on the resident's account: positive = charged, negative = paid/credited
    services: tuple[str, ...]
    settled_with: tuple[tuple[Transaction, int], ...]  # the other side of its allocations


def account_transactions(
    personal_account: PersonalAccount,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    service: str | None = None,
) -> QuerySet[Transaction]:
    """Transactions on the account's receivable, newest first, each annotated with its net
    amount on the account (``amount_minor``). Filters by value date and service."""
    receivable = receivable_of(personal_account)
    if receivable is None:
        return Transaction.objects.none()
    on_account = Q(postings__account=receivable)
    queryset = Transaction.objects.filter(on_account)
    if date_from:
        queryset = queryset.filter(value_date__gte=date_from)
    if date_to:
        queryset = queryset.filter(value_date__lte=date_to)
    if service:
        queryset = queryset.filter(
            pk__in=Posting.objects.filter(account=receivable, service=service).values("transaction")
        )
    return queryset.annotate(
        amount_minor=Sum("postings__amount_minor", filter=on_account)
    ).order_by("-value_date", "-booked_at")


def statement_rows(
    personal_account: PersonalAccount, transactions: list[Transaction]
) -> list[StatementRow]:
    """The page's transactions with their services and what each was set against (a payment:
    the charges it paid; a charge: the payments that paid it), in three queries."""
    receivable = receivable_of(personal_account)
    ids = [txn.pk for txn in transactions]
    if receivable is None or not ids:
        return []
    services: dict = defaultdict(set)
    for txn_id, service in Posting.objects.filter(
        account=receivable, transaction_id__in=ids
    ).values_list("transaction_id", "service"):
        if service:
            services[txn_id].add(service)
    pairs: dict = defaultdict(lambda: defaultdict(int))
    allocations = Allocation.objects.filter(
        Q(credit__transaction_id__in=ids) | Q(charge__transaction_id__in=ids),
        credit__account=receivable,
    ).values_list("credit__transaction_id", "charge__transaction_id", "amount_minor")
    for credit_txn, charge_txn, amount in allocations:
        if credit_txn in ids:
            pairs[credit_txn][charge_txn] += amount
        if charge_txn in ids:
            pairs[charge_txn][credit_txn] += amount
    others = Transaction.objects.in_bulk({other for counter in pairs.values() for other in counter})
    return [
        StatementRow(
            transaction=txn,
            amount_minor=int(txn.amount_minor or 0),
            services=tuple(sorted(services[txn.pk])),
            settled_with=tuple(
                (others[other], amount)
                for other, amount in sorted(pairs[txn.pk].items(), key=lambda kv: str(kv[0]))
                if amount and other in others and other != txn.pk
            ),
        )
        for txn in transactions
    ]
