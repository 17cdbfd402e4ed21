from __future__ import annotations

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from civicdesk.core.slots import Subject
from civicdesk.registry.models import (
    AccountHolder,
    AccountLink,
    AccountService,
    LinkRequest,
    Operator,
    PersonalAccount,
)

OPERATOR_CACHE_KEY = "civicdesk:operator"
OPERATOR_CACHE_SECONDS = 60


def operator_get() -> Operator | None:
    """The installation's operator (None before the first set-up). Read on nearly every request
    and message, so it is cached; saving the operator clears the cache (other processes see a
    change within OPERATOR_CACHE_SECONDS)."""
    from django.core.cache import cache

    operator = cache.get(OPERATOR_CACHE_KEY)
    if operator is None:
        operator = Operator.objects.first()
        if operator is not None:
            cache.set(OPERATOR_CACHE_KEY, operator, OPERATOR_CACHE_SECONDS)
    return operator


def enabled_languages() -> list[tuple[str, str]]:
    operator = operator_get()
    enabled = set(operator.enabled_languages) if operator and operator.enabled_languages else None
    return [(code, name) for code, name in settings.LANGUAGES if enabled is None or code in enabled]


def accounts_for_user(user) -> QuerySet[PersonalAccount]:
    """The accounts a resident may see: those linked to them and not unlinked."""
    return (
        PersonalAccount.objects.filter(links__user=user, links__revoked_at=None)
        .select_related("premises__building__territory")
        .prefetch_related("services__provider", "holders")
        .distinct()
    )


def account_for_user(user, number: str) -> PersonalAccount:
    """One of the user's accounts by number; 404 for anyone else's (or no such account)."""
    account = accounts_for_user(user).filter(number=number).first()
    if account is None:
        raise Http404
    return account


def link_for(user, account: PersonalAccount) -> AccountLink | None:
    return AccountLink.objects.filter(user=user, account=account, revoked_at=None).first()


def link_requests_for_user(user) -> QuerySet[LinkRequest]:
    return LinkRequest.objects.filter(user=user)


def link_review_queue() -> QuerySet[LinkRequest]:
    return (
        LinkRequest.objects.filter(status=LinkRequest.Status.IN_REVIEW)
        .select_related("user", "account__premises__building")
        .order_by("created_at")
    )


def accounts_search(text: str) -> QuerySet[PersonalAccount]:
    text = (text or "").strip()
    return PersonalAccount.objects.filter(
        Q(number__startswith=text.replace(" ", ""))
        | Q(holders__full_name__icontains=text)
        | Q(premises__building__address__icontains=text)
    ).distinct()


# --- customer 360 subjects ------------------------------------------------------------------


def _accounts():
    return PersonalAccount.objects.select_related(
        "premises__building__territory__parent"
    ).prefetch_related(
        Prefetch(
            "holders",
            queryset=AccountHolder.objects.select_related("user").order_by("role", "full_name"),
        ),
        Prefetch(
            "services",
            queryset=AccountService.objects.select_related("provider").order_by(
                "service_type", "starts_on"
            ),
        ),
    )


def subject_for_account(number: str) -> Subject:
    """The account with this number and its holders; Http404 if there is none."""
    account = _accounts().filter(number=number).first()
    if account is None:
        raise Http404
    return Subject(user=None, holders=list(account.holders.all()), accounts=[account])


def subject_for_user(public_id) -> Subject:
    """A portal user (not staff), the accounts linked to them or held by them, and their
    holdings; Http404 if there is no such user."""
    from civicdesk.identity.models import User

    user = User.objects.filter(public_id=public_id, is_staff=False).first()
    if user is None:
        raise Http404
    theirs = PersonalAccount.objects.filter(
        Q(links__user=user, links__revoked_at=None) | Q(holders__user=user)
    ).values("pk")
    accounts = list(_accounts().filter(pk__in=theirs).order_by("number"))
    holders = [h for account in accounts for h in account.holders.all() if h.user_id == user.pk]
    return Subject(user=user, holders=holders, accounts=accounts)
