"""Back-office pages for metering (mounted at /staff/metering/): find a meter by serial or
account, a meter's page (details, registers, readings with their status and reasons, the
replacement chain, consumption alerts, and a form to enter a caller's reading), and the queue of
readings flagged for review, oldest first, to accept or reject with a note. The rules are
metering's (civicdesk.metering.services); these views only parse, call and show."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import DecimalField, OuterRef, Prefetch, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicdesk.core.decorators import staff_required
from civicdesk.core.forms import apply_validation_error
from civicdesk.metering import reasons as reason_texts
from civicdesk.metering import selectors, services
from civicdesk.metering import validation as v
from civicdesk.metering.models import (
    QUANTITY,
    REGISTER_LABELS,
    ConsumptionAlert,
    Meter,
    MeterRegister,
    Reading,
)
from civicdesk.metering.slots import open_alerts

VIEW_METER = "metering.view_meter"
VIEW_READING = "metering.view_reading"
ADD_READING = "metering.add_reading"
REVIEW_READING = "metering.review_reading"
PAGE = 50
CHAIN_LIMIT = 20


# --- forms ----------------------------------------------------------------------------------


class SearchForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Serial or account number"),
        max_length=60,
        required=False,
    )


class DecisionForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note"),
        help_text=gettext_lazy("Why you accept or reject it; kept with the decision."),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReadingEntryForm(forms.Form):
    """One field per register of the meter (named by the register, as the services name it),
    when the dial was read, and an optional photo."""

    taken_at = forms.DateTimeField(
        label=gettext_lazy("Read on"),
        help_text=gettext_lazy("When the caller read the dial; now when left empty."),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    photo = forms.FileField(label=gettext_lazy("Photo of the dial"), required=False)

    def __init__(self, *args, meter: Meter, **kwargs):
        super().__init__(*args, **kwargs)
        self.meter = meter
        registers = {}
        for register in meter.registers:
            label = (
                _("Reading (%(unit)s)") % {"unit": meter.unit}
                if len(meter.registers) == 1
                else _("%(register)s · %(label)s (%(unit)s)")
                % {
                    "register": register,
                    "label": REGISTER_LABELS.get(register, register),
                    "unit": meter.unit,
                }
            )
            registers[register] = forms.CharField(
                label=label,
                max_length=30,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            )
        self.fields = {**registers, **self.fields}

    @property
    def values(self) -> dict[str, str]:
        return {register: self.cleaned_data[register] for register in self.meter.registers}


# --- helpers --------------------------------------------------------------------------------


def _meter_or_404(meter_id) -> Meter:
    meter = (
        Meter.objects.select_related(
            "account", "premises__building", "building", "replaces", "replaced_by"
        )
        .prefetch_related(
            Prefetch("register_states", queryset=MeterRegister.objects.order_by("register"))
        )
        .filter(public_id=meter_id)
        .first()
    )
    if meter is None:
        raise Http404
    return meter


def _chain(meter: Meter) -> list[Meter]:
    """The meters this one replaced and those that replaced it, oldest first, itself among
    them."""
    before: list[Meter] = []
    current = meter
    while current.replaces_id and len(before) < CHAIN_LIMIT:
        current = Meter.objects.select_related("replaces").get(pk=current.replaces_id)
        before.append(current)
    after: list[Meter] = []
    current = meter
    while len(after) < CHAIN_LIMIT:
        following = Meter.objects.filter(replaces=current).first()
        if following is None:
            break
        after.append(following)
        current = following
    return [*reversed(before), meter, *after]


def _with_texts(readings) -> list[Reading]:
    rows = list(readings)
    for reading in rows:
        codes = [code for code in reading.reasons.split(",") if code]
        reading.reason_texts = [reason_texts.reason_text(code) for code in codes]
    return rows


def _average(state: MeterRegister | None, months: int) -> Decimal | None:
    """The register's trailing monthly average, as the spike check takes it."""
    if state is None or not state.recent:
        return None
    values = []
    for _period, quantity in state.recent[-months:]:
        try:
            values.append(Decimal(str(quantity)))
        except ArithmeticError:
            continue
    if not values:
        return None
    return (sum(values) / len(values)).quantize(v.STEP)


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# --- search ---------------------------------------------------------------------------------


@require_GET
@staff_required
@permission_required(VIEW_METER, raise_exception=True)
def meter_search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    text = form.cleaned_data["q"].strip() if form.is_valid() else ""
    page = None
    if text:
        meters = (
            Meter.objects.filter(
                Q(serial__icontains=text)
                | Q(account__number=text)
                | Q(account__number__startswith=text)
            )
            .select_related("account", "premises__building", "building")
            .order_by("serial")
        )
        page = Paginator(meters, PAGE).get_page(request.GET.get("page"))
        if page.paginator.count == 1 and not request.GET.get("page"):
            return redirect("backoffice:metering_meter", page.object_list[0].public_id)
    return render(
        request,
        "backoffice/metering/search.html",
        {
            "form": form,
            "text": text,
            "page": page,
            "query": urlencode({"q": text}),
            "flagged_count": (
                Reading.objects.filter(status=Reading.Status.FLAGGED).count()
                if request.user.has_perm(REVIEW_READING)
                else None
            ),
        },
    )


# --- the meter ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_required
@permission_required(VIEW_METER, raise_exception=True)
def meter_detail(request: HttpRequest, meter_id) -> HttpResponse:
    meter = _meter_or_404(meter_id)
    can_enter = request.user.has_perm(ADD_READING)
    form = ReadingEntryForm(meter=meter) if can_enter else None
    status = 200
    if request.method == "POST":
        if not can_enter:
            return HttpResponse(status=403)
        form = ReadingEntryForm(request.POST, request.FILES, meter=meter)
        if form.is_valid():
            try:
                outcomes = services.readings_submit(
                    meter=meter,
                    values=form.values,
                    taken_at=form.cleaned_data.get("taken_at"),
                    source=Reading.Source.STAFF,
                    submitted_by=request.user,
                    photo=form.cleaned_data.get("photo"),
                    keep_rejected=True,
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                _announce_outcomes(request, meter, outcomes)
                return redirect("backoffice:metering_meter", meter.public_id)
        status = 400
    settings = selectors.metering_settings()
    months = settings.spike_history_months if settings else 6
    states = {state.register: state for state in meter.register_states.all()}
    registers = [
        {
            "register": register,
            "label": REGISTER_LABELS.get(register, register),
            "state": states.get(register),
            "average": _average(states.get(register), months),
        }
        for register in meter.registers
    ]
    readings = (
        Reading.objects.filter(meter=meter)
        .select_related("submitted_by", "reviewed_by")
        .order_by("-taken_at", "-created_at", "-pk")
    )
    page = Paginator(readings, PAGE).get_page(request.GET.get("page"))
    page.object_list = _with_texts(page.object_list)
    alerts = list(
        ConsumptionAlert.objects.filter(meter=meter)
        .select_related("case", "reading")
        .order_by("-period", "-created_at")[:PAGE]
    )
    open_ids = set(open_alerts().filter(meter=meter).values_list("pk", flat=True))
    for alert in alerts:
        alert.is_open = alert.pk in open_ids
    return render(
        request,
        "backoffice/metering/meter.html",
        {
            "meter": meter,
            "registers": registers,
            "chain": _chain(meter),
            "page": page,
            "alerts": alerts,
            "form": form,
            "can_review": request.user.has_perm(REVIEW_READING),
        },
        status=status,
    )


def _announce_outcomes(request: HttpRequest, meter: Meter, outcomes) -> None:
    multi = len(meter.registers) > 1
    for outcome in outcomes:
        text = f"{outcome.register}: {outcome.message}" if multi else outcome.message
        if outcome.verdict.status == v.ACCEPTED:
            messages.success(request, text)
        elif outcome.verdict.status == v.FLAGGED:
            messages.warning(request, text)
        else:
            messages.error(request, text)


# --- the review queue -----------------------------------------------------------------------


@require_GET
@staff_required
@permission_required(REVIEW_READING, raise_exception=True)
def flagged_queue(request: HttpRequest) -> HttpResponse:
    previous = (
        Reading.objects.filter(
            meter=OuterRef("meter"),
            register=OuterRef("register"),
            status=Reading.Status.ACCEPTED,
            taken_at__lt=OuterRef("taken_at"),
        )
        .order_by("-taken_at", "-pk")
        .values("value")[:1]
    )
    flagged = (
        Reading.objects.filter(status=Reading.Status.FLAGGED)
        .select_related("meter__account", "meter__premises__building", "meter__building")
        .prefetch_related("meter__register_states")
        .annotate(previous_value=Subquery(previous, output_field=DecimalField(**QUANTITY)))
        .order_by("created_at", "pk")
    )
    page = Paginator(flagged, PAGE).get_page(request.GET.get("page"))
    settings = selectors.metering_settings()
    months = settings.spike_history_months if settings else 6
    rows = _with_texts(page.object_list)
    for reading in rows:
        states = {state.register: state for state in reading.meter.register_states.all()}
        if reading.previous_value is not None:  # SQLite gives a subquery's decimal unscaled
            reading.previous_value = Decimal(reading.previous_value).quantize(v.STEP)
        reading.average = _average(states.get(reading.register), months)
        reading.ratio = (
            (reading.consumption / reading.average).quantize(Decimal("0.1"))
            if reading.consumption is not None and reading.average
            else None
        )
    page.object_list = rows
    return render(
        request,
        "backoffice/metering/queue.html",
        {"page": page},
    )


@require_POST
@staff_required
@permission_required(REVIEW_READING, raise_exception=True)
def reading_review(request: HttpRequest, reading_id) -> HttpResponse:
    reading = Reading.objects.select_related("meter").filter(public_id=reading_id).first()
    if reading is None:
        raise Http404
    decision = request.POST.get("decision")
    if decision not in ("accept", "reject"):
        return HttpResponse(_("Choose accept or reject."), status=400)
    back = _next_url(request, reverse("backoffice:metering_queue"))
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("note", [])))
        return redirect(back)
    try:
        services.reading_review(
            reading=reading,
            accept=decision == "accept",
            actor=request.user,
            note=form.cleaned_data["note"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if decision == "accept":
            messages.success(
                request,
                _("Reading %(value)s of meter %(serial)s accepted.")
                % {"value": reading.value, "serial": reading.meter.serial},
            )
        else:
            messages.success(
                request,
                _("Reading %(value)s of meter %(serial)s rejected.")
                % {"value": reading.value, "serial": reading.meter.serial},
            )
    return redirect(back)
