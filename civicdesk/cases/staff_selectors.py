"""Reads for the staff pages: the work queue and its counts, one case with everything on it,
the call-centre console's caller and call. Querysets are bounded and select what the pages
show; no page loops over all cases."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Case as Switch
from django.db.models import Count, Q, QuerySet, Value, When
from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from civicdesk.cases import workflow
from civicdesk.cases.models import Attachment, Call, Case, CaseEvent, Category, Team, translated
from civicdesk.cases.selectors import cases_for_staff, timeline

# --- live SLA state -------------------------------------------------------------------------

BREACHED, AT_RISK, OK = "breached", "at_risk", "ok"


def breached_q(now: dt.datetime) -> Q:
    """Open cases past their resolution due time. The sweep's state counts, and so does a due
    time already passed on a running clock (the sweep may not have run since); a paused case
    is judged by the sweep alone, because its due time moves when the clock resumes."""
    return Q(sla_state=BREACHED) | Q(resolution_due__lt=now, paused_since__isnull=True)


def live_sla(now: dt.datetime) -> Switch:
    """The SLA state of a case now, as an expression: breached, at_risk or ok."""
    return Switch(
        When(breached_q(now), then=Value(BREACHED)),
        When(sla_state=AT_RISK, then=Value(AT_RISK)),
        default=Value(OK),
    )


# --- the work queue -------------------------------------------------------------------------

QUEUES = ("mine", "team", "unassigned", "breached", "at_risk", "open")


def _queue_q(user, queue: str, now: dt.datetime) -> Q:
    if queue == "mine":
        return Q(assignee=user)
    if queue == "team":
        return Q(team__members=user)
    if queue == "unassigned":
        return Q(assignee__isnull=True)
    if queue == "breached":
        return breached_q(now)
    if queue == "at_risk":
        return Q(sla_state=AT_RISK) & ~breached_q(now)
    return Q()


def work_queue(
    user,
    *,
    queue: str = "mine",
    status: str = "",
    category: str = "",
    territory: str = "",
    now: dt.datetime | None = None,
) -> QuerySet[Case]:
    """The cases in one of the QUEUES, open ones unless a status is asked for, most urgent
    first: by resolution due time (none last), then oldest. `category` and `territory` are
    codes and take in their sub-categories and areas."""
    now = now or timezone.now()
    cases = cases_for_staff(user).filter(_queue_q(user, queue, now))
    cases = cases.filter(status=status) if status else cases.filter(status__in=workflow.OPEN)
    if category:
        cases = cases.filter(Q(category__code=category) | Q(category__parent__code=category))
    if territory:
        cases = cases.filter(Q(territory__code=territory) | Q(territory__parent__code=territory))
    if queue == "team":
        cases = cases.distinct()
    return cases.annotate(live_sla=live_sla(now)).order_by(
        "resolution_due", "created_at", "reference"
    )


def queue_counts(user, *, now: dt.datetime | None = None) -> dict[str, int]:
    """How many open cases each queue holds, in one query (two for the team queue)."""
    now = now or timezone.now()
    open_cases = cases_for_staff(user).filter(status__in=workflow.OPEN)
    counts = open_cases.aggregate(
        mine=Count("pk", filter=_queue_q(user, "mine", now)),
        unassigned=Count("pk", filter=_queue_q(user, "unassigned", now)),
        breached=Count("pk", filter=_queue_q(user, "breached", now)),
        at_risk=Count("pk", filter=_queue_q(user, "at_risk", now)),
        open=Count("pk"),
    )
    counts["team"] = open_cases.filter(team__members=user).distinct().count()
    return counts


# --- one case -------------------------------------------------------------------------------


def case_for_staff(user, reference: str) -> Case:
    """The case with this reference, if the user may see cases; Http404 otherwise."""
    case = (
        cases_for_staff(user)
        .select_related("parent", "category__parent", "territory__parent")
        .filter(reference=reference)
        .first()
    )
    if case is None:
        raise Http404
    return case


def case_by_reference(reference: str) -> Case | None:
    return Case.objects.filter(reference=(reference or "").strip().upper()).first()


@dataclass(frozen=True)
class Answer:
    label: str
    value: object


def case_answers(case: Case) -> list[Answer]:
    """The intake answers labelled with the category's questions, in the questions' order;
    answers to questions the category no longer asks come last under their key."""
    questions = {q["key"]: q for q in case.category.questions}
    answers = [
        Answer(translated(q.get("label") or {}) or key, case.answers[key])
        for key, q in questions.items()
        if key in case.answers
    ]
    answers += [Answer(key, value) for key, value in case.answers.items() if key not in questions]
    return answers


@dataclass(frozen=True)
class Concern:
    kind: str
    label: str
    url: str


_CONCERN_URLS = {
    "personalaccount": "backoffice:customer_account",
    "invoice": "backoffice:billing_invoice",
}


def case_concerns(case: Case) -> list[Concern]:
    """What the case is about (accounts, premises, …), each with a staff page where there is
    one."""
    concerns = []
    for link in case.links.select_related("content_type").order_by("pk"):
        model = link.content_type.model
        url = ""
        if model in _CONCERN_URLS:
            try:
                url = reverse(_CONCERN_URLS[model], args=[link.label])
            except NoReverseMatch:
                url = ""
        concerns.append(Concern(str(link.content_type.name), link.label, url))
    return concerns


def case_timeline(case: Case) -> QuerySet[CaseEvent]:
    """Every event, public and internal, oldest first."""
    return timeline(case, public_only=False)


def case_attachments(case: Case) -> QuerySet[Attachment]:
    return case.attachments.select_related("uploaded_by")


def attachment_of(case: Case, attachment_id) -> Attachment:
    attachment = Attachment.objects.filter(case=case, pk=attachment_id).first()
    if attachment is None:
        raise Http404
    return attachment


def teams_with_members() -> list[Team]:
    return list(Team.objects.prefetch_related("members").order_by("name"))


def categories_for_staff() -> QuerySet[Category]:
    return Category.objects.filter(active=True).select_related("parent")


# --- the console ----------------------------------------------------------------------------


def call_active(agent) -> Call | None:
    """The agent's open call, if any (there is at most one)."""
    return (
        Call.objects.filter(agent=agent, ended_at__isnull=True)
        .select_related("case", "caller")
        .order_by("-started_at")
        .first()
    )


def calls_recent(agent, *, limit: int = 10) -> QuerySet[Call]:
    return (
        Call.objects.filter(agent=agent, ended_at__isnull=False)
        .select_related("case")
        .order_by("-started_at")[:limit]
    )


def cases_for_subject(subject, *, open_only: bool = True, limit: int = 25) -> list[Case]:
    """The cases a caller raised or that concern their accounts, newest first."""
    if subject.user is None and not subject.accounts:
        return []
    query = Q()
    if subject.user is not None:
        query |= Q(requester=subject.user)
    if subject.accounts:
        query |= Q(
            links__content_type__app_label="registry",
            links__content_type__model="personalaccount",
            links__object_id__in=[str(pk) for pk in subject.account_ids],
        )
    cases = Case.objects.filter(query)
    if open_only:
        cases = cases.filter(status__in=workflow.OPEN)
    return list(
        cases.select_related("category", "team", "assignee")
        .distinct()
        .order_by("-created_at")[:limit]
    )


def territories_for_filter() -> list[tuple[str, str]]:
    from civicdesk.registry.models import Territory

    return list(Territory.objects.order_by("name").values_list("code", "name"))
