"""Reads of online payments: a resident's own (through their linked accounts), and all of them
for staff with filters. Another resident's payment is never found (404, not 403)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from civicdesk.ledger.models import Payment, PaymentEvent, SavedMethod
from civicdesk.ledger.payments import OPEN_STATUSES, REVIEW
from civicdesk.registry.models import PersonalAccount

# Staff reading payments (every ledger role has it).
PAYMENTS_READ_PERMISSION = "ledger.view_payment"
# Staff taking a payment for any account and asking a gateway on demand: the revenue team's
# work permission (identity.roles.LEDGER_WORK); payments have no permission of their own.
PAYMENTS_WORK_PERMISSION = "ledger.match_bankline"

REVIEW_FILTER = "review"


def can_read_all(user) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm(PAYMENTS_READ_PERMISSION))


def can_work(user) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm(PAYMENTS_WORK_PERMISSION))


def _annotated(queryset: QuerySet[Payment]) -> QuerySet[Payment]:
    review = PaymentEvent.objects.filter(payment=OuterRef("pk"), outcome=REVIEW)
    return queryset.select_related("account", "transaction").annotate(needs_review=Exists(review))


def payments_for_user(user) -> QuerySet[Payment]:
    """Payments into the accounts linked to ``user`` (whoever in the household paid)."""
    if not user.is_authenticated:
        return Payment.objects.none()
    accounts = PersonalAccount.objects.filter(links__user=user, links__revoked_at=None)
    return _annotated(Payment.objects.filter(account__in=accounts)).order_by("-created_at")


def payments_for_account(account: PersonalAccount) -> QuerySet[Payment]:
    return _annotated(Payment.objects.filter(account=account)).order_by("-created_at")


def payments_for_caller(user) -> QuerySet[Payment]:
    """Everything a caller may read: all payments for staff who read the ledger, else their
    own accounts' payments."""
    if can_read_all(user):
        return _annotated(Payment.objects.all()).order_by("-created_at")
    return payments_for_user(user)


def _get(queryset: QuerySet[Payment], payment_id) -> Payment:
    try:
        pk = uuid.UUID(str(payment_id))
    except ValueError:
        raise Http404 from None
    payment = queryset.filter(pk=pk).first()
    if payment is None:
        raise Http404
    return payment


def payment_for_user(user, payment_id) -> Payment:
    """One of the resident's payments; 404 for anyone else's (or none)."""
    return _get(payments_for_user(user), payment_id)


def payment_for_caller(user, payment_id) -> Payment:
    return _get(payments_for_caller(user), payment_id)


def payment_by_id(payment_id) -> Payment:
    """Any payment (staff pages, the gateway's return page, which shows only its status)."""
    return _get(_annotated(Payment.objects.all()), payment_id)


def payment_events(payment: Payment) -> QuerySet[PaymentEvent]:
    return payment.events.order_by("created_at", "id")


def saved_methods_for(user, gateway: str | None = None) -> QuerySet[SavedMethod]:
    if not user.is_authenticated:
        return SavedMethod.objects.none()
    methods = SavedMethod.objects.filter(user=user, revoked_at__isnull=True)
    if gateway:
        methods = methods.filter(gateway=gateway)
    return methods.order_by("-created_at")


@dataclass(frozen=True)
class PaymentFilters:
    status: str = ""  # a Payment.Status, "open" (created or pending) or "review"
    gateway: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    account: str = ""  # account number, exact


def payments_for_staff(filters: PaymentFilters | None = None) -> QuerySet[Payment]:
    """All payments, newest first, narrowed by ``filters``. Dates are the operator's local
    days of ``created_at`` (the active time zone)."""
    filters = filters or PaymentFilters()
    payments = _annotated(Payment.objects.all())
    if filters.status == REVIEW_FILTER:
        payments = payments.filter(needs_review=True)
    elif filters.status == "open":
        payments = payments.filter(status__in=OPEN_STATUSES)
    elif filters.status:
        payments = payments.filter(status=filters.status)
    if filters.gateway:
        payments = payments.filter(gateway=filters.gateway)
    if filters.date_from:
        payments = payments.filter(created_at__date__gte=filters.date_from)
    if filters.date_to:
        payments = payments.filter(created_at__date__lte=filters.date_to)
    if filters.account:
        payments = payments.filter(account__number=filters.account.strip())
    return payments.order_by("-created_at")


def gateway_names_used() -> list[str]:
    return list(Payment.objects.order_by("gateway").values_list("gateway", flat=True).distinct())
