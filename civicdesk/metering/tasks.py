"""Scheduled metering work; thin wrappers around the services (beat entries: docs/metering.md)."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from civicdesk.metering import services


@shared_task(acks_late=True)
def estimates_generate_task(period: str | None = None) -> int:
    """Estimate a period's missing readings: ``period`` ("YYYY-MM-DD", any day of it) or the
    latest one whose submission window has closed. Idempotent, so beat may run it daily."""
    target = date.fromisoformat(period) if period else services.last_closed_period()
    return services.estimates_generate(period=target)


@shared_task(acks_late=True)
def meter_verification_reminders_task() -> int:
    """Remind residents of meters due for verification (once per due date)."""
    return services.verification_reminders_send()
