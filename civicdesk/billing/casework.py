"""Billing's bridge to the CRM: invoice disputes.

A resident disputes one or more lines of their bill from the bill itself: its "dispute this
line" link opens the request form of the invoice-dispute category with
``?category=invoice-dispute&invoice=<public id>&line=<position>`` (``dispute_intake`` resolves
it through ``cases.intake_links``; another resident's invoice is not found). The case is filed
by the CRM as any other (routing, SLA, timeline); it concerns the invoice, and an
``InvoiceDispute`` records which lines and what amount the resident claims.

Staff resolve it with ``dispute_resolve``: with an amount, an adjustment line is added to the
invoice (kind "dispute", the next position, the invoice's next revision) with its ledger
transaction (a credit debits the provider's payable and credits the receivable; an extra
charge is posted by the ledger's ``charge_post``), the invoice's adjustments and closing
balance move by the amount, the case is resolved and an audit row written — all in one
database transaction. Without an amount the dispute is resolved with no adjustment (the bill
was right). Resolving, closing or cancelling the case from the case page closes the dispute
the same way (``case_status_changed``); reopening it opens the dispute again.

Cases are written only through ``civicdesk.cases.services``; ledger postings only through
``civicdesk.ledger.services``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicdesk.billing.models import Invoice, InvoiceDispute, InvoiceLine
from civicdesk.billing.selectors import invoice_for_user
from civicdesk.cases import intake_links, workflow
from civicdesk.cases import services as case_services
from civicdesk.cases.models import Case, Category
from civicdesk.core.audit import audit_record
from civicdesk.ledger.models import Transaction
from civicdesk.ledger.postings import Leg, PostingError, currency_exponent, to_minor
from civicdesk.registry.models import ServiceType

DISPUTE_CATEGORY_CODE = "invoice-dispute"
DISPUTE_CATEGORY_NAMES = {
    "en": "Dispute a charge",
    "af": "Betwis 'n heffing",
    "uk": "Оскаржити нарахування",
    "ru": "Оспорить начисление",
}
# The marker an adjustment line of a dispute carries in its ``detail`` (as a true-up carries
# ["true_up", quantity]): ["dispute", case reference].
DISPUTE_DETAIL = "dispute"


# --- the rules (plain values in, plain values out) -----------------------------------------


class AdjustmentRefused(Exception):
    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def adjustment_amount(amount: Decimal, *, credit: bool, exponent: int, disputed_minor: int) -> int:
    """The signed adjustment in minor units for ``amount`` (a positive Decimal as staff type
    it): negative for a credit, positive for an extra charge. Exact: an amount with more
    decimals than the currency is refused, never rounded. A credit may not exceed what the
    disputed lines charged (``disputed_minor``); an extra charge has no such bound.

    Refusal codes: not_a_number, not_positive, too_many_decimals, exceeds_disputed."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise AdjustmentRefused("not_a_number")
    if amount <= 0:
        raise AdjustmentRefused("not_positive")
    try:
        minor = to_minor(amount, exponent)
    except PostingError as exc:
        raise AdjustmentRefused("too_many_decimals", places=exponent) from exc
    if credit:
        if minor > max(disputed_minor, 0):
            raise AdjustmentRefused("exceeds_disputed", disputed_minor=max(disputed_minor, 0))
        return -minor
    return minor


def adjustment_tax(amount_minor: int, line_amount_minor: int, line_tax_minor: int) -> int:
    """The tax within an adjustment of ``amount_minor`` to a line: the line's own share of tax
    (tax / amount), rounded half up to the minor unit (away from zero on a half, for credits
    as for charges). Zero when the line charged nothing."""
    if not line_amount_minor or not line_tax_minor:
        return 0
    share = Decimal(amount_minor) * Decimal(line_tax_minor) / Decimal(line_amount_minor)
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def claimed_minor(answer: object, exponent: int) -> int | None:
    """The amount a resident claims, from their answer (a decimal string), in minor units,
    rounded half up to the currency's minor unit (a claim is informative, not posted); None
    when there is no usable answer."""
    if answer in (None, ""):
        return None
    try:
        value = Decimal(str(answer))
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite():
        return None
    quantum = Decimal(1).scaleb(-exponent)
    return int(value.quantize(quantum, rounding=ROUND_HALF_UP).scaleb(exponent))


REFUSALS = {
    "not_a_number": gettext_lazy("Give the amount as a number, e.g. 125.50."),
    "not_positive": gettext_lazy("The amount must be more than zero."),
    "too_many_decimals": gettext_lazy("The amount has more than %(places)s decimal places."),
    "exceeds_disputed": gettext_lazy(
        "A credit cannot be more than the disputed lines charged (%(disputed)s)."
    ),
}


# --- the category and the resident's form ---------------------------------------------------


def dispute_category() -> Category:
    """The operator's invoice-dispute category (any active one of that kind; the demo ships
    "invoice-dispute" routed to the revenue team), else a plain one created on first use."""
    category = (
        Category.objects.filter(kind=Category.Kind.INVOICE_DISPUTE, active=True)
        .order_by("order", "pk")
        .first()
    )
    if category is not None:
        return category
    category, _created = Category.objects.get_or_create(
        code=DISPUTE_CATEGORY_CODE,
        defaults={"kind": Category.Kind.INVOICE_DISPUTE, "names": DISPUTE_CATEGORY_NAMES},
    )
    return category


@dataclass(frozen=True)
class DisputedLine:
    position: int
    kind: str
    service: str
    service_label: str
    provider: str
    quantity: Decimal | None
    unit: str
    amount_minor: int
    explanation: str


def _positions(values: list[str]) -> list[int]:
    """Line positions from the query string; anything but a small positive number is 404."""
    positions = []
    for value in values:
        if not value.isdigit() or not 0 < int(value) < 32768:
            raise Http404
        positions.append(int(value))
    return sorted(set(positions))


def disputed_lines(invoice: Invoice, positions: list[int]) -> list[DisputedLine]:
    """The invoice's lines at ``positions`` (every line when none are given); a position the
    invoice does not have is 404."""
    lines = InvoiceLine.objects.filter(invoice=invoice).select_related("provider")
    if positions:
        lines = lines.filter(position__in=positions)
    labels = dict(ServiceType.choices)
    found = [
        DisputedLine(
            position=line.position,
            kind=line.kind,
            service=line.service,
            service_label=str(labels.get(line.service, line.service)),
            provider=line.provider.name,
            quantity=line.quantity,
            unit=line.unit,
            amount_minor=line.amount_minor,
            explanation=line.explanation,
        )
        for line in lines.order_by("position")
    ]
    if not found or (positions and len(found) != len(positions)):
        raise Http404
    return found


def dispute_intake(request: HttpRequest, category: Category) -> intake_links.LinkedIntake | None:
    """The request form opened from a bill: ``?invoice=<public id>&line=<position>`` (``line``
    may repeat; none: the whole bill). Only the resident's own invoice; anything else is 404,
    on the form and on its submission."""
    public_id = request.GET.get("invoice")
    if not public_id:
        return None
    invoice = invoice_for_user(request.user, _uuid_or_404(public_id))
    lines = disputed_lines(invoice, _positions(request.GET.getlist("line")))
    total = sum(line.amount_minor for line in lines)
    exponent = currency_exponent(invoice.currency)
    keys = {question.get("key") for question in category.questions or []}
    answers = {}
    if "period" in keys:
        answers["period"] = f"{invoice.period:%Y-%m}"
    if "amount" in keys and total > 0:
        answers["amount"] = format(Decimal(total).scaleb(-exponent), "f")
    if len(lines) == 1:
        subject = _("Bill %(number)s: %(service)s") % {
            "number": invoice.number,
            "service": lines[0].service_label,
        }
    else:
        subject = _("Bill %(number)s") % {"number": invoice.number}
    positions = [line.position for line in lines]

    def created(case: Case) -> None:
        dispute_record(
            case=case,
            invoice=invoice,
            positions=positions,
            amount_claimed_minor=claimed_minor(case.answers.get("amount"), exponent),
        )

    return intake_links.LinkedIntake(
        template="billing/dispute_intake.html",
        data={"invoice": invoice, "lines": lines, "total_minor": total},
        account=invoice.account.number,
        answers=answers,
        subject=subject,
        concerns=[invoice, invoice.account],  # the bill, and the account it is for
        created=created,
    )


def _uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise Http404 from exc


def dispute_record(
    *, case: Case, invoice: Invoice, positions: list[int], amount_claimed_minor: int | None = None
) -> InvoiceDispute:
    """What a dispute case is about: the invoice and its lines. Called in the case's
    transaction."""
    return InvoiceDispute.objects.create(
        case=case,
        invoice=invoice,
        lines=list(positions),
        amount_claimed_minor=amount_claimed_minor,
    )


# --- resolving ------------------------------------------------------------------------------


@transaction.atomic
def dispute_resolve(
    *,
    dispute: InvoiceDispute,
    amount: Decimal | None,
    credit: bool = True,
    position: int | None = None,
    actor,
    note: str = "",
) -> InvoiceDispute:
    """Resolve the dispute; with an ``amount``, post it as an adjustment of the line at
    ``position`` (one of the disputed lines; the first by default): a credit (``credit``,
    the usual outcome) or an extra charge. All or nothing; a refusal is a ValidationError
    naming the field (amount, line) and nothing is written."""
    dispute = (
        InvoiceDispute.objects.select_for_update()
        .select_related("case", "invoice__account")
        .get(pk=dispute.pk)
    )
    case = dispute.case
    if dispute.resolved_at is not None or case.status not in workflow.OPEN:
        raise ValidationError(_("This dispute is already resolved."))
    invoice = Invoice.objects.select_for_update().get(pk=dispute.invoice_id)
    lines = {line.position: line for line in InvoiceLine.objects.filter(invoice=invoice)}
    disputed = [p for p in (dispute.lines or sorted(lines)) if p in lines]
    if position is None:
        position = disputed[0] if disputed else None
    if position not in disputed:
        raise ValidationError({"line": _("Choose one of the disputed lines.")})
    now = timezone.now()
    adjustment = None
    if amount is not None:
        # A dispute reopened after a credit may be credited again, up to what is left.
        earlier = dispute.adjustment_minor or 0
        try:
            adjustment = adjustment_amount(
                amount,
                credit=credit,
                exponent=currency_exponent(invoice.currency),
                disputed_minor=sum(lines[p].amount_minor for p in disputed) + min(earlier, 0),
            )
        except AdjustmentRefused as exc:
            raise ValidationError({"amount": _refusal(exc, invoice.currency)}) from exc
        _adjust(invoice, lines, lines[position], adjustment, case, actor, now)
        dispute.adjustment_minor = earlier + adjustment
    dispute.resolved_at = now
    dispute.save(update_fields=["adjustment_minor", "resolved_at"])
    case_services.case_transition(
        case=case,
        target=workflow.RESOLVED,
        actor=actor,
        note=_resolution_note(case, invoice, adjustment, note),
        public=True,
    )
    audit_record(
        "billing.dispute_resolved",
        actor=actor,
        case=case.reference,
        invoice=invoice.number,
        line=position,
        adjustment_minor=adjustment,
    )
    return dispute


def _refusal(exc: AdjustmentRefused, currency: str) -> str:
    from civicdesk.ledger.templatetags.ledger import minor_money

    params = dict(exc.params)
    if "disputed_minor" in params:
        params["disputed"] = minor_money(params.pop("disputed_minor"), currency)
    return str(REFUSALS[exc.code]) % params if params else str(REFUSALS[exc.code])


def _adjust(invoice, lines, target, adjustment, case, actor, now) -> None:
    """The adjustment line, its ledger transaction and the invoice's new totals."""
    transaction_id = _post(invoice, target, adjustment, case, actor, now)
    language = case.contact_language or None
    with translation.override(language):
        explanation = _("Dispute %(reference)s resolved") % {"reference": case.reference}
    InvoiceLine.objects.create(
        invoice=invoice,
        position=max(lines) + 1,
        kind=InvoiceLine.Kind.DISPUTE,
        service=target.service,
        provider_id=target.provider_id,
        amount_minor=adjustment,
        tax_minor=adjustment_tax(adjustment, target.amount_minor, target.tax_minor),
        explanation=explanation,
        detail=[[DISPUTE_DETAIL, case.reference]],
        revision=invoice.revision + 1,
        transaction_id=transaction_id,
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        adjustments_minor=F("adjustments_minor") + adjustment,
        closing_minor=F("closing_minor") + adjustment,
        revision=F("revision") + 1,
        updated_at=now,
    )


def _post(invoice, target, adjustment, case, actor, now):
    """Post the adjustment to the ledger: an extra charge as any charge (receivable debited,
    the provider's payable credited); a credit the other way round. Either way the account's
    open items are allocated again."""
    from civicdesk.ledger import services as ledger

    account = invoice.account
    provider = target.provider
    description = _("Dispute %(reference)s") % {"reference": case.reference}
    value_date = timezone.localdate(now)
    if adjustment > 0:
        txn = ledger.charge_post(
            account=account,
            lines=[ledger.ChargeLine(adjustment, target.service, provider)],
            currency=invoice.currency,
            value_date=value_date,
            reference=invoice.number,
            description=description,
            actor=actor,
            kind=Transaction.Kind.ADJUSTMENT,
        )
        return txn.pk
    receivable = ledger.receivable_lock(account)
    payable = ledger.provider_payable(provider, invoice.currency)
    txn = ledger.transaction_post(
        kind=Transaction.Kind.ADJUSTMENT,
        legs=[Leg(payable.code, -adjustment), Leg(receivable.code, adjustment)],
        currency=invoice.currency,
        value_date=value_date,
        reference=invoice.number,
        description=description,
        actor=actor,
        dimensions=[(target.service, provider), (target.service, provider)],
    )
    ledger.account_allocate(account, actor=actor)
    return txn.pk


def _resolution_note(case: Case, invoice: Invoice, adjustment: int | None, note: str) -> str:
    """What the resident reads, in their language: the outcome, then staff's own words."""
    from civicdesk.ledger.templatetags.ledger import minor_money

    with translation.override(case.contact_language or None):
        if adjustment is None:
            outcome = _("Your bill %(number)s stays as it is.") % {"number": invoice.number}
        elif adjustment < 0:
            outcome = _("Your bill %(number)s is credited with %(amount)s.") % {
                "number": invoice.number,
                "amount": minor_money(-adjustment, invoice.currency),
            }
        else:
            outcome = _("Your bill %(number)s is increased by %(amount)s.") % {
                "number": invoice.number,
                "amount": minor_money(adjustment, invoice.currency),
            }
    note = (note or "").strip()
    return f"{outcome}\n\n{note}" if note else outcome


# --- following the case ---------------------------------------------------------------------


def _case_status_changed(sender, *, case, target, **kwargs) -> None:
    """The case closed from the case page closes its dispute (no adjustment); reopened, the
    dispute is open again (an adjustment already posted stays)."""
    disputes = InvoiceDispute.objects.filter(case=case)
    if target in (workflow.RESOLVED, workflow.CLOSED, workflow.CANCELLED):
        disputes.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())
    elif target == workflow.REOPENED:
        disputes.update(resolved_at=None)


def register() -> None:
    from civicdesk.cases.signals import case_status_changed

    intake_links.register(Category.Kind.INVOICE_DISPUTE, dispute_intake)
    case_status_changed.connect(_case_status_changed, dispatch_uid="billing.invoice_dispute")
