"""Metering's part of the customer 360 page: the meters on the accounts in view, each with its
registers' last readings, status and verification date, and the open consumption alerts and
readings flagged for review, each linking to the meter's back-office page. Four queries however
many accounts, meters and readings (one when the accounts have no meters). Registered from
MeteringConfig.ready()."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# An alert with no case stays open this long; one with a case, while the case is open.
ALERT_OPEN_DAYS = 90
FLAGGED_SHOWN = 20


def open_alerts(now=None) -> QuerySet:
    """Consumption alerts still worth a look: their case is open, or they have no case and
    were raised in the last ALERT_OPEN_DAYS days."""
    from civicdesk.cases import workflow
    from civicdesk.metering.models import ConsumptionAlert

    now = now or timezone.now()
    return ConsumptionAlert.objects.filter(
        Q(case__status__in=workflow.OPEN)
        | Q(case__isnull=True, created_at__gte=now - timedelta(days=ALERT_OPEN_DAYS))
    )


def _meters(request, subject) -> dict | None:
    from civicdesk.metering.models import Meter, MeterRegister, Reading

    if not subject.accounts:
        return None
    ids = subject.account_ids
    meters = list(
        Meter.objects.filter(account_id__in=ids)
        .select_related("account")
        .prefetch_related(
            Prefetch("register_states", queryset=MeterRegister.objects.order_by("register"))
        )
        .order_by("account__number", "status", "resource", "serial")
    )
    if not meters:
        return {"meters": [], "flagged": [], "alerts": [], "today": timezone.localdate()}
    for meter in meters:
        states = {state.register: state for state in meter.register_states.all()}
        meter.last_readings = [(register, states.get(register)) for register in meter.registers]
    meter_ids = [meter.pk for meter in meters]
    flagged = list(
        Reading.objects.filter(meter_id__in=meter_ids, status=Reading.Status.FLAGGED)
        .select_related("meter")
        .order_by("created_at", "pk")[:FLAGGED_SHOWN]
    )
    alerts = list(
        open_alerts()
        .filter(meter_id__in=meter_ids)
        .select_related("meter", "case")
        .order_by("-period", "-created_at")
    )
    return {
        "meters": meters,
        "flagged": flagged,
        "alerts": alerts,
        "today": timezone.localdate(),
    }


def register() -> None:
    from civicdesk.core import slots

    slots.register(
        "metering.meters",
        title=_("Meters and readings"),
        order=40,
        template="backoffice/metering/slot_meters.html",
        context=_meters,
        permission="metering.view_meter",
    )
