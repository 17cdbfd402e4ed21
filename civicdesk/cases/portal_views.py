"""Resident pages for cases: lodge one, list one's own, follow the public timeline, reply,
reopen, rate; and the public list of known problems. Thin: they call services and selectors."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from civicdesk.cases import forms, intake_links, selectors, services, workflow
from civicdesk.cases.models import Case, Category, Channel, Status, translated
from civicdesk.registry.selectors import accounts_for_user

KNOWN_PROBLEMS_SHOWN = 20


# --- choosing a category and lodging --------------------------------------------------------


def _choosable(categories: list[Category]) -> list[Category]:
    """Categories a resident can pick: active ones without active sub-categories."""
    parents = {c.parent_id for c in categories if c.parent_id}
    return [c for c in categories if c.pk not in parents]


@login_required
def category_choose(request: HttpRequest) -> HttpResponse:
    categories = list(selectors.categories_for_intake())
    chosen = request.GET.get("category")
    if chosen and any(c.code == chosen for c in _choosable(categories)):
        # A deep link (e.g. a bill's "dispute this line"): straight to the form, with the rest
        # of the query string for the app that resolves it (cases.intake_links).
        rest = request.GET.copy()
        del rest["category"]
        url = reverse("cases_portal:lodge", args=[chosen])
        return redirect(f"{url}?{rest.urlencode()}" if rest else url)
    groups: dict[int | None, dict] = {}
    for category in _choosable(categories):
        group = groups.setdefault(category.parent_id, {"parent": category.parent, "categories": []})
        group["categories"].append(category)
    account = request.GET.get("account", "")
    return render(
        request,
        "cases/portal/category_choose.html",
        {
            "groups": list(groups.values()),
            "account": account
            if account and accounts_for_user(request.user).filter(number=account).exists()
            else "",
        },
    )


def _category_for_intake(code: str) -> Category:
    categories = list(selectors.categories_for_intake())
    category = next((c for c in _choosable(categories) if c.code == code), None)
    if category is None:
        raise Http404
    return category


def _known_problems_near(user, category: Category, account) -> dict:
    """Open problems of the category's kind around the account's building (all when no account
    is chosen), and which of them the user has already reported."""
    if category.kind not in selectors.KNOWN_PROBLEM_KINDS:
        return {"problems": [], "applies": False}
    territory = account.premises.building.territory if account else None
    problems = list(
        selectors.known_problems(territory=territory).filter(category__kind=category.kind)[
            :KNOWN_PROBLEMS_SHOWN
        ]
    )
    joined = set(
        selectors.cases_for_requester(user)
        .filter(parent__in=[p.pk for p in problems])
        .values_list("parent_id", flat=True)
    )
    for problem in problems:
        problem.reported_by_you = problem.requester_id == user.pk or problem.pk in joined
    return {"problems": problems, "applies": True, "territory": territory}


def _intake_from(form: forms.CaseLodgeForm, request: HttpRequest, parent: Case | None):
    data = form.cleaned_data
    account = form.selected_account()
    subject = data.get("subject") or ""
    if not subject.strip() and parent is not None:
        subject = form.category.name
    return services.Intake(
        category=form.category,
        channel=Channel.PORTAL,
        subject=subject,
        description=data.get("description") or "",
        requester=request.user,
        answers=form.answers(),
        territory=parent.territory if parent is not None and account is None else None,
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        address=data.get("address") or "",
        concerns=[account, account.premises] if account is not None else [],
        actor=request.user,
    )


@login_required
def case_lodge(request: HttpRequest, code: str) -> HttpResponse:
    category = _category_for_intake(code)
    linked = intake_links.resolve(request, category)
    accounts = list(accounts_for_user(request.user))
    initial = {"account": request.GET.get("account", "") or (linked.account if linked else "")}
    if linked is not None:
        initial.update({forms.QUESTION_PREFIX + k: v for k, v in linked.answers.items()})
        if linked.subject:
            initial["subject"] = linked.subject
    form = forms.CaseLodgeForm(
        request.POST or None,
        request.FILES or None,
        category=category,
        accounts=accounts,
        initial=initial,
    )
    parent = None
    if request.method == "POST" and form.is_valid():
        same_as = form.cleaned_data.get("same_as")
        if same_as:
            parent = selectors.known_problems().filter(pk=same_as).first()
            if parent is None:
                form.add_error(
                    None, _("That problem is no longer open. Please describe yours below.")
                )
        if not form.errors:
            try:
                with transaction.atomic():
                    intake = _intake_from(form, request, parent)
                    if linked is not None:
                        intake.concerns += linked.concerns
                    case = services.case_create(intake, attachments=form.cleaned_data["photos"])
                    if linked is not None and linked.created is not None:
                        linked.created(case)
                    if parent is not None:
                        services.case_mark_duplicate(case=case, parent=parent, actor=request.user)
            except ValidationError as exc:
                form.apply_service_errors(exc)
            else:
                messages.success(request, _created_message(case, parent))
                return redirect("cases_portal:detail", reference=case.reference)
    selected = form.selected_account() if form.is_bound else None
    if selected is None:
        selected = next((a for a in accounts if a.number == initial["account"]), None)
    if form.is_bound and form.data.get("same_as") and parent is None:
        parent = selectors.known_problems().filter(pk=form.data.get("same_as")).first()
    return render(
        request,
        "cases/portal/lodge.html",
        {
            "category": category,
            "form": form,
            "accounts": accounts,
            "selected_account": selected,
            "joining": parent,
            "linked": linked,
            "known": _known_problems_near(request.user, category, selected),
        },
    )


def _created_message(case: Case, parent: Case | None) -> str:
    text = _("Your request is registered. Its reference is %(reference)s.") % {
        "reference": case.reference
    }
    if case.resolution_due:
        due = formats.date_format(timezone.localtime(case.resolution_due), "DATETIME_FORMAT")
        text += " " + _("We aim to resolve it by %(due)s.") % {"due": due}
    if parent is not None:
        text += " " + _("It is linked to the known problem: we will tell you when it is fixed.")
    return text


# --- one's own cases ------------------------------------------------------------------------


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.cases_for_requester(request.user), 20).get_page(
        request.GET.get("page")
    )
    return render(request, "cases/portal/case_list.html", {"page": page})


def _can_reopen(case: Case) -> tuple[bool, dt.datetime | None]:
    """Whether the resident may reopen now, and until when (the service checks it again)."""
    if case.status != workflow.RESOLVED or case.resolved_at is None:
        return False, None
    until = case.resolved_at + dt.timedelta(days=case.category.reopen_days)
    return timezone.now() <= until, until


def _answers(case: Case) -> list[tuple[str, object]]:
    """The case's answers with their questions' labels, in the questions' order."""
    rows = []
    for question in case.category.questions or []:
        key = question.get("key")
        if key in case.answers:
            value = case.answers[key]
            if isinstance(value, bool):
                value = _("Yes") if value else _("No")
            elif question.get("type") == "choice":
                labels = dict(forms.choice_values(question))
                value = labels.get(str(value), value)
            rows.append((translated(question["label"]), value))
    return rows


def _timeline(case: Case, attachments: dict) -> list:
    """The public events, each with what the page shows: the new status's name, the file."""
    labels = dict(Status.choices)
    events = list(selectors.timeline(case, public_only=True))
    for event in events:
        event.by_requester = event.actor_id is not None and event.actor_id == case.requester_id
        event.status_label = labels.get(event.data.get("to"), "")
        event.attachment = attachments.get(event.data.get("attachment"))
    return events


def _detail(request: HttpRequest, case: Case, **bound) -> HttpResponse:
    can_reopen, reopen_until = _can_reopen(case)
    attachments = {str(a.pk): a for a in case.attachments.filter(public=True)}
    rating_initial = (
        {"rating": case.rating, "comment": case.rating_comment} if case.rating else None
    )
    context = {
        "case": case,
        "events": _timeline(case, attachments),
        "answers": _answers(case),
        "can_reply": case.status not in (workflow.CLOSED, workflow.CANCELLED),
        "can_reopen": can_reopen,
        "reopen_until": reopen_until,
        "can_rate": case.status in (workflow.RESOLVED, workflow.CLOSED),
        "reply_form": bound.get("reply_form") or forms.ReplyForm(),
        "reopen_form": bound.get("reopen_form") or forms.ReopenForm(),
        "rating_form": bound.get("rating_form") or forms.RatingForm(initial=rating_initial),
    }
    return render(request, "cases/portal/detail.html", context)


@login_required
def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    return _detail(request, selectors.case_for_requester(request.user, reference))


@login_required
@require_POST
def case_reply(request: HttpRequest, reference: str) -> HttpResponse:
    case = selectors.case_for_requester(request.user, reference)
    form = forms.ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.case_reply(
                case=case,
                user=request.user,
                text=form.cleaned_data["text"],
                attachments=form.cleaned_data["photos"],
            )
        except ValidationError as exc:
            form.apply_service_errors(exc)
        else:
            messages.success(request, _("Your message is sent."))
            return redirect("cases_portal:detail", reference=case.reference)
    return _detail(request, case, reply_form=form)


@login_required
@require_POST
def case_reopen(request: HttpRequest, reference: str) -> HttpResponse:
    case = selectors.case_for_requester(request.user, reference)
    form = forms.ReopenForm(request.POST)
    if form.is_valid():
        try:
            services.case_transition(
                case=case,
                target=workflow.REOPENED,
                actor=request.user,
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.apply_service_errors(exc)
        else:
            messages.success(request, _("Your request is reopened."))
            return redirect("cases_portal:detail", reference=case.reference)
    return _detail(request, case, reopen_form=form)


@login_required
@require_POST
def case_rate(request: HttpRequest, reference: str) -> HttpResponse:
    case = selectors.case_for_requester(request.user, reference)
    form = forms.RatingForm(request.POST)
    if form.is_valid():
        try:
            services.case_rate(
                case=case,
                user=request.user,
                rating=form.cleaned_data["rating"],
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as exc:
            form.apply_service_errors(exc)
        else:
            messages.success(request, _("Thank you for your rating."))
            return redirect("cases_portal:detail", reference=case.reference)
    return _detail(request, case, rating_form=form)


@login_required
def attachment_download(request: HttpRequest, reference: str, attachment_id) -> FileResponse:
    """A public attachment of one's own case, always as a download, never sniffed."""
    case = selectors.case_for_requester(request.user, reference)
    attachment = get_object_or_404(case.attachments.filter(public=True), pk=attachment_id)
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404 from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


# --- public ---------------------------------------------------------------------------------


def known_problems(request: HttpRequest) -> HttpResponse:
    """Open outages, voltage problems, defects and leaks by area: no personal data."""
    everywhere = list(selectors.known_problems().select_related("territory__parent"))
    territories = sorted(
        {t for p in everywhere for t in (p.territory, getattr(p.territory, "parent", None)) if t},
        key=lambda t: t.name,
    )
    chosen = next((t for t in territories if t.code == request.GET.get("territory")), None)
    problems = (
        selectors.known_problems(territory=chosen).select_related("territory__parent")
        if chosen
        else everywhere
    )
    groups: dict[int | None, dict] = {}
    for problem in problems:
        group = groups.setdefault(
            problem.territory_id, {"territory": problem.territory, "problems": []}
        )
        group["problems"].append(problem)
    ordered = sorted(
        groups.values(), key=lambda g: (g["territory"] is None, str(g["territory"] or ""))
    )
    return render(
        request,
        "cases/portal/known_problems.html",
        {"groups": ordered, "territories": territories, "chosen": chosen},
    )
