"""The cases app's part of the customer 360 page: the person's cases, open ones first."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


def _cases(request, subject):
    from civicdesk.cases.models import Case

    if subject.user is None and not subject.accounts:
        return None
    from django.db.models import Q

    query = Q()
    if subject.user is not None:
        query |= Q(requester=subject.user)
    if subject.accounts:
        query |= Q(
            links__content_type__model="personalaccount",
            links__object_id__in=[str(pk) for pk in subject.account_ids],
        )
    cases = list(
        Case.objects.filter(query)
        .select_related("category", "team", "assignee")
        .distinct()
        .order_by("-created_at")[:25]
    )
    return {"cases": cases}


def register() -> None:
    from civicdesk.core import slots

    slots.register(
        "cases.cases",
        title=_("Cases"),
        order=40,
        template="cases/slot_cases.html",
        context=_cases,
        permission="cases.view_case",
    )
