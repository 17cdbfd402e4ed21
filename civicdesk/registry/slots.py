"""The registry's part of the customer 360 page: the person, accounts, premises, portal links
and the history of these records. Registered from RegistryConfig.ready()."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Q, Subquery
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from civicdesk.registry.models import (
    AccountHolder,
    AccountLink,
    AccountService,
    Building,
    LinkRequest,
    PersonalAccount,
    Premises,
)

HISTORY_LIMIT = 50


# --- slots ----------------------------------------------------------------------------------


def person_context(request, subject) -> dict | None:
    if subject.user is None and not subject.holders:
        return None
    return {"user": subject.user, "holders": subject.holders}


def accounts_context(request, subject) -> dict | None:
    if not subject.accounts:
        return None
    return {"accounts": subject.accounts, "many": subject.user is not None}


def premises_context(request, subject) -> dict | None:
    premises = subject.premises
    if not premises:
        return None
    return {"premises": premises}


def links_context(request, subject) -> dict | None:
    ids = subject.account_ids
    if not ids and subject.user is None:
        return None
    links = (
        AccountLink.objects.filter(account_id__in=ids, revoked_at=None)
        .select_related("user", "account")
        .order_by("account__number", "created_at")
    )
    requests = Q(account_id__in=ids)
    if subject.user is not None:
        requests |= Q(user=subject.user)
    pending = (
        LinkRequest.objects.filter(
            requests, status__in=[LinkRequest.Status.PENDING, LinkRequest.Status.IN_REVIEW]
        )
        .select_related("user")
        .order_by("-created_at")[:HISTORY_LIMIT]
    )
    return {
        "links": list(links),
        "pending": list(pending),
        "can_review": request.user.has_perm("registry.review_linkrequest"),
    }


def history_context(request, subject) -> dict | None:
    if not subject.accounts:
        return None
    return {"entries": history_entries(subject, limit=HISTORY_LIMIT)}


# --- history --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: Any
    before: str
    after: str


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    who: str
    record: Any  # the kind of record, translated
    label: str
    action: str  # "+" created, "~" changed, "-" deleted
    action_display: Any
    reason: str
    changes: tuple[Change, ...]


_ACTIONS = {"+": _("created"), "~": _("changed"), "-": _("deleted")}


def history_entries(subject, *, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
    """The newest `limit` changes to the subject's accounts, premises (and their buildings),
    holders and services: who, when and each field before and after. Two queries per kind of
    record, however many accounts and changes there are."""
    account_ids = subject.account_ids
    premises = {p.pk: p for p in subject.premises}
    buildings = {p.building_id for p in premises.values()}
    names = _related_names(subject)
    sources = (
        (PersonalAccount, Q(id__in=account_ids), lambda r: r.number),
        (Premises, Q(id__in=list(premises)), lambda r: _premises_label(r, premises)),
        (Building, Q(id__in=list(buildings)), lambda r: r.address),
        (AccountHolder, Q(account_id__in=account_ids), lambda r: r.full_name),
        (AccountService, Q(account_id__in=account_ids), _service_label),
    )
    entries = []
    for model, where, label in sources:
        for record, previous in _records(model, where, limit):
            entries.append(
                HistoryEntry(
                    when=record.history_date,
                    who=record.history_user.email if record.history_user else "",
                    record=model._meta.verbose_name,
                    label=label(record),
                    action=record.history_type,
                    action_display=_ACTIONS.get(record.history_type, record.history_type),
                    reason=record.history_change_reason or "",
                    changes=_changes(record, previous, names),
                )
            )
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:limit]


def _records(model, where: Q, limit: int) -> list[tuple[Any, Any]]:
    """(record, the record before it or None), newest first: one query for the records with
    the id of their predecessor, one for the predecessors."""
    historical = model.history.model
    before = historical.objects.filter(id=OuterRef("id")).filter(
        Q(history_date__lt=OuterRef("history_date"))
        | Q(history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id"))
    )
    records = list(
        historical.objects.filter(where)
        .select_related("history_user")
        .annotate(
            previous_id=Subquery(
                before.order_by("-history_date", "-history_id").values("history_id")[:1]
            )
        )
        .order_by("-history_date", "-history_id")[:limit]
    )
    wanted = [r.previous_id for r in records if r.previous_id]
    previous = historical.objects.in_bulk(wanted) if wanted else {}
    return [(record, previous.get(record.previous_id)) for record in records]


def _changes(record, previous, names: dict) -> tuple[Change, ...]:
    if previous is None or record.history_type != "~":
        return ()
    delta = record.diff_against(previous)
    changes = []
    for change in delta.changes:
        field = record._meta.get_field(change.field)
        changes.append(
            Change(
                field=field.verbose_name,
                before=_display(field, change.old, names),
                after=_display(field, change.new, names),
            )
        )
    return tuple(changes)


def _display(field, value, names: dict) -> str:
    if value is None or value == "":
        return "—"
    if field.is_relation:
        model = field.related_model._meta.label_lower
        return names.get((model, value), f"#{value}")
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    return str(formats.localize(value))


def _related_names(subject) -> dict:
    """Names for foreign keys in the diffs, from what the subject has loaded already."""
    names: dict[tuple[str, Any], str] = {}
    for account in subject.accounts:
        names[("registry.personalaccount", account.pk)] = account.number
        names[("registry.premises", account.premises_id)] = account.premises.address
        names[("registry.building", account.premises.building_id)] = (
            account.premises.building.address
        )
        for holder in account.holders.all():
            if holder.user is not None:
                names[(holder.user._meta.label_lower, holder.user_id)] = holder.user.email
        for service in account.services.all():
            names[("registry.provider", service.provider_id)] = service.provider.name
    return names


def _premises_label(record, premises: dict) -> str:
    current = premises.get(record.id)
    return current.address if current is not None else record.number


def _service_label(record) -> str:
    return str(record.get_service_type_display())


# (key, title, order, template, context, permission): the registry's part of the 360 page.
SLOTS = (
    ("registry.person", _("Person"), 10, "person", person_context, "view_accountholder"),
    ("registry.accounts", _("Accounts"), 20, "accounts", accounts_context, "view_personalaccount"),
    ("registry.premises", _("Premises"), 30, "premises", premises_context, "view_premises"),
    ("registry.links", _("Portal access"), 40, "links", links_context, "view_accountlink"),
    (
        "registry.history",
        _("History of changes"),
        900,
        "history",
        history_context,
        "view_personalaccount",
    ),
)


def register_slots() -> None:
    from civicdesk.core import slots

    for key, title, order, template, context, permission in SLOTS:
        slots.register(
            key,
            title=title,
            order=order,
            template=f"backoffice/customer360/{template}.html",
            context=context,
            permission=f"registry.{permission}",
        )
