"""Refunds of a resident's credit: request → approval (two approvers above the operator's
threshold) → payout; cancellable by the resident or staff before payout.

Money moves only through the ledger's services:
- request: ``refund_reserve`` sets the credit aside (debit the receivable, credit refunds
  payable) under the receivable's lock, so two requests can never take the same credit;
- reject or cancel: the reserve is reversed (``transaction_reverse``): the credit comes back,
  exactly;
- payout: debit refunds payable, credit the payouts bank clearing account; refunds payable for
  the refund is back to zero.

Each request files a case in the revenue team's queue (``casework.money_case_open``); every step
is written to that case's timeline and the resident is told after the commit (templates under
``notifications/refunds/``). A state change locks the refund row and consults ``TRANSITIONS``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicdesk.cases import services as case_services
from civicdesk.cases import workflow as case_workflow
from civicdesk.cases.models import Case, Category, Channel
from civicdesk.ledger import bankdetails, casework, postings
from civicdesk.ledger import services as ledger
from civicdesk.ledger.models import LedgerAccount, RefundApproval, RefundRequest, Transaction
from civicdesk.ledger.postings import Leg

Status = RefundRequest.Status
Decision = RefundApproval.Decision

APPROVE_PERMISSION = "ledger.approve_refundrequest"
PAY_PERMISSION = "ledger.pay_refundrequest"
PAYOUT_CLEARING_KEY = "payouts"

# The refund status machine, as data: each status lists the statuses it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.REQUESTED: frozenset({Status.APPROVED, Status.REJECTED, Status.CANCELLED}),
    Status.APPROVED: frozenset({Status.PAID, Status.CANCELLED}),
    Status.PAID: frozenset(),
    Status.REJECTED: frozenset(),
    Status.CANCELLED: frozenset(),
}
OPEN = frozenset(RefundRequest.OPEN)


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


# --- messages ---------------------------------------------------------------------------------

BANK_FIELDS = {  # bankdetails' field → the service's (and the API's and the form's) field
    "holder": "holder",
    "iban": "iban",
    "account_number": "bank_account_number",
    "branch_code": "branch_code",
    "bank_name": "bank_name",
    "jurisdiction": "jurisdiction",
}

BANK_MESSAGES = {
    ("required", "holder"): gettext_lazy("Give the name of the account holder."),
    ("required", "iban"): gettext_lazy("Give the IBAN of the account to pay into."),
    ("required", "account_number"): gettext_lazy("Give the bank account number."),
    ("required", "branch_code", "ZA"): gettext_lazy("Give the bank's branch code."),
    ("required", "branch_code", "RU"): gettext_lazy("Give the bank's BIK."),
    ("too_long",): gettext_lazy("This is too long: at most %(max)s characters."),
    ("invalid_characters",): gettext_lazy("This contains characters that cannot be used."),
    ("digits_only",): gettext_lazy("Use digits only."),
    ("length",): gettext_lazy("Give %(min)s to %(max)s digits."),
    ("exact_length", "iban"): gettext_lazy("A Ukrainian IBAN has %(max)s characters."),
    ("exact_length", "branch_code", "ZA"): gettext_lazy("A branch code has %(max)s digits."),
    ("exact_length", "branch_code", "RU"): gettext_lazy("A BIK has %(max)s digits."),
    ("exact_length",): gettext_lazy("Give exactly %(max)s digits."),
    ("iban_country", "iban"): gettext_lazy("Give a Ukrainian IBAN: it starts with UA."),
    ("iban_format", "iban"): gettext_lazy(
        "This is not a Ukrainian IBAN: UA, 2 check digits, the bank's 6-digit code and a "
        "19-character account."
    ),
    ("checksum", "iban"): gettext_lazy(
        "The IBAN's check digits do not match: please look for a typing mistake."
    ),
    ("not_used", "iban", "ZA"): gettext_lazy(
        "IBANs are not used in South Africa: give the account number and branch code."
    ),
    ("not_used", "iban", "RU"): gettext_lazy(
        "Give the account number and the BIK instead of an IBAN."
    ),
    ("not_used",): gettext_lazy("Give only the IBAN: it already holds the account and bank."),
    ("bik_country", "branch_code"): gettext_lazy("A Russian bank's BIK starts with 04."),
    ("control_key", "account_number"): gettext_lazy(
        "The account number does not match the BIK (its control key is wrong): please check both."
    ),
    ("jurisdiction",): gettext_lazy("Refunds cannot be paid out in this jurisdiction."),
}


def bank_error_message(error: bankdetails.BankDetailsError, jurisdiction: str) -> str:
    """The translated message for a bankdetails error in ``jurisdiction``."""
    for key in (
        (error.code, error.field, jurisdiction),
        (error.code, error.field),
        (error.code,),
    ):
        if key in BANK_MESSAGES:
            message = str(BANK_MESSAGES[key])
            return message % error.params if error.params else message
    return _("These bank details cannot be used.")


def bank_details_check(jurisdiction: str, **details) -> bankdetails.BankDetails:
    """Checked bank details for ``jurisdiction``; a ValidationError naming the field otherwise.
    Keyword names are the service's: holder, iban, bank_account_number, branch_code,
    bank_name."""
    try:
        return bankdetails.validate_bank_details(
            jurisdiction,
            holder=details.get("holder"),
            iban=details.get("iban"),
            account_number=details.get("bank_account_number"),
            branch_code=details.get("branch_code"),
            bank_name=details.get("bank_name"),
        )
    except bankdetails.BankDetailsError as exc:
        field = BANK_FIELDS.get(exc.field, exc.field)
        raise ValidationError(
            {field: ValidationError(bank_error_message(exc, jurisdiction), code=exc.code)}
        ) from exc


def _status_error(refund: RefundRequest, target: str) -> ValidationError:
    status = refund.get_status_display()
    if target in (Status.APPROVED, Status.REJECTED):
        message = _("This refund is no longer waiting for a decision (it is “%(status)s”).")
    elif target == Status.PAID:
        message = _("Only an approved refund can be paid out (this one is “%(status)s”).")
    elif refund.status == Status.PAID:
        message = _("This refund has been paid out and can no longer be cancelled.")
    else:
        message = _("This refund is already “%(status)s”.")
    return ValidationError({"status": ValidationError(message % {"status": status}, code="state")})


def _move(refund: RefundRequest, target: str) -> None:
    if not can_move(refund.status, target):
        raise _status_error(refund, target)
    refund.status = target


# --- helpers ----------------------------------------------------------------------------------


def _operator():
    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    if operator is None:
        raise ValidationError(_("Set up the operator before using the ledger."))
    return operator


def amount_display(amount_minor: int, currency: str) -> str:
    """Plain "150.00 ZAR", for the case notes kept in the timeline."""
    amount = postings.money(amount_minor, currency)
    return f"{amount} {currency}"


def _amount_minor(amount, currency: str) -> int:
    if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
        raise ValidationError({"amount": ValidationError(_("Give the amount as a number."))})
    minor = ledger.money_to_minor(amount, currency=currency, field="amount")
    if minor <= 0:
        raise ValidationError(
            {"amount": ValidationError(_("The amount must be more than zero."), code="min")}
        )
    return minor


def _locked(refund: RefundRequest) -> RefundRequest:
    return (
        RefundRequest.objects.select_for_update(of=("self",))
        .select_related("account", "requester", "case", "reserve_transaction")
        .get(pk=refund.pk)
    )


def _is_staff_with(user, permission: str) -> bool:
    return bool(user and user.is_authenticated and user.is_staff and user.has_perm(permission))


def _reference(refund_id) -> str:
    return f"refund:{refund_id}"


def _notify(refund: RefundRequest, key: str, **extra) -> None:
    """Tell the resident after the commit (robust: a mail problem never undoes the refund)."""
    user = refund.requester
    if user is None:
        return
    context = {
        "refund": refund,
        "amount": postings.money(refund.amount_minor, refund.currency),
        "currency": refund.currency,
        "account_number": refund.account.number,
        "reference": refund.case.reference if refund.case_id else "",
        **extra,
    }

    def send():
        from civicdesk.notifications.services import notify

        notify(user, f"refunds/{key}", context)

    transaction.on_commit(send, robust=True)


def _case_progress(refund: RefundRequest, actor) -> None:
    """The first decision puts a new or assigned case in progress (not public)."""
    if refund.case_id is None:
        return
    case = Case.objects.select_for_update().only("status").get(pk=refund.case_id)
    if case.status in (case_workflow.NEW, case_workflow.ASSIGNED, case_workflow.REOPENED):
        case_services.case_transition(
            case=case, target=case_workflow.IN_PROGRESS, actor=actor, public=False
        )


def _case_finish(refund: RefundRequest, *, target: str, actor, text: str) -> None:
    """Resolve (or cancel) the case with ``text`` as the public reply to the resident; when the
    case can no longer move there (closed meanwhile), the reply is added as a public note."""
    if refund.case_id is None:
        return
    case = Case.objects.select_for_update().only("status").get(pk=refund.case_id)
    if case_workflow.can_move(case.status, target):
        case_services.case_transition(case=case, target=target, actor=actor, note=text)
    else:
        case_services.case_note(case=case, actor=actor, text=text, public=True)


def _case_note(refund: RefundRequest, *, actor, text: str) -> None:
    if refund.case_id is not None:
        case_services.case_note(case=refund.case, actor=actor, text=text, public=False)


def _reserve_release(refund: RefundRequest, *, actor, reason: str) -> Transaction:
    """Reverse the reserve: the credit returns to the resident's account, exactly."""
    return ledger.transaction_reverse(
        transaction=refund.reserve_transaction, actor=actor, reason=reason
    )


# --- services ---------------------------------------------------------------------------------


@transaction.atomic
def refund_request(
    *,
    account,
    requester,
    amount: Decimal,
    holder: str,
    iban: str = "",
    bank_account_number: str = "",
    branch_code: str = "",
    bank_name: str = "",
    channel: str = Channel.PORTAL,
) -> RefundRequest:
    """A resident asks for ``amount`` of the account's credit to be paid to their bank account.
    Bank details are checked for the operator's jurisdiction and the amount for the currency
    (more than zero, no more decimals than the currency has); then, in one transaction, the
    credit is set aside (never more than is available, under the receivable's lock), a case is
    filed for the revenue team and the request stored. Above the operator's threshold it needs
    two approvers."""
    operator = _operator()
    currency = operator.currency.upper()
    errors: dict[str, list] = {}
    details = None
    try:
        amount_minor = _amount_minor(amount, currency)
    except ValidationError as exc:
        errors.update(exc.error_dict)
    try:
        details = bank_details_check(
            operator.jurisdiction,
            holder=holder,
            iban=iban,
            bank_account_number=bank_account_number,
            branch_code=branch_code,
            bank_name=bank_name,
        )
    except ValidationError as exc:
        errors.update(exc.error_dict)
    if channel not in Channel.values:
        errors["channel"] = [ValidationError(_("Unknown channel."))]
    if errors:
        raise ValidationError(errors)

    refund_id = uuid.uuid4()
    shown = amount_display(amount_minor, currency)
    reserve = ledger.refund_reserve(
        account=account,
        amount_minor=amount_minor,
        currency=currency,
        reference=_reference(refund_id),
        description=f"Refund requested by {getattr(requester, 'email', '')}"[:300],
        actor=requester,
    )
    approvals_needed = 2 if amount_minor > operator.refund_second_approval_minor else 1
    case = casework.money_case_open(
        kind=Category.Kind.REFUND,
        account=account,
        requester=requester,
        subject=_("Refund of %(amount)s from account %(number)s")
        % {"amount": shown, "number": account.number},
        description=_("Pay %(amount)s to %(holder)s, bank account %(bank)s.")
        % {"amount": shown, "holder": details.holder, "bank": details.masked()},
        channel=channel,
        actor=requester,
    )
    refund = RefundRequest.objects.create(
        id=refund_id,
        account=account,
        requester=requester,
        amount_minor=amount_minor,
        currency=currency,
        account_holder=details.holder,
        bank_name=details.bank_name,
        iban=details.iban,
        bank_account_number=details.account_number,
        branch_code=details.branch_code,
        approvals_needed=approvals_needed,
        case=case,
        reserve_transaction=reserve,
    )
    case_services.case_note(
        case=case,
        actor=requester,
        public=False,
        text=_(
            "Refund request: %(amount)s set aside from the account's credit. Approvals needed: "
            "%(needed)s."
        )
        % {"amount": shown, "needed": approvals_needed},
    )
    _notify(refund, "requested")
    return refund


@transaction.atomic
def refund_decide(
    *, refund: RefundRequest, approver, decision: str, note: str = ""
) -> RefundRequest:
    """One approver's vote. A rejection ends the request (the credit returns, the case is
    resolved with the note as the reply); enough approvals from different people — never the
    requester — approve it for payout."""
    if not _is_staff_with(approver, APPROVE_PERMISSION):
        raise PermissionDenied(_("You may not decide on refunds."))
    if decision not in Decision.values:
        raise ValidationError({"decision": _("Choose approve or reject.")})
    note = (note or "").strip()
    if len(note) > 500:
        raise ValidationError(
            {"note": _("This is too long: at most %(max)s characters.") % {"max": 500}}
        )
    if decision == Decision.REJECT and not note:
        raise ValidationError({"note": _("Say why the refund is rejected: the resident reads it.")})
    refund = _locked(refund)
    target = Status.REJECTED if decision == Decision.REJECT else Status.APPROVED
    if not can_move(refund.status, target):
        raise _status_error(refund, target)
    if refund.requester_id is not None and refund.requester_id == approver.pk:
        raise ValidationError({"approver": _("You cannot decide on a refund you asked for.")})
    if refund.approvals.filter(approver=approver).exists():
        raise ValidationError(
            {"approver": _("You have already decided on this refund: another approver must.")}
        )
    RefundApproval.objects.create(refund=refund, approver=approver, decision=decision, note=note)
    _case_progress(refund, approver)
    shown = amount_display(refund.amount_minor, refund.currency)
    now = timezone.now()

    if decision == Decision.REJECT:
        _reserve_release(refund, actor=approver, reason=f"Refund rejected: {note}"[:300])
        _move(refund, Status.REJECTED)
        refund.decided_at, refund.reason = now, note
        refund.save(update_fields=["status", "decided_at", "reason", "updated_at"])
        _case_finish(
            refund,
            target=case_workflow.RESOLVED,
            actor=approver,
            text=_(
                "Your refund of %(amount)s was not approved: %(note)s "
                "The credit stays on your account."
            )
            % {"amount": shown, "note": note},
        )
        _notify(refund, "rejected", note=note)
        return refund

    approved = refund.approvals.filter(decision=Decision.APPROVE).count()
    if approved < refund.approvals_needed:
        _case_note(
            refund,
            actor=approver,
            text=_("Approval %(count)s of %(needed)s by %(who)s; another approver is needed.")
            % {"count": approved, "needed": refund.approvals_needed, "who": approver.email}
            + (f" {note}" if note else ""),
        )
        refund.save(update_fields=["updated_at"])
        return refund
    _move(refund, Status.APPROVED)
    refund.decided_at = now
    refund.save(update_fields=["status", "decided_at", "updated_at"])
    _case_note(
        refund,
        actor=approver,
        text=_("Approved (%(count)s of %(needed)s) by %(who)s; waiting for payout.")
        % {"count": approved, "needed": refund.approvals_needed, "who": approver.email}
        + (f" {note}" if note else ""),
    )
    _notify(refund, "approved")
    return refund


@transaction.atomic
def refund_pay(*, refund: RefundRequest, actor, payout_reference: str) -> RefundRequest:
    """Record the payout of an approved refund: debit refunds payable, credit the payouts bank
    clearing account; the case is resolved with a reply to the resident."""
    if not _is_staff_with(actor, PAY_PERMISSION):
        raise PermissionDenied(_("You may not record refund payouts."))
    payout_reference = " ".join((payout_reference or "").split())
    if not payout_reference:
        raise ValidationError({"payout_reference": _("Give the reference of the bank transfer.")})
    if len(payout_reference) > 100:
        raise ValidationError(
            {"payout_reference": _("This is too long: at most %(max)s characters.") % {"max": 100}}
        )
    refund = _locked(refund)
    _move(refund, Status.PAID)
    payable = ledger.system_account(LedgerAccount.Kind.REFUNDS_PAYABLE, refund.currency)
    clearing = ledger.system_account(
        LedgerAccount.Kind.BANK_CLEARING, refund.currency, key=PAYOUT_CLEARING_KEY
    )
    payout = ledger.transaction_post(
        kind=Transaction.Kind.REFUND,
        legs=[
            Leg(payable.code, refund.amount_minor),
            Leg(clearing.code, -refund.amount_minor),
        ],
        currency=refund.currency,
        value_date=timezone.localdate(),
        reference=_reference(refund.pk),
        description=f"Refund payout {payout_reference}"[:300],
        actor=actor,
    )
    refund.payout_transaction = payout
    refund.payout_reference = payout_reference
    refund.save(update_fields=["status", "payout_transaction", "payout_reference", "updated_at"])
    shown = amount_display(refund.amount_minor, refund.currency)
    _case_finish(
        refund,
        target=case_workflow.RESOLVED,
        actor=actor,
        text=_("Your refund of %(amount)s has been paid to your bank account (reference %(ref)s).")
        % {"amount": shown, "ref": payout_reference},
    )
    _notify(refund, "paid", payout_reference=payout_reference)
    return refund


@transaction.atomic
def refund_case_cancelled(*, case, actor, note: str = "") -> RefundRequest | None:
    """The refund's case was cancelled in the CRM (by staff allowed to cancel cases): an open
    refund is withdrawn with it, so the credit set aside is never stranded. Called from the
    cases app's ``case_status_changed`` signal; does nothing for other cases or a refund that is
    already decided."""
    refund = RefundRequest.objects.filter(case=case).first()
    if refund is None:
        return None
    refund = _locked(refund)
    if refund.status not in RefundRequest.OPEN:
        return None
    reason = " ".join((note or "").split())[:500] or _("The case was cancelled.")
    _move(refund, Status.CANCELLED)
    _reserve_release(refund, actor=actor, reason=f"Refund case cancelled: {reason}"[:300])
    refund.reason = reason
    refund.decided_at = refund.decided_at or timezone.now()
    refund.save(update_fields=["status", "reason", "decided_at", "updated_at"])
    _notify(refund, "cancelled", reason=reason)
    return refund


@transaction.atomic
def refund_cancel(*, refund: RefundRequest, actor, reason: str = "") -> RefundRequest:
    """Withdraw a refund before payout: by the resident who asked for it, or by staff who may
    approve refunds (with a reason). The credit set aside returns to the account."""
    is_requester = bool(actor and refund.requester_id and actor.pk == refund.requester_id)
    if not is_requester and not _is_staff_with(actor, APPROVE_PERMISSION):
        raise PermissionDenied(_("You may not cancel this refund."))
    reason = " ".join((reason or "").split())
    if len(reason) > 500:
        raise ValidationError(
            {"reason": _("This is too long: at most %(max)s characters.") % {"max": 500}}
        )
    if not reason:
        if not is_requester:
            raise ValidationError({"reason": _("Say why the refund is cancelled.")})
        reason = _("Cancelled by the resident.")
    refund = _locked(refund)
    _move(refund, Status.CANCELLED)
    _reserve_release(refund, actor=actor, reason=f"Refund cancelled: {reason}"[:300])
    refund.reason = reason
    refund.decided_at = refund.decided_at or timezone.now()
    refund.save(update_fields=["status", "reason", "decided_at", "updated_at"])
    shown = amount_display(refund.amount_minor, refund.currency)
    _case_finish(
        refund,
        target=case_workflow.CANCELLED,
        actor=actor,
        text=_(
            "The refund of %(amount)s is cancelled: %(reason)s The credit stays on your account."
        )
        % {"amount": shown, "reason": reason},
    )
    _notify(refund, "cancelled", reason=reason)
    return refund
