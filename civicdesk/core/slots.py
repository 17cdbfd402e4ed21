"""The customer 360 page is composed of slots that each app contributes: a title, an order, a
template and a function giving the template its context (or None: nothing to show). The page
knows no app; an app registers its slots in its AppConfig.ready().

    register("registry.accounts", title=_("Accounts"), order=20,
             template="backoffice/customer360/accounts.html",
             context=lambda request, subject: {"accounts": subject.accounts},
             permission="registry.view_personalaccount")

A slot's template gets its context as `data` and the page's `subject`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

if TYPE_CHECKING:
    from civicdesk.identity.models import User
    from civicdesk.registry.models import AccountHolder, PersonalAccount


@dataclass
class Subject:
    """Whom the 360 page is about: a portal user, or the holders of an account, and the
    accounts in view (with premises, holders and services loaded)."""

    user: User | None = None
    holders: list[AccountHolder] = field(default_factory=list)
    accounts: list[PersonalAccount] = field(default_factory=list)

    @property
    def account_ids(self) -> list[int]:
        return [account.pk for account in self.accounts]

    @property
    def premises(self) -> list:
        seen: dict[int, Any] = {}
        for account in self.accounts:
            seen.setdefault(account.premises_id, account.premises)
        return list(seen.values())


ContextFunction = Callable[[HttpRequest, Subject], "dict | None"]


@dataclass(frozen=True)
class Slot:
    key: str
    title: Any
    order: int
    template: str
    context: ContextFunction
    permission: str | None = None


@dataclass(frozen=True)
class FilledSlot:
    slot: Slot
    data: dict

    @property
    def key(self) -> str:
        return self.slot.key

    @property
    def title(self):
        return self.slot.title

    @property
    def template(self) -> str:
        return self.slot.template

    @property
    def dom_id(self) -> str:
        return "slot-" + "".join(ch if ch.isalnum() else "-" for ch in self.slot.key)


_slots: dict[str, Slot] = {}


def register(
    key: str,
    *,
    title,
    order: int,
    template: str,
    context: ContextFunction,
    permission: str | None = None,
) -> Slot:
    if key in _slots:
        raise ImproperlyConfigured(f"The customer 360 slot {key!r} is already registered.")
    slot = Slot(key, title, order, template, context, permission)
    _slots[key] = slot
    return slot


def unregister(key: str) -> None:
    _slots.pop(key, None)


def registered() -> list[Slot]:
    return sorted(_slots.values(), key=lambda slot: (slot.order, slot.key))


def compose(request: HttpRequest, subject: Subject) -> list[FilledSlot]:
    """The slots this staff user may see that have something to show, in order."""
    filled = []
    for slot in registered():
        if slot.permission and not request.user.has_perm(slot.permission):
            continue
        data = slot.context(request, subject)
        if data is not None:
            filled.append(FilledSlot(slot, data))
    return filled
