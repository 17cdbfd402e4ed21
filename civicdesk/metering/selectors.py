"""Reads for metering: the operator's settings and the rules they make."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from civicdesk.metering.jurisdictions import defaults_for
from civicdesk.metering.models import MeteringSettings
from civicdesk.metering.validation import Rules


def metering_settings() -> MeteringSettings | None:
    """The operator's metering settings, created with the jurisdiction's defaults the first
    time; None when no operator is configured yet."""
    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    if operator is None:
        return None
    found = MeteringSettings.objects.filter(operator=operator).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return MeteringSettings.objects.create(
                operator=operator, **defaults_for(operator.jurisdiction)
            )
    except IntegrityError:  # created by a concurrent request
        return MeteringSettings.objects.get(operator=operator)


def validation_rules(settings: MeteringSettings | None = None) -> Rules:
    settings = settings if settings is not None else metering_settings()
    if settings is None:
        return Rules()
    return Rules(
        window_start_day=settings.window_start_day,
        window_end_day=settings.window_end_day,
        reject_outside_window=settings.outside_window == MeteringSettings.OutsideWindow.REJECT,
        spike_factor=settings.spike_factor,
        spike_history_months=settings.spike_history_months,
    )
