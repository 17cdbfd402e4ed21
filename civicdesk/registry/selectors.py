from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404

from civicdesk.registry.models import AccountLink, LinkRequest, Operator, PersonalAccount


def operator_get() -> Operator | None:
    """The installation's operator (None before the first set-up)."""
    return Operator.objects.first()


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
