"""Customer 360 search: one box for account numbers, phones, e-mail addresses, names and
addresses. Exact keys (account number prefix, phone in E.164, e-mail) rank first; names and
addresses follow by trigram word similarity on PostgreSQL (the GIN indexes of migration 0002)
or by substring on SQLite. Every branch is one bounded query, whatever the number of hits."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from django.contrib.postgres.lookups import TrigramSimilar, TrigramWordSimilar
from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import connection
from django.db.models import F, Prefetch, QuerySet, Value
from django.urls import reverse
from django.utils.translation import gettext as _

from civicdesk.identity.models import User
from civicdesk.registry.models import AccountHolder, PersonalAccount
from civicdesk.registry.selectors import operator_get

MAX_QUERY_LENGTH = 200
MIN_QUERY_LENGTH = 2
_SEPARATORS = re.compile(r"[\s\-‐‑–—./()]+")

# Exact keys outrank any similarity score (which lies in 0..1).
_EXACT = 3.0
_PREFIX = 2.0
_CONTACT = 2.0


@dataclass(frozen=True)
class SearchResult:
    kind: str  # "account" | "person"
    title: str
    subtitle: str
    url: str
    matched: str  # what matched, for the reader: "Account number", "Phone", …
    score: float = 0.0


def customer_search(text: str, limit: int = 25) -> list[SearchResult]:
    """Accounts and people matching `text`, best first, at most `limit`."""
    text = " ".join((text or "").split())[:MAX_QUERY_LENGTH]
    if len(text) < MIN_QUERY_LENGTH or limit <= 0:
        return []
    results: list[SearchResult] = []
    if "@" in text:
        results += _by_email(text, limit)
    else:
        compact = _SEPARATORS.sub("", text)
        if compact.isdigit():
            results += _by_account_number(compact, limit)
        phone = _phone_e164(text)
        if phone:
            results += _by_phone(phone, limit)
        if any(ch.isalpha() for ch in text):
            results += _by_name_or_address(text, limit)
    best: dict[str, SearchResult] = {}
    for result in results:
        kept = best.get(result.url)
        if kept is None or result.score > kept.score:
            best[result.url] = result
    return sorted(best.values(), key=lambda r: (-r.score, r.title, r.subtitle))[:limit]


# --- keys -----------------------------------------------------------------------------------


def _phone_e164(text: str) -> str | None:
    if not any(ch.isdigit() for ch in text) or any(ch.isalpha() for ch in text):
        return None
    operator = operator_get()
    region = operator.jurisdiction if operator else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _by_account_number(digits: str, limit: int) -> list[SearchResult]:
    accounts = _accounts().filter(number__startswith=digits).order_by("number")[:limit]
    return [
        _account_result(
            account,
            _("Account number"),
            _EXACT if account.number == digits else _PREFIX,
        )
        for account in accounts
    ]


def _by_phone(e164: str, limit: int) -> list[SearchResult]:
    holders = _holders().filter(phone=e164)[:limit]
    users = _customers().filter(phone=e164)[:limit]
    return [_holder_result(h, _("Phone"), _CONTACT) for h in holders] + [
        _user_result(u, _("Phone"), _CONTACT) for u in users
    ]


def _by_email(text: str, limit: int) -> list[SearchResult]:
    email = text.strip()
    holders = _holders().filter(email__iexact=email)
    users = _customers().filter(email__iexact=email)
    if connection.vendor == "postgresql":
        # `email % 'x'` holds for the address itself (similarity 1; pg_trgm ignores case), so
        # it narrows to candidates through the GIN trigram index; iexact then decides.
        holders = holders.filter(TrigramSimilar(F("email"), Value(email)))
        users = users.filter(TrigramSimilar(F("email"), Value(email)))
    return [_holder_result(h, _("E-mail"), _CONTACT) for h in holders[:limit]] + [
        _user_result(u, _("E-mail"), _CONTACT) for u in users[:limit]
    ]


# --- names and addresses --------------------------------------------------------------------


def _by_name_or_address(text: str, limit: int) -> list[SearchResult]:
    holders = _ranked(_holders(), "full_name", text)[:limit]
    users = _ranked(_customers(), "full_name", text)[:limit]
    accounts = _ranked(_accounts(), "premises__building__address", text)[:limit]
    return (
        [_holder_result(h, _("Name"), h.score) for h in holders]
        + [_user_result(u, _("Name"), u.score) for u in users]
        + [_account_result(a, _("Address"), a.score) for a in accounts]
    )


def _ranked(queryset: QuerySet, field: str, text: str) -> QuerySet:
    """Rows whose `field` contains `text` as a word, roughly: trigram word similarity ranked on
    PostgreSQL (`field %> text`, indexed), a case-insensitive substring elsewhere."""
    if connection.vendor == "postgresql":
        return (
            queryset.filter(TrigramWordSimilar(F(field), Value(text)))
            .annotate(score=TrigramWordSimilarity(text, field))
            .order_by("-score", field)
        )
    return (
        queryset.filter(**{f"{field}__icontains": text}).annotate(score=Value(0.5)).order_by(field)
    )


# --- querysets and results ------------------------------------------------------------------


def _accounts() -> QuerySet[PersonalAccount]:
    return PersonalAccount.objects.select_related("premises__building").prefetch_related(
        Prefetch("holders", queryset=AccountHolder.objects.order_by("role", "full_name"))
    )


def _holders() -> QuerySet[AccountHolder]:
    return AccountHolder.objects.select_related("account__premises__building")


def _customers() -> QuerySet[User]:
    """Portal users, deactivated ones included: staff are not customers."""
    return User.objects.filter(is_staff=False)


def account_url(number: str) -> str:
    return reverse("backoffice:customer_account", args=[number])


def user_url(public_id) -> str:
    return reverse("backoffice:customer_user", args=[public_id])


def _account_result(account: PersonalAccount, matched: str, score: float) -> SearchResult:
    names = ", ".join(h.full_name for h in account.holders.all())
    subtitle = " · ".join(
        part for part in (names, account.premises.address, account.get_status_display()) if part
    )
    return SearchResult(
        "account", account.number, subtitle, account_url(account.number), matched, float(score)
    )


def _holder_result(holder: AccountHolder, matched: str, score: float) -> SearchResult:
    account = holder.account
    subtitle = " · ".join((holder.get_role_display(), account.number, account.premises.address))
    return SearchResult(
        "person", holder.full_name, subtitle, account_url(account.number), matched, float(score)
    )


def _user_result(user: User, matched: str, score: float) -> SearchResult:
    subtitle = " · ".join(part for part in (user.email, str(user.phone or "")) if part)
    return SearchResult(
        "person",
        user.full_name or user.email,
        subtitle,
        user_url(user.public_id),
        matched,
        float(score),
    )
