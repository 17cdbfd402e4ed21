"""Reads of bills: who may see which invoice, and an invoice as a document shows it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.http import Http404
from django.utils.translation import gettext_lazy

from civicdesk.billing import compose
from civicdesk.billing.models import BillingSettings, Invoice, InvoiceLine, RunException
from civicdesk.ledger import selectors as ledger_selectors
from civicdesk.ledger.models import Allocation, LedgerAccount, Posting, Transaction
from civicdesk.ledger.postings import currency_exponent
from civicdesk.registry.models import PersonalAccount, Provider, ServiceType
from civicdesk.registry.selectors import accounts_for_user, operator_get

# The payment QR standard of each jurisdiction (DOMAIN.md): GOST R 56042-2014 in Russia, the
# National Bank's QR in Ukraine, a plain payment reference in South Africa.
QR_DEFAULTS = {"RU": "gost_r_56042", "UA": "nbu", "ZA": "reference"}


def billing_settings() -> BillingSettings | None:
    operator = operator_get()
    if operator is None:
        return None
    found, _created = BillingSettings.objects.get_or_create(operator=operator)
    return found


def due_days() -> int:
    operator = operator_get()
    found = billing_settings()
    if found is not None and found.due_days is not None:
        return found.due_days
    jurisdiction = operator.jurisdiction if operator else ""
    return compose.DUE_DAYS.get(jurisdiction, compose.DEFAULT_DUE_DAYS)


def qr_format() -> str:
    operator = operator_get()
    found = billing_settings()
    if found is not None and found.qr_format:
        return found.qr_format
    return QR_DEFAULTS.get(operator.jurisdiction if operator else "", "reference")


def invoices_visible_to(user) -> QuerySet[Invoice]:
    """A resident: the invoices of their linked accounts; staff who may read invoices: every
    invoice (other staff: their own accounts', as residents)."""
    invoices = Invoice.objects.select_related("account__premises__building")
    if user.is_staff and user.has_perm("billing.view_invoice"):
        return invoices
    return invoices.filter(account__in=accounts_for_user(user).values("pk"))


def invoice_for_user(user, public_id) -> Invoice:
    """One invoice by its public id; 404 for another resident's (or no such invoice)."""
    invoice = invoices_visible_to(user).filter(public_id=public_id).first()
    if invoice is None:
        raise Http404
    return invoice


@dataclass
class LineView:
    position: int
    kind: str
    service: str
    service_label: str
    quantity: Decimal | None
    unit: str
    amount: Decimal
    tax: Decimal
    explanation: str
    detail: list
    revision: int


@dataclass
class ProviderPart:
    provider: Provider
    lines: list[LineView] = field(default_factory=list)
    charges: Decimal = Decimal(0)
    adjustments: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.charges + self.adjustments


@dataclass
class InvoiceView:
    invoice: Invoice
    account_number: str
    address: str
    holder: str
    period: date
    currency: str
    parts: list[ProviderPart]
    opening: Decimal
    charges: Decimal
    payments: Decimal
    adjustments: Decimal
    closing: Decimal
    due_on: date
    issued_on: date
    payee: Provider | None

    @property
    def to_pay(self) -> Decimal:
        return max(self.closing, Decimal(0))


def invoice_view(invoice: Invoice) -> InvoiceView:
    """The invoice as a bill shows it: one part per provider with its lines and subtotal."""
    exponent = currency_exponent(invoice.currency)
    labels = dict(ServiceType.choices)
    lines = list(
        InvoiceLine.objects.filter(invoice=invoice).select_related("provider").order_by("position")
    )
    parts: dict[int, ProviderPart] = {}
    for line in lines:
        part = parts.get(line.provider_id)
        if part is None:
            part = parts[line.provider_id] = ProviderPart(provider=line.provider)
        amount = Decimal(line.amount_minor).scaleb(-exponent)
        part.lines.append(
            LineView(
                position=line.position,
                kind=line.kind,
                service=line.service,
                service_label=str(labels.get(line.service, line.service)),
                quantity=line.quantity,
                unit=line.unit,
                amount=amount,
                tax=Decimal(line.tax_minor).scaleb(-exponent),
                explanation=line.explanation,
                detail=line.detail or [],
                revision=line.revision,
            )
        )
        if line.kind == InvoiceLine.Kind.CHARGE:
            part.charges += amount
        else:
            part.adjustments += amount
    account = invoice.account
    holder = account.holders.order_by("role", "full_name").first()
    ordered = sorted(parts.values(), key=lambda p: p.provider.name)
    return InvoiceView(
        invoice=invoice,
        account_number=account.number,
        address=account.premises.address,
        holder=holder.full_name if holder else "",
        period=invoice.period,
        currency=invoice.currency,
        parts=ordered,
        opening=Decimal(invoice.opening_minor).scaleb(-exponent),
        charges=Decimal(invoice.charges_minor).scaleb(-exponent),
        payments=Decimal(invoice.payments_minor).scaleb(-exponent),
        adjustments=Decimal(invoice.adjustments_minor).scaleb(-exponent),
        closing=Decimal(invoice.closing_minor).scaleb(-exponent),
        due_on=invoice.due_on,
        issued_on=invoice.issued_on,
        payee=_payee(ordered),
    )


def _payee(parts: list[ProviderPart]) -> Provider | None:
    found = billing_settings()
    if found is not None and found.payee_id:
        return found.payee
    if not parts:
        return None
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for part in parts:
        totals[part.provider.pk] += part.total
    best = max(parts, key=lambda p: (totals[p.provider.pk], -p.provider.pk))
    return best.provider


def invoices_search(text: str) -> QuerySet[Invoice]:
    """Staff's invoice search: an invoice number (whole, any case), or an account number (its
    invoices, newest first)."""
    text = (text or "").strip()
    if not text:
        return Invoice.objects.none()
    return (
        Invoice.objects.filter(Q(number__iexact=text) | Q(account__number=text))
        .select_related("account__premises__building")
        .order_by("-period", "number")
    )


def open_exceptions(*, code: str = "", run=None) -> QuerySet[RunException]:
    """The exception queue: what runs could not bill and no later run has billed yet, newest
    first; by kind (``code``) or by run when given."""
    rows = RunException.objects.filter(resolved_at__isnull=True).select_related(
        "account__premises__building", "run"
    )
    if code:
        rows = rows.filter(code=code)
    if run is not None:
        rows = rows.filter(run=run)
    return rows.order_by("-created_at", "pk")


# --- what is left to pay of each bill, and the statement of account ------------------------


def invoices_open_minor(invoices: Sequence[Invoice]) -> dict[int, int | None]:
    """What is still unpaid of each invoice's charges, in minor units, from the ledger: the
    bill's charge and adjustment debits on the account less what payments and credits were
    set against them. 0 means paid; None means the ledger holds no charge for the bill.
    Two queries whatever the number of invoices."""
    if not invoices:
        return {}
    numbers = {invoice.number: invoice.pk for invoice in invoices}
    postings = Posting.objects.filter(
        account__kind=LedgerAccount.Kind.RECEIVABLE,
        account__personal_account_id__in={invoice.account_id for invoice in invoices},
        transaction__reference__in=list(numbers),
        transaction__kind__in=[Transaction.Kind.CHARGE, Transaction.Kind.ADJUSTMENT],
        amount_minor__gt=0,
    )
    charged = dict(
        postings.values("transaction__reference")
        .annotate(total=Sum("amount_minor"))
        .values_list("transaction__reference", "total")
    )
    paid = dict(
        Allocation.objects.filter(charge__in=postings.values("pk"))
        .values("charge__transaction__reference")
        .annotate(total=Sum("amount_minor"))
        .values_list("charge__transaction__reference", "total")
    )
    return {
        pk: (charged[number] - paid.get(number, 0)) if number in charged else None
        for number, pk in numbers.items()
    }


STATEMENT_DEFAULT_MONTHS = 36
STATEMENT_MAX_YEARS = 10
STATEMENT_ERRORS = {
    "invalid": gettext_lazy("Give a date as YYYY-MM-DD."),
    "order": gettext_lazy("The end date is before the start date."),
    "too_long": gettext_lazy("Choose a range of at most %(years)d years."),
}


class StatementRangeError(ValueError):
    """A statement's date range that cannot be shown: ``code`` (a key of STATEMENT_ERRORS)
    and the ``field`` ("from" or "to") to blame."""

    def __init__(self, code: str, field: str) -> None:
        super().__init__(f"{code} [{field}]")
        self.code = code
        self.field = field

    @property
    def message(self) -> str:
        return str(STATEMENT_ERRORS[self.code]) % {"years": STATEMENT_MAX_YEARS}


def _years_later(day: date, years: int) -> date | None:
    """The same day ``years`` later (28 February for 29 February), None past the year 9999."""
    if day.year + years > date.max.year:
        return None
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, in a year that has none
        return day.replace(year=day.year + years, day=28)


def statement_range(
    date_from: date | None, date_to: date | None, *, today: date
) -> tuple[date, date]:
    """The (from, to) of a statement, both days included. Not given: ``to`` is today and
    ``from`` the first day of the month 35 months before (36 months in all). ``from`` after
    ``to``, or a range over STATEMENT_MAX_YEARS years, raises StatementRangeError."""
    date_to = date_to or today
    if date_from is None:
        month = date_to.year * 12 + date_to.month - 1 - (STATEMENT_DEFAULT_MONTHS - 1)
        month = max(month, date.min.year * 12)  # not before the year 1
        date_from = date(month // 12, month % 12 + 1, 1)
    if date_from > date_to:
        raise StatementRangeError("order", "to")
    limit = _years_later(date_from, STATEMENT_MAX_YEARS)
    if limit is not None and date_to >= limit:
        raise StatementRangeError("too_long", "to")
    return date_from, date_to


@dataclass(frozen=True)
class StatementEntry:
    """One transaction on the account: positive amounts are charged, negative ones paid or
    credited; ``balance_minor`` is the account's balance after it."""

    transaction_id: object
    value_date: date
    kind: str
    kind_label: str
    reference: str
    description: str
    services: tuple[str, ...]
    amount_minor: int
    balance_minor: int
    exponent: int

    @property
    def amount(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-self.exponent)

    @property
    def charged(self) -> Decimal | None:
        return self.amount if self.amount_minor > 0 else None

    @property
    def credited(self) -> Decimal | None:
        return -self.amount if self.amount_minor < 0 else None

    @property
    def balance(self) -> Decimal:
        return Decimal(self.balance_minor).scaleb(-self.exponent)


@dataclass(frozen=True)
class AccountStatement:
    """The statement of account (reconciliation) over a date range: the balance before it,
    every charge, payment and adjustment in it, and the balance after it."""

    account: PersonalAccount
    currency: str
    date_from: date
    date_to: date
    opening_minor: int
    entries: list[StatementEntry]

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    @property
    def closing_minor(self) -> int:
        return self.opening_minor + sum(entry.amount_minor for entry in self.entries)

    @property
    def opening(self) -> Decimal:
        return Decimal(self.opening_minor).scaleb(-self.exponent)

    @property
    def closing(self) -> Decimal:
        return Decimal(self.closing_minor).scaleb(-self.exponent)

    @property
    def charged(self) -> Decimal:
        total = sum(e.amount_minor for e in self.entries if e.amount_minor > 0)
        return Decimal(total).scaleb(-self.exponent)

    @property
    def credited(self) -> Decimal:
        total = -sum(e.amount_minor for e in self.entries if e.amount_minor < 0)
        return Decimal(total).scaleb(-self.exponent)


def account_statement(account: PersonalAccount, date_from: date, date_to: date) -> AccountStatement:
    """The account's statement from ``date_from`` to ``date_to`` (value dates, both included),
    oldest first, in four queries whatever the length of the range."""
    receivable = ledger_selectors.receivable_of(account)
    currency = receivable.currency if receivable else ledger_selectors.operator_currency()
    if receivable is None:
        return AccountStatement(account, currency, date_from, date_to, 0, [])
    opening = (
        Posting.objects.filter(account=receivable, transaction__value_date__lt=date_from).aggregate(
            total=Sum("amount_minor")
        )["total"]
        or 0
    )
    transactions = list(
        ledger_selectors.account_transactions(
            account, date_from=date_from, date_to=date_to
        ).order_by("value_date", "booked_at", "pk")
    )
    services: dict = defaultdict(set)
    for transaction_id, service in Posting.objects.filter(
        account=receivable, transaction_id__in=[txn.pk for txn in transactions]
    ).values_list("transaction_id", "service"):
        if service:
            services[transaction_id].add(service)
    exponent = currency_exponent(currency)
    labels = dict(Transaction.Kind.choices)
    balance = int(opening)
    entries = []
    for txn in transactions:
        amount = int(txn.amount_minor or 0)
        balance += amount
        entries.append(
            StatementEntry(
                transaction_id=txn.pk,
                value_date=txn.value_date,
                kind=txn.kind,
                kind_label=str(labels.get(txn.kind, txn.kind)),
                reference=txn.reference,
                description=txn.description,
                services=tuple(sorted(services[txn.pk])),
                amount_minor=amount,
                balance_minor=balance,
                exponent=exponent,
            )
        )
    return AccountStatement(account, currency, date_from, date_to, int(opening), entries)


def last_bill_amount(account) -> Decimal | None:
    """The closing balance of the account's latest invoice (registered with the registry as
    the account's last bill amount; None before its first bill)."""
    found = (
        Invoice.objects.filter(account=account)
        .order_by("-period")
        .values_list("closing_minor", "currency")
        .first()
    )
    if found is None:
        return None
    return Decimal(found[0]).scaleb(-currency_exponent(found[1]))
