"""Staff case pages: the work queue and the case page with its forms (status, note,
reassignment, category, duplicate, attachment) and the attachment download.

Seeing cases needs ``cases.view_case``; every write needs ``cases.work_case`` (the quality
controller sees, never changes). Each form posts to its own URL, calls one service and
redirects back to the case page; a refused form shows the page again with the reason."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from civicdesk.cases import services, staff_selectors, workflow
from civicdesk.cases.models import Case, CaseEvent, Category, Channel, Status, Team
from civicdesk.core.decorators import staff_required
from civicdesk.core.forms import apply_validation_error

VIEW = "cases.view_case"
WORK = "cases.work_case"
Kind = CaseEvent.Kind


# --- forms ----------------------------------------------------------------------------------

VISIBILITY = (
    ("internal", gettext_lazy("Internal: staff only")),
    ("public", gettext_lazy("Public: the requester sees it and is told")),
)
QUEUE_LABELS = {
    "mine": gettext_lazy("Mine"),
    "team": gettext_lazy("My teams"),
    "unassigned": gettext_lazy("Unassigned"),
    "breached": gettext_lazy("Breached"),
    "at_risk": gettext_lazy("At risk"),
    "open": gettext_lazy("All open"),
}


def _category_choices(exclude: int | None = None) -> list[tuple[str, str]]:
    return [
        (c.code, f"{c.parent.name} › {c.name}" if c.parent else c.name)
        for c in staff_selectors.categories_for_staff()
        if c.pk != exclude
    ]


class QueueFilterForm(forms.Form):
    queue = forms.ChoiceField(
        label=gettext_lazy("Queue"), choices=list(QUEUE_LABELS.items()), required=False
    )
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    territory = forms.ChoiceField(label=gettext_lazy("Territory"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("Any open status")), *Status.choices]
        self.fields["category"].choices = [("", _("All")), *_category_choices()]
        self.fields["territory"].choices = [
            ("", _("All")),
            *staff_selectors.territories_for_filter(),
        ]


class StatusForm(forms.Form):
    target = forms.ChoiceField(label=gettext_lazy("New status"), choices=Status.choices)
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Why the status changes; a public note goes to the requester."),
    )
    visibility = forms.ChoiceField(
        label=gettext_lazy("Who sees it"),
        choices=VISIBILITY,
        initial="public",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, prefix="status", **kwargs)
        self.case = case
        allowed = workflow.TRANSITIONS.get(case.status, frozenset())
        # Every status validates (so a refused one gets a clear reason); only the allowed ones
        # are offered.
        self.fields["target"].widget.choices = [
            (value, label) for value, label in Status.choices if value in allowed
        ]

    def clean_target(self) -> str:
        target = self.cleaned_data["target"]
        if not workflow.can_move(self.case.status, target):
            labels = dict(Status.choices)
            allowed = [
                str(labels[s]) for s in workflow.STATUSES if workflow.can_move(self.case.status, s)
            ]
            raise ValidationError(
                _(
                    "A case that is “%(current)s” cannot become “%(target)s”. "
                    "It can become: %(allowed)s."
                )
                % {
                    "current": self.case.get_status_display(),
                    "target": labels[target],
                    "allowed": ", ".join(allowed) or "—",
                }
            )
        return target


class NoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Note"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
    visibility = forms.ChoiceField(
        label=gettext_lazy("Who sees it"),
        choices=VISIBILITY,
        initial="internal",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "note")
        super().__init__(*args, **kwargs)


class AssignForm(forms.Form):
    team = forms.ChoiceField(label=gettext_lazy("Team"), required=False)
    assignee = forms.ChoiceField(
        label=gettext_lazy("Person"),
        required=False,
        help_text=gettext_lazy("Leave empty to put the case in the team's queue."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Kept in the timeline for staff."),
    )

    def __init__(self, *args, teams: list[Team], case: Case | None = None, **kwargs):
        super().__init__(*args, prefix="assign", **kwargs)
        self.teams = {team.code: team for team in teams}
        self.people = {
            str(member.public_id): member
            for team in teams
            for member in team.members.all()
            if member.is_active
        }
        self.fields["team"].choices = [("", _("No team")), *((t.code, t.name) for t in teams)]
        self.fields["assignee"].choices = [
            ("", _("Nobody in particular")),
            *(
                (
                    team.name,
                    [
                        (str(m.public_id), m.full_name or m.email)
                        for m in team.members.all()
                        if m.is_active
                    ],
                )
                for team in teams
                if team.members.all()
            ),
        ]
        if case is not None and not self.is_bound:
            self.initial = {
                "team": case.team.code if case.team else "",
                "assignee": str(case.assignee.public_id) if case.assignee else "",
            }

    def clean(self):
        cleaned = super().clean()
        cleaned["team_obj"] = self.teams.get(cleaned.get("team") or "")
        cleaned["assignee_obj"] = self.people.get(cleaned.get("assignee") or "")
        if cleaned["assignee_obj"] is not None and cleaned["team_obj"] is None:
            self.add_error("team", _("Choose the person's team too."))
        return cleaned


class CategoryForm(forms.Form):
    category = forms.ChoiceField(label=gettext_lazy("New category"))

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, prefix="category", **kwargs)
        self.fields["category"].choices = _category_choices(exclude=case.category_id)
        self.fields["category"].help_text = _(
            "The case is routed again and its SLA runs afresh from when it was received."
        )

    def clean_category(self) -> Category:
        category = staff_selectors.categories_for_staff().filter(code=self.cleaned_data["category"])
        return category.get()


class DuplicateForm(forms.Form):
    parent = forms.CharField(
        label=gettext_lazy("Duplicate of case"),
        max_length=20,
        help_text=gettext_lazy("The reference of the case it repeats, e.g. C-2026-000123."),
    )

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, prefix="duplicate", **kwargs)
        self.case = case

    def clean_parent(self) -> Case:
        reference = self.cleaned_data["parent"].strip().upper()
        parent = staff_selectors.case_by_reference(reference)
        if parent is None:
            raise ValidationError(
                _("No case has the reference %(reference)s.") % {"reference": reference}
            )
        if parent.pk == self.case.pk:
            raise ValidationError(_("A case cannot duplicate itself."))
        return parent


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("PDF, JPEG, PNG, GIF or WebP, at most 10 MB."),
    )
    visibility = forms.ChoiceField(
        label=gettext_lazy("Who sees it"),
        choices=VISIBILITY,
        initial="internal",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="attachment", **kwargs)


# --- the work queue -------------------------------------------------------------------------


@require_GET
@staff_required
@permission_required(VIEW, raise_exception=True)
def queue(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET or None)
    filters = {"queue": "mine", "status": "", "category": "", "territory": ""}
    if form.is_bound:
        form.is_valid()  # the valid filters apply; a wrong one says why under its field
        filters.update({k: v for k, v in form.cleaned_data.items() if v})
    else:
        form = QueueFilterForm(initial=filters)
    cases = staff_selectors.work_queue(request.user, **filters)
    page = Paginator(cases, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    counts = staff_selectors.queue_counts(request.user)
    return render(
        request,
        "cases/staff/queue.html",
        {
            "form": form,
            "page": page,
            "filters": filters,
            "query": query.urlencode(),
            "queues": [(key, label, counts[key]) for key, label in QUEUE_LABELS.items()],
            "queue_label": QUEUE_LABELS[filters["queue"]],
        },
    )


# --- the case page --------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    event: CaseEvent
    summary: str
    attachment_url: str = ""


def _describe(event: CaseEvent, case: Case, names: dict[str, str]) -> Entry:
    """One line saying what happened, in the reader's language."""
    data = event.data or {}
    statuses = dict(Status.choices)
    summary, url = "", ""
    if event.kind == Kind.CREATED:
        summary = _("Received by %(channel)s.") % {
            "channel": dict(Channel.choices).get(data.get("channel"), data.get("channel", "—"))
        }
    elif event.kind == Kind.ROUTED:
        summary = _("Routed to %(team)s.") % {"team": data.get("team") or "—"}
    elif event.kind == Kind.ASSIGNED:
        summary = _("Assigned to %(team)s, %(person)s.") % {
            "team": data.get("team") or _("no team"),
            "person": data.get("assignee") or _("nobody in particular"),
        }
    elif event.kind == Kind.STATUS:
        summary = _("Status: %(from)s → %(to)s.") % {
            "from": statuses.get(data.get("from"), data.get("from")),
            "to": statuses.get(data.get("to"), data.get("to")),
        }
    elif event.kind == Kind.ATTACHMENT:
        summary = _("Attached %(name)s.") % {"name": data.get("name", "")}
        if data.get("attachment"):
            url = reverse("cases:staff_attachment", args=[case.reference, data["attachment"]])
    elif event.kind == Kind.SLA_BREACHED:
        summary = _("The resolution time was exceeded.")
    elif event.kind == Kind.RECATEGORISED:
        summary = _("Category: %(old)s → %(new)s.") % {
            "old": names.get(data.get("old"), data.get("old")),
            "new": names.get(data.get("new"), data.get("new")),
        }
    elif event.kind == Kind.LINKED:
        summary = _("Concerns %(label)s.") % {"label": data.get("label", "")}
    elif event.kind == Kind.RATED:
        summary = _("Rated %(rating)s of 5.") % {"rating": data.get("rating", "—")}
    elif event.kind == Kind.MESSAGE:
        summary = _("Message from the requester.")
    return Entry(event, summary, url)


def _entries(case: Case) -> list[Entry]:
    events = list(staff_selectors.case_timeline(case))
    codes = {
        code
        for e in events
        if e.kind == Kind.RECATEGORISED
        for code in (e.data.get("old"), e.data.get("new"))
    }
    names = {c.code: c.name for c in Category.objects.filter(code__in=codes)} if codes else {}
    return [_describe(event, case, names) for event in events]


def _forms(case: Case, bound: dict) -> dict:
    teams = staff_selectors.teams_with_members()
    forms_ = {
        "status_form": StatusForm(case=case),
        "note_form": NoteForm(),
        "assign_form": AssignForm(teams=teams, case=case),
        "category_form": CategoryForm(case=case),
        "duplicate_form": DuplicateForm(case=case),
        "attachment_form": AttachmentForm(),
    }
    forms_.update(bound)
    return forms_


def _case_page(request: HttpRequest, case: Case, *, status: int = 200, **bound) -> HttpResponse:
    can_work = request.user.has_perm(WORK)
    context = {
        "case": case,
        "answers": staff_selectors.case_answers(case),
        "concerns": staff_selectors.case_concerns(case),
        "attachments": staff_selectors.case_attachments(case),
        "entries": _entries(case),
        "duplicates": case.duplicates.order_by("created_at"),
        "can_work": can_work,
        "can_move": bool(workflow.TRANSITIONS.get(case.status)),
    }
    if can_work:
        context.update(_forms(case, bound))
    return render(request, "cases/staff/case.html", context, status=status)


@require_GET
@staff_required
@permission_required(VIEW, raise_exception=True)
def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    return _case_page(request, staff_selectors.case_for_staff(request.user, reference))


def _write(form_name: str, make_form, anchor: str):
    """A case form's POST: bind the form with `make_form(request, case)`, run
    `action(request, case, form)` when it is valid (it returns the message to show), then back
    to the case page at `anchor`; refused, the page again with the errors and nothing changed."""

    def decorator(action):
        @require_POST
        @staff_required
        @permission_required(WORK, raise_exception=True)
        @wraps(action)
        def view(request: HttpRequest, reference: str) -> HttpResponse:
            case = staff_selectors.case_for_staff(request.user, reference)
            form = make_form(request, case)
            if form.is_valid():
                try:
                    message = action(request, case, form)
                except ValidationError as exc:
                    apply_validation_error(form, exc)
                else:
                    messages.success(request, message)
                    return redirect(reverse("cases:staff_case", args=[case.reference]) + anchor)
            reasons = " ".join(str(m) for errors in form.errors.values() for m in errors)
            messages.error(request, _("Nothing was changed: %(reasons)s") % {"reasons": reasons})
            case.refresh_from_db()
            return _case_page(request, case, status=400, **{form_name: form})

        return view

    return decorator


def _public(form) -> bool:
    return form.cleaned_data["visibility"] == "public"


@_write(
    "status_form",
    lambda request, case: StatusForm(request.POST, case=case),
    "#timeline",
)
def case_status(request, case, form) -> str:
    services.case_transition(
        case=case,
        target=form.cleaned_data["target"],
        actor=request.user,
        note=form.cleaned_data["note"],
        public=_public(form),
    )
    return _("The status is now “%(status)s”.") % {
        "status": dict(Status.choices)[form.cleaned_data["target"]]
    }


@_write(
    "note_form",
    lambda request, case: NoteForm(request.POST),
    "#timeline",
)
def case_note(request, case, form) -> str:
    services.case_note(
        case=case, actor=request.user, text=form.cleaned_data["text"], public=_public(form)
    )
    return _("Note added.")


@_write(
    "assign_form",
    lambda request, case: AssignForm(request.POST, teams=staff_selectors.teams_with_members()),
    "#details",
)
def case_assign(request, case, form) -> str:
    services.case_assign(
        case=case,
        team=form.cleaned_data["team_obj"],
        assignee=form.cleaned_data["assignee_obj"],
        actor=request.user,
        reason=form.cleaned_data["reason"],
    )
    return _("Reassigned.")


@_write(
    "category_form",
    lambda request, case: CategoryForm(request.POST, case=case),
    "#details",
)
def case_recategorise(request, case, form) -> str:
    category = form.cleaned_data["category"]
    services.case_recategorise(case=case, category=category, actor=request.user)
    return _("The category is now “%(category)s”.") % {"category": category.name}


@_write(
    "duplicate_form",
    lambda request, case: DuplicateForm(request.POST, case=case),
    "#details",
)
def case_duplicate(request, case, form) -> str:
    parent = form.cleaned_data["parent"]
    services.case_mark_duplicate(case=case, parent=parent, actor=request.user)
    return _("Marked as a duplicate of %(reference)s.") % {"reference": parent.reference}


@_write(
    "attachment_form",
    lambda request, case: AttachmentForm(request.POST, request.FILES),
    "#attachments",
)
def case_attachment(request, case, form) -> str:
    attachment = services.attachment_add(
        case=case, upload=form.cleaned_data["file"], actor=request.user, public=_public(form)
    )
    return _("Attached %(name)s.") % {"name": attachment.name}


@require_GET
@staff_required
@permission_required(VIEW, raise_exception=True)
def attachment_download(request: HttpRequest, reference: str, attachment_id) -> FileResponse:
    """The file, always as a download with the type its bytes showed on upload: never shown
    inline by the browser, never from /media/, never cached."""
    case = staff_selectors.case_for_staff(request.user, reference)
    attachment = staff_selectors.attachment_of(case, attachment_id)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    content_type = attachment.content_type or "application/octet-stream"
    filename = attachment.name or f"attachment{mimetypes.guess_extension(content_type) or ''}"
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
