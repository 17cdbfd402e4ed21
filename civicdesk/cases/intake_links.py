"""Deep links into a category's request form, resolved by the app that owns what the request
is about. A bill's "dispute this line" link, for instance, opens the invoice-dispute form with
``?invoice=<id>&line=<position>``: billing turns that into the line shown above the form, the
answers filled in, the invoice the case concerns, and the dispute recorded with the case.

Cases knows no app (dependencies point one way): an app registers a resolver for a category
kind in its AppConfig.ready(), as it registers its customer 360 slots.

    register(Category.Kind.INVOICE_DISPUTE, dispute_intake)

A resolver gets the request and the category and returns a ``LinkedIntake``, or None when the
query string names nothing (the plain form). It raises Http404 for what the user may not see,
so another resident's invoice is not found, on the form and on its submission alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

if TYPE_CHECKING:
    from civicdesk.cases.models import Case, Category


@dataclass
class LinkedIntake:
    """What a deep link names, as the owning app resolved it."""

    template: str  # shown above the form; gets `data`
    data: dict = field(default_factory=dict)
    account: str = ""  # the account number to preselect
    subject: str = ""  # the subject to start from
    answers: dict = field(default_factory=dict)  # initial answers by question key
    concerns: list = field(default_factory=list)  # linked to the case besides the account
    # Called inside the case's transaction, once it is created: record what it is about.
    created: Callable[[Case], None] | None = None


Resolver = Callable[[HttpRequest, "Category"], "LinkedIntake | None"]

_resolvers: dict[str, Resolver] = {}


def register(kind: str, resolver: Resolver) -> None:
    if kind in _resolvers:
        raise ImproperlyConfigured(f"An intake link for {kind!r} is already registered.")
    _resolvers[kind] = resolver


def unregister(kind: str) -> None:
    _resolvers.pop(kind, None)


def resolve(request: HttpRequest, category: Category) -> LinkedIntake | None:
    resolver = _resolvers.get(category.kind)
    return resolver(request, category) if resolver is not None else None
