"""Every write to the ledger. Each service runs in one atomic block: all or nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction as db_transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicdesk.ledger import postings
from civicdesk.ledger.models import LedgerAccount, Posting, Transaction
from civicdesk.ledger.postings import Leg, PostingError
from civicdesk.registry.models import OpeningBalance, PersonalAccount, Provider

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
) -> Transaction:
    """Post one balanced transaction; refuse it whole (nothing written) on any bad leg."""
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
    Posting.objects.bulk_create(
        [
            Posting(
                transaction=txn,
                account=accounts[leg.account_code],
                amount_minor=leg.amount_minor,
                currency=currency,
            )
            for leg in legs
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
    legs = [
        Leg(code, -amount)
        for code, amount in original.postings.order_by("id").values_list(
            "account__code", "amount_minor"
        )
    ]
    return transaction_post(
        kind=Transaction.Kind.REVERSAL,
        legs=legs,
        currency=original.currency,
        value_date=value_date or timezone.localdate(),
        reference=original.reference,
        description=reason.strip()[:300],
        actor=actor,
        reverses=original,
    )


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
    """Post the registry's opening balances not yet posted; stamp them. Returns how many were
    posted; running it again posts nothing. A positive amount is owed by the resident
    (receivable debit), a negative one is credit."""
    rows = list(
        OpeningBalance.objects.select_for_update(of=("self",))
        .filter(posted_at__isnull=True)
        .select_related("account", "provider")
        .order_by("pk")
    )
    now = timezone.now()
    for row in rows:
        if row.amount_minor == 0:
            continue
        receivable = receivable_for(row.account)
        currency = row.currency.upper()
        equity = opening_equity_for(row.provider, currency)
        transaction_post(
            kind=Transaction.Kind.OPENING_BALANCE,
            legs=[Leg(receivable.code, row.amount_minor), Leg(equity.code, -row.amount_minor)],
            currency=currency,
            value_date=row.as_of,
            reference=f"opening:{row.account.number}",
            description=f"Opening balance {row.provider.code if row.provider else ''}".strip(),
            actor=actor,
        )
    if rows:
        OpeningBalance.objects.filter(pk__in=[row.pk for row in rows]).update(posted_at=now)
    return sum(1 for row in rows if row.amount_minor != 0)
