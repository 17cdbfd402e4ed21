"""Resident pages for meters: the account's meters with their previous readings and a form to
send new ones (checked while typing), a meter's reading history and chart, and the account's
monthly consumption. The rules live in civicdesk.metering (validation, services, selectors)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from civicdesk.metering import chart, reasons, selectors, services
from civicdesk.metering import validation as v
from civicdesk.metering.models import REGISTER_LABELS, Meter, MeterRegister, Reading, Resource
from civicdesk.portal.meters_forms import ReadingForm, prefix_for
from civicdesk.registry.selectors import account_for_user

HISTORY_PAGE_SIZE = 20
MONTHS = 36

UNIT_LABELS = {
    "m3": gettext_lazy("m³"),
    "kWh": gettext_lazy("kWh"),
    "Gcal": gettext_lazy("Gcal"),
}


# --- presentation helpers -------------------------------------------------------------------


def unit_label(unit: str) -> str:
    return str(UNIT_LABELS.get(unit, unit))


def quantity_text(value: Decimal | None) -> str:
    """A quantity in the active language's number format, without trailing zeros."""
    if value is None:
        return ""
    value = Decimal(value)
    whole = value == value.to_integral_value()
    return formats.number_format(value.quantize(Decimal(1)) if whole else value.normalize())


def _month(period: date) -> str:
    return formats.date_format(period, "F Y")


def _month_short(period: date) -> str:
    return formats.date_format(period, "M y")


def consumption_chart(series) -> chart.Chart:
    return chart.monthly_bars(
        series, label=_month, tick_label=_month_short, value_label=quantity_text
    )


@dataclass(frozen=True)
class Previous:
    """A register's previous reading, as the resident sees it on the meter card."""

    register: str
    label: str
    value: Decimal | None
    taken_at: datetime | None
    estimated_since: int  # periods estimated since that reading

    @property
    def value_text(self) -> str:
        return quantity_text(self.value)

    def help_text(self, unit: str) -> str:
        if self.value is None:
            return _("No reading of this meter on record yet.")
        return _("Previous reading: %(value)s %(unit)s, taken on %(date)s") % {
            "value": self.value_text,
            "unit": unit,
            "date": formats.date_format(self.taken_at, "DATE_FORMAT") if self.taken_at else "—",
        }


def _previous(meter: Meter) -> dict[str, Previous]:
    states = {state.register: state for state in meter.register_states.all()}
    out = {}
    for register in meter.registers:
        state: MeterRegister | None = states.get(register)
        out[register] = Previous(
            register=register,
            label=str(REGISTER_LABELS.get(register, register)),
            value=state.last_real_value if state else None,
            taken_at=state.last_real_taken_at if state else None,
            estimated_since=state.estimated_periods if state else 0,
        )
    return out


@dataclass
class MeterCard:
    meter: Meter
    unit: str
    previous: list[Previous]
    form: ReadingForm | None  # None when the meter takes no readings (removed, faulty)
    verification: str  # "", "soon" or "overdue"

    @property
    def key(self) -> str:
        """The meter's id on the page (its public id, never the database key)."""
        return prefix_for(self.meter)

    @property
    def single(self) -> bool:
        return len(self.previous) == 1


def _verification(meter: Meter, today: date, days: int) -> str:
    due = meter.verification_due_on
    if due is None or meter.status == Meter.Status.REMOVED:
        return ""
    if due < today:
        return "overdue"
    if due <= today + timedelta(days=days):
        return "soon"
    return ""


def _card(meter: Meter, *, today: date, reminder_days: int, data=None, files=None) -> MeterCard:
    previous = _previous(meter)
    unit = unit_label(meter.unit)
    form = None
    if meter.status == Meter.Status.ACTIVE:
        form = ReadingForm(
            data,
            files,
            meter=meter,
            previous={r: p.help_text(unit) for r, p in previous.items()},
        )
    return MeterCard(
        meter=meter,
        unit=unit,
        previous=list(previous.values()),
        form=form,
        verification=_verification(meter, today, reminder_days),
    )


def _account_meters(account):
    return (
        Meter.objects.filter(account=account)
        .exclude(status=Meter.Status.REMOVED)
        .prefetch_related("register_states")
        .order_by("resource", "serial")
    )


def _meter_of(request: HttpRequest, number: str, meter_id) -> tuple:
    """The account (only a linked resident's) and one of its meters; 404 otherwise."""
    account = account_for_user(request.user, number)
    meter = selectors.meter_for_user(request.user, meter_id)
    if meter.account_id != account.pk:
        raise Http404
    return account, meter


def _render_meters(request: HttpRequest, account, *, bound: MeterCard | None = None):
    settings = selectors.metering_settings()
    reminder_days = settings.verification_reminder_days if settings else 30
    today = selectors.local_today()
    cards = []
    for meter in _account_meters(account):
        if bound is not None and meter.pk == bound.meter.pk:
            cards.append(bound)
        else:
            cards.append(_card(meter, today=today, reminder_days=reminder_days))
    return render(
        request,
        "portal/meters/list.html",
        {"account": account, "cards": cards, "reminder_days": reminder_days},
    )


# --- outcome texts --------------------------------------------------------------------------


def _use_text(verdict: v.Verdict, unit: str) -> str:
    if verdict.consumption is None:
        return _("This is the first reading of this meter on record.")
    return _("Use since last reading: %(quantity)s %(unit)s") % {
        "quantity": quantity_text(verdict.consumption),
        "unit": unit,
    }


def _feedback(outcomes, meter: Meter, unit: str) -> list[dict]:
    """One line per checked register: the use since the last reading, or why it is refused."""
    lines = []
    for outcome in outcomes:
        verdict = outcome.verdict
        label = str(REGISTER_LABELS.get(outcome.register, outcome.register))
        notes = [c for c in verdict.reasons if c != v.SPIKE]
        if verdict.status == v.REJECTED:
            text = reasons.reasons_text(verdict.reasons, verdict.details)
            kind = "error"
        else:
            parts = [_use_text(verdict, unit)]
            if verdict.status == v.FLAGGED:
                parts.append(reasons.reason_text(v.SPIKE, verdict.details))
                parts.append(_("We will accept it after a check."))
            if notes:
                parts.append(reasons.reasons_text(notes, verdict.details))
            text = " ".join(parts)
            kind = "flagged" if verdict.status == v.FLAGGED else "ok"
        lines.append(
            {
                "register": outcome.register,
                "label": label if len(meter.registers) > 1 else "",
                "text": text,
                "kind": kind,
            }
        )
    return lines


# --- views ----------------------------------------------------------------------------------


@login_required
def meters(request: HttpRequest, number: str) -> HttpResponse:
    account = account_for_user(request.user, number)
    return _render_meters(request, account)


@login_required
@require_POST
def meter_check(request: HttpRequest, number: str, meter_id) -> HttpResponse:
    """The instant check while the resident types: a small fragment, nothing written."""
    account, meter = _meter_of(request, number, meter_id)
    unit = unit_label(meter.unit)
    lines: list[dict] = []
    if meter.status == Meter.Status.ACTIVE:
        form = ReadingForm(request.POST, meter=meter, partial=True)
        # The service checks a whole reading: every register typed in (a multi-register
        # meter's first typed register waits for the others).
        if form.is_valid() and len(form.values()) == len(meter.registers):
            try:
                outcomes = services.readings_check(
                    meter=meter, values=form.values(), source=Reading.Source.PORTAL
                )
            except ValidationError as exc:
                lines = [{"register": "", "label": "", "text": " ".join(exc.messages)}]
                lines[0]["kind"] = "error"
            else:
                lines = _feedback(outcomes, meter, unit)
        elif form.is_bound and not form.is_valid():
            lines = [
                {"register": "", "label": "", "text": " ".join(errors), "kind": "error"}
                for name, errors in form.errors.items()
                if name != "photo"
            ]
    return render(
        request, "portal/meters/_check.html", {"meter": meter, "lines": lines, "account": account}
    )


@login_required
@require_POST
def meter_submit(request: HttpRequest, number: str, meter_id) -> HttpResponse:
    account, meter = _meter_of(request, number, meter_id)
    meter = Meter.objects.prefetch_related("register_states").get(pk=meter.pk)
    settings = selectors.metering_settings()
    card = _card(
        meter,
        today=selectors.local_today(),
        reminder_days=settings.verification_reminder_days if settings else 30,
        data=request.POST,
        files=request.FILES,
    )
    form = card.form
    if form is None:
        messages.error(request, _("This meter takes no readings at the moment."))
        return redirect("portal:meters", number=account.number)
    if form.is_valid():
        try:
            outcomes = services.readings_submit(
                meter=meter,
                values=form.values(),
                source=Reading.Source.PORTAL,
                submitted_by=request.user,
                photo=form.cleaned_data.get("photo") or None,
                keep_rejected=False,
            )
        except services.ReadingsRejected as exc:
            for outcome in exc.outcomes:
                if outcome.verdict.status == v.REJECTED:
                    form.add_service_error(
                        ValidationError(
                            {
                                outcome.register: reasons.reasons_text(
                                    outcome.verdict.reasons, outcome.verdict.details
                                )
                            }
                        )
                    )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            flagged = any(o.verdict.status == v.FLAGGED for o in outcomes)
            summary = (
                _("Thank you. Your reading of meter %(serial)s is accepted for review.")
                if flagged
                else _("Thank you. Your reading of meter %(serial)s is accepted.")
            ) % {"serial": meter.serial}
            details = " ".join(line["text"] for line in _feedback(outcomes, meter, card.unit))
            messages.success(request, f"{summary} {details}".strip())
            return redirect(
                reverse("portal:meters", args=[account.number]) + f"#m-{prefix_for(meter)}"
            )
    form.add_error(None, _("Nothing was saved. Correct the reading and send it again."))
    return _render_meters(request, account, bound=card)


@login_required
def meter_detail(request: HttpRequest, number: str, meter_id) -> HttpResponse:
    account, meter = _meter_of(request, number, meter_id)
    unit = unit_label(meter.unit)
    readings = Reading.objects.filter(meter=meter).order_by("-taken_at", "register", "-pk")
    page = Paginator(readings, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "reading": reading,
            "register": str(REGISTER_LABELS.get(reading.register, reading.register)),
            "value": quantity_text(reading.value),
            "consumption": quantity_text(reading.consumption),
            "reasons": reasons.reasons_text(
                [c for c in reading.reasons.split(",") if c and c in v.REASONS]
            ),
        }
        for reading in page.object_list
    ]
    series = selectors.meter_consumption(meter, MONTHS)
    return render(
        request,
        "portal/meters/detail.html",
        {
            "account": account,
            "meter": meter,
            "unit": unit,
            "previous": list(_previous(meter).values()),
            "page": page,
            "rows": rows,
            "chart": consumption_chart(series),
            "months": MONTHS,
        },
    )


@login_required
def consumption(request: HttpRequest, number: str) -> HttpResponse:
    account = account_for_user(request.user, number)
    units = dict(
        Meter.objects.filter(account=account).values_list("resource", "unit").order_by("pk")
    )
    sections = []
    for resource in selectors.account_resources(account):
        series = selectors.account_consumption(account, MONTHS, resource=resource)
        sections.append(
            {
                "resource": resource,
                "label": Resource(resource).label,
                "unit": unit_label(units.get(resource, "")),
                "chart": consumption_chart(series),
            }
        )
    return render(
        request,
        "portal/meters/consumption.html",
        {"account": account, "sections": sections, "months": MONTHS},
    )
