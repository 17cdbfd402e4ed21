"""Every write to cases. A state change locks the case row, checks the transition table
(workflow.TRANSITIONS), writes its event in the same transaction and notifies the requester
after commit (public events only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicdesk.cases import routing, signals, sla_policy, workflow
from civicdesk.cases.intake import clean_answers
from civicdesk.cases.models import (
    Attachment,
    Case,
    CaseEvent,
    CaseLink,
    Category,
    Channel,
    Priority,
    ReferenceCounter,
    RoutingRule,
    Status,
    Team,
)
from civicdesk.core.uploads import UploadRejected, check_upload

ATTACHMENT_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/gif", "image/webp"}
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
Kind = CaseEvent.Kind

INTAKE_ERRORS = {
    "required": gettext_lazy("This question needs an answer."),
    "not_a_number": gettext_lazy("Give a number."),
    "not_a_date": gettext_lazy("Give a date as YYYY-MM-DD."),
    "not_a_choice": gettext_lazy("Choose one of the options."),
    "not_yes_no": gettext_lazy("Answer yes or no."),
    "too_long": gettext_lazy("This answer is too long."),
    "unknown": gettext_lazy("This category has no such question."),
}


# --- references -----------------------------------------------------------------------------


@transaction.atomic
def references_allocate(year: int, count: int = 1) -> list[str]:
    """`count` consecutive references C-<year>-NNNNNN, under a row lock on the year's counter."""
    ReferenceCounter.objects.get_or_create(year=year)
    counter = ReferenceCounter.objects.select_for_update().get(year=year)
    start = counter.next
    ReferenceCounter.objects.filter(year=year).update(next=F("next") + count)
    return [f"C-{year}-{n:06d}" for n in range(start, start + count)]


# --- creating cases -------------------------------------------------------------------------


@dataclass
class Intake:
    category: Category
    channel: str
    subject: str
    description: str = ""
    requester: object | None = None
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    contact_language: str = ""
    answers: dict = field(default_factory=dict)
    priority: str = ""
    territory: object | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    address: str = ""
    concerns: list = field(default_factory=list)  # model instances: account, premises, …
    actor: object | None = None


def _validate(intake: Intake) -> dict:
    errors: dict[str, list[str]] = {}
    if not intake.category.active:
        errors["category"] = [_("This category is closed for new requests.")]
    if intake.channel not in Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    if not (intake.subject or "").strip():
        errors["subject"] = [_("Say briefly what it is about.")]
    if intake.priority and intake.priority not in Priority.values:
        errors["priority"] = [_("Unknown priority.")]
    if intake.requester is None and not (intake.contact_email or intake.contact_phone):
        errors["contact_email"] = [_("Give an e-mail address or a phone number to answer.")]
    if intake.category.requires_location and not (
        intake.territory
        or intake.address
        or (intake.latitude is not None and intake.longitude is not None)
        or intake.concerns
    ):
        errors["address"] = [_("Say where: an address or a point on the map.")]
    answers, answer_errors = clean_answers(intake.category.questions, intake.answers)
    for key, code in answer_errors.items():
        errors[f"answers.{key}"] = [INTAKE_ERRORS[code]]
    if errors:
        raise ValidationError(errors)
    return answers


def _territory_for(intake: Intake):
    if intake.territory is not None:
        return intake.territory
    for target in intake.concerns:
        building = getattr(getattr(target, "premises", target), "building", None)
        if building is not None:
            return building.territory
    if (intake.latitude is not None and intake.longitude is not None) or intake.address:
        from civicdesk.registry.territories import territory_locate

        return territory_locate(
            lon=float(intake.longitude) if intake.longitude is not None else None,
            lat=float(intake.latitude) if intake.latitude is not None else None,
            address=intake.address,
        )
    return None


@dataclass
class RoutingContext:
    """Everything routing needs, loaded once: rules, category and territory ancestry, teams."""

    rules: list[routing.Rule]
    category_parents: dict[int, int | None]
    territory_parents: dict[int, int | None]
    teams: dict[int, Team]
    members: dict[int, list[int]]
    open_counts: dict[int, int]  # open cases per member, counted per team when first needed
    counted_teams: set = field(default_factory=set)

    @classmethod
    def load(cls) -> RoutingContext:
        from civicdesk.registry.models import Territory

        rules = [
            routing.Rule(
                id=r.id,
                order=r.order,
                category_id=r.category_id,
                territory_id=r.territory_id,
                channel=r.channel,
                priority=r.priority,
                team_id=r.team_id,
                assignee_id=r.assignee_id,
            )
            for r in RoutingRule.objects.filter(active=True)
        ]
        teams = {t.pk: t for t in Team.objects.all()}
        members: dict[int, list[int]] = {}
        for team_id, user_id in Team.members.through.objects.filter(
            user__is_active=True
        ).values_list("team_id", "user_id"):
            members.setdefault(team_id, []).append(user_id)
        return cls(
            rules=rules,
            category_parents=dict(Category.objects.values_list("pk", "parent_id")),
            territory_parents=dict(Territory.objects.values_list("pk", "parent_id")),
            teams=teams,
            members=members,
            open_counts={},
        )

    def _count_open(self, team_id: int) -> None:
        members = self.members.get(team_id, [])
        self.open_counts.update(
            Case.objects.filter(status__in=workflow.OPEN, assignee__in=members)
            .values("assignee")
            .annotate(n=Count("pk"))
            .values_list("assignee", "n")
        )
        self.counted_teams.add(team_id)

    @staticmethod
    def _path(parents: dict[int, int | None], start: int | None) -> list[int]:
        path, seen = [], set()
        while start is not None and start not in seen:
            path.append(start)
            seen.add(start)
            start = parents.get(start)
        return path

    def decide(self, *, category_id, territory_id, channel, priority):
        """(team, assignee id) for these facts; the team's pointer moves for round robin."""
        rule = routing.route(
            self.rules,
            routing.Facts(
                category_path=self._path(self.category_parents, category_id),
                territory_path=self._path(self.territory_parents, territory_id),
                channel=channel,
                priority=priority,
            ),
        )
        if rule is None:
            return None, None, None
        team = self.teams[rule.team_id]
        if team.strategy == Team.Strategy.LEAST_LOADED and team.pk not in self.counted_teams:
            self._count_open(team.pk)
        assignee = rule.assignee_id or routing.pick_member(
            self.members.get(team.pk, []),
            team.strategy,
            last_assigned=team.last_assigned_id,
            open_counts=self.open_counts,
        )
        if assignee is not None and not rule.assignee_id:
            team.last_assigned_id = assignee
            self.open_counts[assignee] = self.open_counts.get(assignee, 0) + 1
        return rule, team, assignee


def _build(intake: Intake, answers: dict, reference: str, now, ctx: RoutingContext, calendar):
    territory = _territory_for(intake)
    priority = intake.priority or intake.category.default_priority
    rule, team, assignee_id = ctx.decide(
        category_id=intake.category.pk,
        territory_id=territory.pk if territory else None,
        channel=intake.channel,
        priority=priority,
    )
    requester = intake.requester
    case = Case(
        reference=reference,
        category=intake.category,
        channel=intake.channel,
        requester=requester,
        contact_name=intake.contact_name or (requester.full_name if requester else ""),
        contact_email=intake.contact_email or (requester.email if requester else ""),
        contact_phone=intake.contact_phone or (str(requester.phone or "") if requester else ""),
        contact_language=intake.contact_language
        or (requester.preferred_language if requester else ""),
        subject=intake.subject.strip()[:200],
        description=(intake.description or "").strip(),
        answers=answers,
        territory=territory,
        latitude=intake.latitude,
        longitude=intake.longitude,
        address=intake.address.strip()[:300],
        priority=priority,
        status=workflow.ASSIGNED if assignee_id else workflow.NEW,
        team=team,
        assignee_id=assignee_id,
        created_at=now,
        updated_at=now,
    )
    dues = sla_policy.dues_for(intake.category, now, calendar)
    case.first_response_due, case.resolution_due = dues
    events = [
        CaseEvent(
            case=case,
            kind=Kind.CREATED,
            actor=intake.actor or requester,
            public=True,
            text=case.subject,
            data={"channel": intake.channel},
            created_at=now,
        )
    ]
    if team is not None:
        events.append(
            CaseEvent(
                case=case,
                kind=Kind.ROUTED,
                data={"team": team.name, "rule": rule.id, "assignee": assignee_id},
                created_at=now,
            )
        )
    return case, events


@transaction.atomic
def case_create(intake: Intake, *, attachments: Iterable = ()) -> Case:
    """Validate, locate, route, assign, set SLA dues, record the timeline, tell the requester."""
    answers = _validate(intake)
    files = [_checked_upload(upload) for upload in attachments]
    now = timezone.now()
    ctx = RoutingContext.load()
    calendar = sla_policy.operator_calendar()
    [reference] = references_allocate(timezone.localdate(now).year)
    case, events = _build(intake, answers, reference, now, ctx, calendar)
    case.save()
    CaseEvent.objects.bulk_create(events)
    _save_team_pointers(ctx)
    for target in intake.concerns:
        case_link(case=case, target=target)
    for upload, content_type in files:
        _attachment_save(case, upload, content_type, actor=intake.actor or intake.requester)
    _notify(case, "cases/created")
    return case


def _save_team_pointers(ctx: RoutingContext) -> None:
    for team in ctx.teams.values():
        if team.last_assigned_id is not None:
            Team.objects.filter(pk=team.pk).update(last_assigned_id=team.last_assigned_id)


@transaction.atomic
def cases_create_bulk(intakes: list[Intake], *, batch_size: int = 2000) -> list[Case]:
    """Many cases at once (imports, Open311 batches, the benchmark): routing context and
    calendar loaded once, references allocated as a block, cases and events bulk-inserted.
    Attachments and links are not taken here. Requesters are notified by a task per chunk of
    cases after the commit (in-process without a broker)."""
    if not intakes:
        return []
    checked = [_validate(intake) for intake in intakes]
    now = timezone.now()
    ctx = RoutingContext.load()
    calendar = sla_policy.operator_calendar()
    references = references_allocate(timezone.localdate(now).year, len(intakes))
    cases, events = [], []
    for intake, answers, reference in zip(intakes, checked, references, strict=True):
        case, case_events = _build(intake, answers, reference, now, ctx, calendar)
        cases.append(case)
        events.extend(case_events)
    Case.objects.bulk_create(cases, batch_size=batch_size)
    CaseEvent.objects.bulk_create(events, batch_size=batch_size)
    _save_team_pointers(ctx)
    # Telling the requesters is a worker's job: one task per chunk, queued after the commit.
    from civicdesk.cases.tasks import notify_created

    ids = [str(case.pk) for case in cases]
    for start in range(0, len(ids), NOTIFY_CHUNK):
        chunk = ids[start : start + NOTIFY_CHUNK]
        transaction.on_commit(lambda chunk=chunk: notify_created.delay(chunk), robust=True)
    return cases


NOTIFY_CHUNK = 500


def cases_notify_created(case_ids: list[str]) -> int:
    """Send the "we received your request" message for each of these cases."""
    cases = Case.objects.filter(pk__in=case_ids).select_related("requester", "category")
    count = 0
    for case in cases:
        with transaction.atomic():
            _notify(case, "cases/created")
        count += 1
    return count


# --- links and attachments ------------------------------------------------------------------


def case_link(*, case: Case, target) -> CaseLink:
    content_type = ContentType.objects.get_for_model(target)
    link, created = CaseLink.objects.get_or_create(
        case=case,
        content_type=content_type,
        object_id=str(target.pk),
        defaults={"label": str(target)[:200]},
    )
    if created:
        CaseEvent.objects.create(
            case=case,
            kind=Kind.LINKED,
            data={"type": content_type.model, "label": link.label},
            created_at=timezone.now(),
        )
    return link


def _checked_upload(upload):
    try:
        return upload, check_upload(upload, ATTACHMENT_TYPES, ATTACHMENT_MAX_BYTES)
    except UploadRejected as exc:
        raise ValidationError({"attachments": [exc.message]}) from exc


def _attachment_save(case, upload, content_type, *, actor, public=True) -> Attachment:
    name = (getattr(upload, "name", "") or "attachment").rsplit("/", 1)[-1][:200]
    attachment = Attachment.objects.create(
        case=case,
        file=upload,
        name=name,
        content_type=content_type,
        size=upload.size,
        public=public,
        uploaded_by=actor,
    )
    CaseEvent.objects.create(
        case=case,
        kind=Kind.ATTACHMENT,
        actor=actor,
        public=public,
        data={"attachment": str(attachment.pk), "name": name},
        created_at=timezone.now(),
    )
    return attachment


@transaction.atomic
def attachment_add(*, case: Case, upload, actor, public: bool = True) -> Attachment:
    upload, content_type = _checked_upload(upload)
    return _attachment_save(case, upload, content_type, actor=actor, public=public)


# --- working a case -------------------------------------------------------------------------


def _locked(case: Case) -> Case:
    return Case.objects.select_for_update(of=("self",)).select_related("category").get(pk=case.pk)


def _event(case, kind, *, actor=None, public=False, text="", **data) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        kind=kind,
        actor=actor,
        public=public,
        text=text,
        data=data,
        created_at=timezone.now(),
    )


STATUS_ERRORS = {
    "transition": gettext_lazy("A case cannot go from “%(current)s” to “%(target)s”."),
    "reopen_window": gettext_lazy(
        "This case was resolved too long ago to reopen; please open a new one."
    ),
}


@transaction.atomic
def case_transition(*, case: Case, target: str, actor=None, note: str = "", public=True) -> Case:
    case = _locked(case)
    current = case.status
    if not workflow.can_move(current, target):
        raise ValidationError(
            {
                "status": STATUS_ERRORS["transition"]
                % {
                    "current": case.get_status_display(),
                    "target": Status(target).label if target in Status.values else str(target)[:40],
                }
            }
        )
    now = timezone.now()
    if target == workflow.REOPENED:
        window = dt.timedelta(days=case.category.reopen_days)
        if case.resolved_at is None or now - case.resolved_at > window:
            raise ValidationError({"status": STATUS_ERRORS["reopen_window"]})
    if workflow.first_response_counts(current, target) and case.first_responded_at is None:
        case.first_responded_at = now
    if target in workflow.PAUSED and case.paused_since is None:
        case.paused_since = now
    if current in workflow.PAUSED and target not in workflow.PAUSED and case.paused_since:
        case.pauses = [*case.pauses, [case.paused_since.isoformat(), now.isoformat()]]
        case.paused_since = None
        case.resolution_due = sla_policy.shifted_due(case, sla_policy.operator_calendar())
    if target == workflow.RESOLVED:
        case.resolved_at = now
    if target == workflow.REOPENED:
        case.resolved_at = None
        case.rating = None
    if target in (workflow.CLOSED, workflow.CANCELLED):
        case.closed_at = now
    case.status = target
    case.updated_at = now
    case.save()
    _event(
        case,
        Kind.STATUS,
        actor=actor,
        public=public,
        text=note.strip(),
        **{"from": current, "to": target},
    )
    if target == workflow.RESOLVED:
        for duplicate in case.duplicates.filter(status__in=workflow.OPEN):
            case_transition(
                case=duplicate,
                target=workflow.RESOLVED,
                actor=actor,
                note=_("Resolved with %(reference)s.") % {"reference": case.reference},
            )
    signals.case_status_changed.send(
        sender=Case, case=case, previous=current, target=target, actor=actor, note=note.strip()
    )
    if public:
        _notify(case, "cases/updated", note=note.strip())
    return case


@transaction.atomic
def case_assign(*, case: Case, team: Team | None, assignee=None, actor=None, reason: str) -> Case:
    """Manual reassignment: always with a reason, kept in the timeline (not public)."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the case is reassigned.")})
    case = _locked(case)
    if (
        assignee is not None
        and team is not None
        and not team.members.filter(pk=assignee.pk).exists()
    ):
        raise ValidationError({"assignee": _("This person is not in the team.")})
    case.team = team
    case.assignee = assignee
    if case.status == workflow.NEW and assignee is not None:
        case.status = workflow.ASSIGNED
        case.first_responded_at = case.first_responded_at or timezone.now()
    case.updated_at = timezone.now()
    case.save()
    _event(
        case,
        Kind.ASSIGNED,
        actor=actor,
        text=reason.strip(),
        team=team.name if team else None,
        assignee=assignee.email if assignee else None,
    )
    return case


@transaction.atomic
def case_recategorise(*, case: Case, category: Category, actor=None) -> Case:
    """A new category routes the case again and sets its SLA afresh from creation."""
    case = _locked(case)
    old = case.category
    case.category = category
    ctx = RoutingContext.load()
    rule, team, assignee_id = ctx.decide(
        category_id=category.pk,
        territory_id=case.territory_id,
        channel=case.channel,
        priority=case.priority,
    )
    if team is not None:
        case.team, case.assignee_id = team, assignee_id
        _save_team_pointers(ctx)
    case.first_response_due, case.resolution_due = sla_policy.dues_for(
        category, case.created_at, sla_policy.operator_calendar()
    )
    case.resolution_due = sla_policy.shifted_due(case, sla_policy.operator_calendar())
    case.updated_at = timezone.now()
    case.save()
    _event(case, Kind.RECATEGORISED, actor=actor, old=old.code, new=category.code)
    if team is not None:
        _event(case, Kind.ROUTED, team=team.name, rule=rule.id, assignee=assignee_id)
    return case


@transaction.atomic
def case_note(*, case: Case, actor, text: str, public: bool) -> CaseEvent:
    if not (text or "").strip():
        raise ValidationError({"text": _("Write the note.")})
    case = _locked(case)
    now = timezone.now()
    if public and case.first_responded_at is None and actor != case.requester:
        case.first_responded_at = now
    case.updated_at = now
    case.save(update_fields=["first_responded_at", "updated_at"])
    event = _event(case, Kind.NOTE, actor=actor, public=public, text=text.strip())
    if public:
        _notify(case, "cases/updated", note=text.strip())
    return event


@transaction.atomic
def case_reply(*, case: Case, user, text: str, attachments: Iterable = ()) -> CaseEvent:
    """The requester writes back; a case waiting for them starts moving again."""
    if not (text or "").strip() and not attachments:
        raise ValidationError({"text": _("Write your message.")})
    files = [_checked_upload(upload) for upload in attachments]
    case = _locked(case)
    if case.status in (workflow.CLOSED, workflow.CANCELLED):
        raise ValidationError({"text": _("This case is closed. Please open a new one.")})
    event = _event(case, Kind.MESSAGE, actor=user, public=True, text=(text or "").strip())
    for upload, content_type in files:
        _attachment_save(case, upload, content_type, actor=user)
    if case.status == workflow.WAITING_CUSTOMER:
        case_transition(case=case, target=workflow.IN_PROGRESS, actor=user, public=False)
    else:
        Case.objects.filter(pk=case.pk).update(updated_at=timezone.now())
    return event


@transaction.atomic
def case_rate(*, case: Case, user, rating: int, comment: str = "") -> Case:
    case = _locked(case)
    if case.status not in (workflow.RESOLVED, workflow.CLOSED):
        raise ValidationError({"rating": _("You can rate a case once it is resolved.")})
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationError({"rating": _("Give a rating from 1 to 5.")})
    case.rating, case.rating_comment = rating, (comment or "").strip()[:2000]
    case.save(update_fields=["rating", "rating_comment"])
    _event(case, Kind.RATED, actor=user, rating=rating)
    return case


@transaction.atomic
def case_mark_duplicate(*, case: Case, parent: Case, actor=None) -> Case:
    if parent.pk == case.pk or parent.parent_id == case.pk:
        raise ValidationError({"parent": _("A case cannot duplicate itself.")})
    case = _locked(case)
    case.parent = parent
    case.updated_at = timezone.now()
    case.save(update_fields=["parent", "updated_at"])
    _event(
        case,
        Kind.DUPLICATE,
        actor=actor,
        public=True,
        text=_("Linked to %(reference)s: it will be resolved with it.")
        % {"reference": parent.reference},
        parent=parent.reference,
    )
    return case


# --- SLA sweep ------------------------------------------------------------------------------


def sla_sweep(*, now=None) -> dict[str, int]:
    """Refresh the SLA state of open cases; record each first breach in the timeline."""
    now = now or timezone.now()
    calendar = sla_policy.operator_calendar()
    counts = {"ok": 0, "at_risk": 0, "breached": 0}
    breached = []
    open_cases = Case.objects.filter(status__in=workflow.OPEN).exclude(resolution_due=None)
    for case in open_cases.select_related("category").iterator(chunk_size=2000):
        state = sla_policy.state_of(case, now, calendar)
        counts[state] += 1
        if state != case.sla_state:
            if state == "breached":
                breached.append(case)
            Case.objects.filter(pk=case.pk).update(sla_state=state)
    CaseEvent.objects.bulk_create(
        CaseEvent(
            case=c,
            kind=Kind.SLA_BREACHED,
            data={"due": c.resolution_due.isoformat()},
            created_at=now,
        )
        for c in breached
    )
    return counts


# --- notifications --------------------------------------------------------------------------


def _notify(case: Case, template_key: str, **context) -> None:
    from civicdesk.notifications.services import notify, notify_contact

    context = {"case": case, "reference": case.reference, **context}
    if case.requester is not None:
        notify(case.requester, template_key, context)
    elif case.contact_email:
        notify_contact(
            channel="email",
            recipient=case.contact_email,
            template_key=template_key,
            context=context,
            language=case.contact_language or None,
        )
    elif case.contact_phone:
        notify_contact(
            channel="sms",
            recipient=case.contact_phone,
            template_key=template_key,
            context=context,
            language=case.contact_language or None,
        )
