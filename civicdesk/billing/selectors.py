"""Reads of bills: who may see which invoice, and an invoice as a document shows it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet
from django.http import Http404

from civicdesk.billing import compose
from civicdesk.billing.models import BillingSettings, Invoice, InvoiceLine
from civicdesk.ledger.postings import currency_exponent
from civicdesk.registry.models import Provider, ServiceType
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
    """A resident: the invoices of their linked accounts; staff: every invoice."""
    invoices = Invoice.objects.select_related("account__premises__building")
    if user.is_staff:
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
