"""Reads of refund requests: a resident's own, and the revenue team's queues."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404

from civicdesk.ledger.models import LedgerAccount, Posting, RefundApproval, RefundRequest

Status = RefundRequest.Status


def _with_details(queryset: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
    approvals = RefundApproval.objects.select_related("approver").order_by("created_at")
    return queryset.select_related("account", "requester", "case").prefetch_related(
        Prefetch("approvals", queryset=approvals)
    )


def with_credit_now(queryset: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
    """Annotate ``balance_minor``: the account's receivable balance now (negative = credit;
    what this refund set aside is already taken off it), and ``approved_count``."""
    balance = (
        Posting.objects.filter(
            account__personal_account=OuterRef("account"),
            account__kind=LedgerAccount.Kind.RECEIVABLE,
        )
        .values("account__personal_account")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )
    return queryset.annotate(
        balance_minor=Coalesce(Subquery(balance, output_field=IntegerField()), 0),
        approved_count=Count("approvals", filter=Q(approvals__decision="approve")),
    )


def refunds_for_user(user) -> QuerySet[RefundRequest]:
    """The refunds a resident asked for, newest first."""
    if not getattr(user, "is_authenticated", False):
        return RefundRequest.objects.none()
    return _with_details(RefundRequest.objects.filter(requester=user)).order_by("-created_at")


def refund_for_user(user, refund_id) -> RefundRequest:
    """One of the resident's own refunds; 404 for anyone else's (or none)."""
    refund = refunds_for_user(user).filter(pk=refund_id).first()
    if refund is None:
        raise Http404
    return refund


def refunds_for_account(account) -> QuerySet[RefundRequest]:
    return _with_details(RefundRequest.objects.filter(account=account)).order_by("-created_at")


def refunds_all(
    *, status: str | None = None, account_number: str | None = None
) -> QuerySet[RefundRequest]:
    """Every refund (staff), newest first, optionally by status and account number."""
    queryset = RefundRequest.objects.all()
    if status:
        queryset = queryset.filter(status=status)
    if account_number:
        queryset = queryset.filter(account__number=account_number)
    return _with_details(queryset).order_by("-created_at")


def refund_get(refund_id) -> RefundRequest:
    refund = with_credit_now(_with_details(RefundRequest.objects.filter(pk=refund_id))).first()
    if refund is None:
        raise Http404
    return refund


def approval_queue() -> QuerySet[RefundRequest]:
    """Requests waiting for a decision, oldest first, with the credit available now and the
    approvals so far."""
    return with_credit_now(
        _with_details(RefundRequest.objects.filter(status=Status.REQUESTED))
    ).order_by("created_at")


def payout_queue() -> QuerySet[RefundRequest]:
    """Approved refunds waiting for their payout to be recorded, oldest decision first."""
    return with_credit_now(
        _with_details(RefundRequest.objects.filter(status=Status.APPROVED))
    ).order_by("decided_at", "created_at")


def credit_minor(refund: RefundRequest) -> int:
    """Credit available now on the refund's account, from the annotation when present."""
    balance = getattr(refund, "balance_minor", None)
    if balance is None:
        from civicdesk.ledger.services import credit_available

        return credit_available(refund.account)
    return max(0, -int(balance))
