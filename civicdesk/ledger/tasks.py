"""Ledger tasks: thin wrappers around services, scheduled by Celery beat."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def payments_reconcile_task(older_than_minutes: int = 15, limit: int = 500) -> int:
    """Ask the gateways about payments whose outcome is still unknown and settle them (every
    few minutes from Celery beat). Returns how many became final."""
    from datetime import timedelta

    from civicdesk.ledger.payments import payments_reconcile

    return payments_reconcile(older_than=timedelta(minutes=older_than_minutes), limit=limit)
