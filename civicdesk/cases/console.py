"""The call-centre console: start a call, find the caller by phone or account number, see who
they are, their accounts and open cases, raise a case for them or add a note to one, end the
call with its reason, outcome and first-contact resolution.

Built for a caller on the line: one page, the next field focused, Enter submits; the lookup and
the caller panel update in place with htmx (and work as plain links and forms without it).
Who the caller is travels in the query string (``?account=<number>`` or ``?person=<uuid>``),
so a reload or the back button shows the same caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from civicdesk.cases import calls, reports, staff_selectors
from civicdesk.cases.forms import choice_values
from civicdesk.cases.models import Call, Case, Priority, translated
from civicdesk.cases.services import Intake
from civicdesk.cases.staff_views import VISIBILITY
from civicdesk.core.decorators import staff_required
from civicdesk.core.forms import apply_validation_error
from civicdesk.core.slots import Subject
from civicdesk.registry import selectors as registry_selectors
from civicdesk.registry.search import MAX_QUERY_LENGTH, SearchResult, customer_search

TAKE_CALLS = "cases.add_call"
ADD_CASE = "cases.add_case"
WORK = "cases.work_case"


# --- who is calling -------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The identified caller: by account (`account` is its number) or as a portal user
    (`person` is their public id); `subject` holds them and their accounts."""

    subject: Subject
    account: str = ""
    person: str = ""

    @property
    def name(self) -> str:
        if self.subject.user is not None:
            return self.subject.user.full_name or self.subject.user.email
        holders = [h.full_name for a in self.subject.accounts for h in a.holders.all()]
        return ", ".join(dict.fromkeys(holders)) or self.account

    @property
    def query(self) -> str:
        return urlencode({"person": self.person} if self.person else {"account": self.account})


def _caller(account: str = "", person: str = "") -> Caller | None:
    """The caller these parameters name; Http404 when they name nobody."""
    account, person = (account or "").strip(), (person or "").strip()
    if person:
        try:
            public_id = uuid.UUID(person)
        except ValueError as exc:
            raise Http404 from exc
        return Caller(registry_selectors.subject_for_user(public_id), person=str(public_id))
    if account:
        return Caller(registry_selectors.subject_for_account(account), account=account)
    return None


@dataclass(frozen=True)
class Hit:
    result: SearchResult
    account: str = ""
    person: str = ""


def _hits(query: str) -> list[Hit]:
    """Search results with the account number or person each one leads to."""
    hits = []
    for result in customer_search(query, limit=15):
        try:
            kwargs = resolve(result.url).kwargs
        except Resolver404:
            continue
        if "account_number" in kwargs:
            hits.append(Hit(result, account=kwargs["account_number"]))
        elif "public_id" in kwargs:
            hits.append(Hit(result, person=str(kwargs["public_id"])))
    return hits


# --- forms ----------------------------------------------------------------------------------


class StartForm(forms.Form):
    caller_phone = forms.CharField(
        label=gettext_lazy("Caller's number"),
        required=False,
        max_length=32,
        help_text=gettext_lazy("If the phone shows it: we look them up straight away."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "autofocus": True}),
    )


class LookupForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Phone or account number"),
        max_length=MAX_QUERY_LENGTH,
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "inputmode": "search"}
        ),
    )


class EndForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for the call"),
        max_length=calls.REASON_MAX,
        widget=forms.TextInput(attrs={"list": "call-reasons", "autocomplete": "off"}),
    )
    outcome = forms.ChoiceField(label=gettext_lazy("Outcome"), choices=Call.Outcome.choices)
    first_contact_resolution = forms.BooleanField(
        label=gettext_lazy("Resolved on this first contact"), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="end", **kwargs)


def _question_field(question: dict) -> forms.Field:
    """A form field for an intake question, compact for an agent with a caller waiting (the
    portal's radios are cases.forms.question_field). The form requires nothing itself: the
    service checks the answers (one rule, one message); the browser is told which are required."""
    label = translated(question.get("label") or {}) or question["key"]
    kind = question.get("type", "text")
    if kind == "choice":
        choices = choice_values(question)
        field = forms.ChoiceField(label=label, required=False, choices=[("", "—"), *choices])
    elif kind == "boolean":
        field = forms.ChoiceField(
            label=label,
            required=False,
            choices=[("", "—"), ("yes", _("Yes")), ("no", _("No"))],
        )
    else:
        widget = {
            "date": forms.DateInput(attrs={"type": "date"}),
            "number": forms.TextInput(attrs={"inputmode": "decimal"}),
        }.get(kind, forms.TextInput())
        field = forms.CharField(label=label, required=False, widget=widget)
    if question.get("required"):
        field.widget.attrs.update({"required": True, "aria-required": "true"})
        field.is_question_required = True
    return field


class CaseForm(forms.Form):
    """A case raised for the caller. The category's intake questions become `answer_<key>`
    fields; the service checks the answers."""

    caller_account = forms.CharField(required=False, widget=forms.HiddenInput)
    caller_person = forms.CharField(required=False, widget=forms.HiddenInput)
    category = forms.ChoiceField(label=gettext_lazy("Category"))
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        max_length=8000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    account = forms.ChoiceField(label=gettext_lazy("Account concerned"), required=False)
    priority = forms.ChoiceField(label=gettext_lazy("Priority"), required=False)
    contact_name = forms.CharField(label=gettext_lazy("Caller's name"), required=False)
    contact_phone = forms.CharField(
        label=gettext_lazy("Phone to call back"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    contact_email = forms.EmailField(label=gettext_lazy("E-mail"), required=False)

    def __init__(self, *args, caller: Caller | None, category_code: str = "", **kwargs):
        super().__init__(*args, prefix="case", **kwargs)
        self.caller = caller
        categories = {c.code: c for c in staff_selectors.categories_for_staff()}
        self.categories = categories
        self.fields["category"].choices = [
            ("", "—"),
            *(
                (c.code, f"{c.parent.name} › {c.name}" if c.parent else c.name)
                for c in categories.values()
            ),
        ]
        self.fields["priority"].choices = [("", _("The category's default")), *Priority.choices]
        accounts = caller.subject.accounts if caller else []
        self.accounts = {a.number: a for a in accounts}
        self.fields["account"].choices = [
            ("", _("None")),
            *((a.number, f"{a.number} · {a.premises}") for a in accounts),
        ]
        if caller is not None and caller.subject.user is not None:
            for name in ("contact_name", "contact_phone", "contact_email"):
                del self.fields[name]
        code = self.data.get(self.add_prefix("category")) if self.is_bound else category_code
        self.category = categories.get(code or "")
        self.question_keys = []
        for question in self.category.questions if self.category else []:
            name = f"answer_{question['key']}"
            self.fields[name] = _question_field(question)
            self.question_keys.append((question["key"], name))

    @property
    def question_fields(self):
        return [self[name] for _, name in self.question_keys]

    @property
    def main_fields(self):
        answers = {name for _, name in self.question_keys}
        return [f for f in self.visible_fields() if f.name not in answers]

    def answers(self) -> dict:
        answers = {}
        for key, name in self.question_keys:
            value = self.cleaned_data.get(name)
            if value not in (None, ""):
                answers[key] = value.isoformat() if hasattr(value, "isoformat") else value
        return answers

    def field_for(self, key: str) -> str | None:
        """The form field a service error key belongs to."""
        if key.startswith("answers."):
            name = f"answer_{key.removeprefix('answers.')}"
            return name if name in self.fields else None
        if key in ("contact_email", "contact_phone") and "contact_phone" in self.fields:
            return "contact_phone"
        return key if key in self.fields else None


class NoteForm(forms.Form):
    caller_account = forms.CharField(required=False, widget=forms.HiddenInput)
    caller_person = forms.CharField(required=False, widget=forms.HiddenInput)
    case = forms.ChoiceField(label=gettext_lazy("Case"))
    text = forms.CharField(
        label=gettext_lazy("Note"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    visibility = forms.ChoiceField(
        label=gettext_lazy("Who sees it"),
        choices=VISIBILITY,
        initial="internal",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, cases: list[Case], **kwargs):
        super().__init__(*args, prefix="note", **kwargs)
        self.cases = {case.reference: case for case in cases}
        self.fields["case"].choices = [
            (case.reference, f"{case.reference} · {case.subject}") for case in cases
        ]


# --- the page -------------------------------------------------------------------------------


def _console_url(caller: Caller | None = None, **params) -> str:
    query = dict(params)
    if caller is not None:
        query.update({"person": caller.person} if caller.person else {"account": caller.account})
    query = {k: v for k, v in query.items() if v}
    url = reverse("cases:console")
    return f"{url}?{urlencode(query)}" if query else url


def _hidden(caller: Caller | None) -> dict:
    return {
        "caller_account": caller.account if caller else "",
        "caller_person": caller.person if caller else "",
    }


def _end_initial(call: Call | None) -> dict:
    if call is None or call.case is None:
        return {"outcome": Call.Outcome.RESOLVED, "first_contact_resolution": True}
    created = call.case.created_at >= call.started_at
    return {"outcome": Call.Outcome.CASE_CREATED if created else Call.Outcome.CASE_UPDATED}


def _caller_context(request, caller: Caller | None, call: Call | None, **bound) -> dict:
    open_cases = staff_selectors.cases_for_subject(caller.subject) if caller else []
    initial = _hidden(caller)
    if caller is not None:
        accounts = caller.subject.accounts
        if caller.account or len(accounts) == 1:
            initial["account"] = caller.account or accounts[0].number
        if caller.subject.user is None:
            holders = [h for a in accounts for h in a.holders.all()]
            if len(holders) == 1:
                initial["contact_name"] = holders[0].full_name
                initial["contact_phone"] = str(holders[0].phone or "")
    if call is not None and call.caller_phone:
        initial["contact_phone"] = call.caller_phone
    context = {
        "caller": caller,
        "call": call,
        "open_cases": open_cases,
        "can_add_case": request.user.has_perm(ADD_CASE),
        "can_note": request.user.has_perm(WORK),
        "case_form": CaseForm(caller=caller, initial=initial),
        "note_form": NoteForm(cases=open_cases, initial={**_hidden(caller)}),
    }
    context.update(bound)
    return context


def _page(request: HttpRequest, *, status: int = 200, **bound) -> HttpResponse:
    call = staff_selectors.call_active(request.user)
    caller = bound.pop("caller", None)
    if caller is None:
        caller = _caller(request.GET.get("account", ""), request.GET.get("person", ""))
    lookup = LookupForm(request.GET or None)
    query = lookup.cleaned_data["q"].strip() if lookup.is_bound and lookup.is_valid() else ""
    today = reports.last_days(1)
    context = {
        "call": call,
        "elapsed": int((timezone.now() - call.started_at).total_seconds()) if call else 0,
        "start_form": bound.pop("start_form", StartForm()),
        "end_form": bound.pop("end_form", EndForm(initial=_end_initial(call))),
        "lookup_form": lookup if query else LookupForm(),
        "query": query,
        "hits": _hits(query) if query else [],
        "recent": staff_selectors.calls_recent(request.user),
        "today": reports.call_report(today, agent=request.user).total,
        "reasons": [c.name for c in staff_selectors.categories_for_staff()],
        **_caller_context(request, caller, call, **bound),
    }
    return render(request, "cases/staff/console.html", context, status=status)


def _console_view(view):
    return staff_required(permission_required(TAKE_CALLS, raise_exception=True)(view))


@require_GET
@vary_on_headers("HX-Request")
@_console_view
def console(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_GET
@vary_on_headers("HX-Request")
@_console_view
def lookup(request: HttpRequest) -> HttpResponse:
    """The lookup's results (htmx), or the console showing them."""
    if not request.htmx or request.htmx.history_restore_request:
        return redirect(_console_url(q=request.GET.get("q", "")))
    form = LookupForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    return render(
        request,
        "cases/staff/console_results.html",
        {"query": query, "hits": _hits(query) if query else []},
    )


@require_POST
@_console_view
def identify(request: HttpRequest) -> HttpResponse:
    """This is the caller: recorded on the open call, if there is one, and shown."""
    caller = _caller(request.POST.get("account", ""), request.POST.get("person", ""))
    if caller is None:
        raise Http404
    call = staff_selectors.call_active(request.user)
    if call is not None:
        calls.call_identify(
            call=call,
            caller=caller.subject.user,
            account_number=caller.account
            or (caller.subject.accounts[0].number if len(caller.subject.accounts) == 1 else ""),
        )
    if request.htmx:
        response = render(
            request,
            "cases/staff/console_caller.html",
            _caller_context(request, caller, staff_selectors.call_active(request.user)),
        )
        response["HX-Push-Url"] = _console_url(caller)
        return response
    return redirect(_console_url(caller))


@require_GET
@_console_view
def questions(request: HttpRequest) -> HttpResponse:
    """The chosen category's intake questions, for the new-case form (htmx)."""
    form = CaseForm(caller=None, category_code=request.GET.get("case-category", ""))
    return render(request, "cases/staff/console_questions.html", {"case_form": form})


@require_POST
@_console_view
def start(request: HttpRequest) -> HttpResponse:
    form = StartForm(request.POST)
    if form.is_valid():
        try:
            call = calls.call_start(
                agent=request.user, caller_phone=form.cleaned_data["caller_phone"]
            )
        except ValidationError as exc:
            if "call" in exc.message_dict:  # already on a call: show that one
                messages.error(request, " ".join(exc.message_dict["call"]))
                return redirect("cases:console")
            apply_validation_error(form, exc)
        else:
            return redirect(_console_url(q=call.caller_phone))
    return _page(request, status=400, start_form=form)


def _open_call(request: HttpRequest) -> Call:
    call = staff_selectors.call_active(request.user)
    if call is None:
        messages.error(request, _("There is no call in progress: start one first."))
    return call


@require_POST
@_console_view
def end(request: HttpRequest) -> HttpResponse:
    call = _open_call(request)
    if call is None:
        return redirect("cases:console")
    form = EndForm(request.POST)
    if form.is_valid():
        try:
            call = calls.call_end(call=call, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                _("Call ended after %(duration)s.")
                % {"duration": reports.duration_display(call.handling_seconds)},
            )
            return redirect("cases:console")
    caller = _caller(request.GET.get("account", ""), request.GET.get("person", ""))
    return _page(request, status=400, end_form=form, caller=caller)


def _posted_caller(request: HttpRequest, prefix: str) -> Caller | None:
    return _caller(
        request.POST.get(f"{prefix}-caller_account", ""),
        request.POST.get(f"{prefix}-caller_person", ""),
    )


@require_POST
@_console_view
@permission_required(ADD_CASE, raise_exception=True)
def case_create(request: HttpRequest) -> HttpResponse:
    """A case for the caller, linked to the call in progress."""
    caller = _posted_caller(request, "case")
    call = _open_call(request)
    if call is None:
        return redirect(_console_url(caller))
    form = CaseForm(request.POST, caller=caller)
    if form.is_valid():
        data = form.cleaned_data
        account = form.accounts.get(data["account"] or "")
        intake = Intake(
            category=form.category,
            channel="phone",
            subject=data["subject"],
            description=data["description"],
            requester=caller.subject.user if caller else None,
            contact_name=data.get("contact_name", ""),
            contact_phone=data.get("contact_phone", ""),
            contact_email=data.get("contact_email", ""),
            priority=data["priority"],
            answers=form.answers(),
            concerns=[account] if account else [],
        )
        try:
            if intake.contact_phone:
                intake.contact_phone = calls.phone_normalise(intake.contact_phone)
            case = calls.call_case_create(call=call, intake=intake)
        except ValidationError as exc:
            for key, errors in exc.message_dict.items():
                target = form.field_for("contact_phone" if key == "caller_phone" else key)
                form.add_error(target, errors)
        else:
            messages.success(
                request,
                _("Case %(reference)s raised for the caller.") % {"reference": case.reference},
            )
            return redirect(_console_url(caller) + "#caller")
    return _page(request, status=400, caller=caller, case_form=form)


@require_POST
@_console_view
@permission_required(WORK, raise_exception=True)
def note(request: HttpRequest) -> HttpResponse:
    """A note on one of the caller's open cases, linked to the call in progress."""
    caller = _posted_caller(request, "note")
    call = _open_call(request)
    if call is None:
        return redirect(_console_url(caller))
    cases = staff_selectors.cases_for_subject(caller.subject) if caller else []
    form = NoteForm(request.POST, cases=cases)
    if form.is_valid():
        case = form.cases[form.cleaned_data["case"]]
        try:
            calls.call_case_note(
                call=call,
                case=case,
                text=form.cleaned_data["text"],
                public=form.cleaned_data["visibility"] == "public",
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request, _("Note added to %(reference)s.") % {"reference": case.reference}
            )
            return redirect(_console_url(caller) + "#caller")
    return _page(request, status=400, caller=caller, note_form=form)
