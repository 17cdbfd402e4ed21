from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from civicdesk.cases import workflow
from civicdesk.cases.models import Case, CaseEvent, Category

KNOWN_PROBLEM_KINDS = (
    Category.Kind.OUTAGE,
    Category.Kind.VOLTAGE,
    Category.Kind.DEFECT,
    Category.Kind.LEAK,
)


def cases_for_requester(user) -> QuerySet[Case]:
    return Case.objects.filter(requester=user).select_related("category", "territory")


def case_for_requester(user, reference: str) -> Case:
    """One of the user's own cases; anyone else's (or none) is a 404."""
    case = cases_for_requester(user).filter(reference=reference).first()
    if case is None:
        raise Http404
    return case


def cases_for_staff(user) -> QuerySet[Case]:
    if not user.has_perm("cases.view_case"):
        return Case.objects.none()
    return Case.objects.select_related("category", "territory", "team", "assignee", "requester")


def timeline(case: Case, *, public_only: bool) -> QuerySet[CaseEvent]:
    events = case.events.select_related("actor")
    return events.filter(public=True) if public_only else events


def categories_for_intake(*, public_only: bool = False) -> QuerySet[Category]:
    categories = Category.objects.filter(active=True).select_related("parent")
    return categories.filter(public=True) if public_only else categories


def known_problems(*, territory=None) -> QuerySet[Case]:
    """Open outage, voltage, defect and leak reports that are not duplicates, newest first: what
    residents see before reporting the same thing again (no personal data is shown)."""
    cases = Case.objects.filter(
        status__in=workflow.OPEN, category__kind__in=KNOWN_PROBLEM_KINDS, parent__isnull=True
    ).select_related("category", "territory")
    if territory is not None:
        cases = cases.filter(Q(territory=territory) | Q(territory__parent=territory))
    return cases.annotate(reports=Count("duplicates") + 1).order_by("-created_at")
