"""Billing tasks: thin wrappers around the run's services (one task per chunk)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, max_retries=3, default_retry_delay=30)
def billing_chunk_task(chunk_id: int) -> int | None:
    """Bill one chunk of a run; the worker that finishes the last chunk closes the run."""
    from civicdesk.billing.models import RunChunk
    from civicdesk.billing.runs import billing_chunk_process, billing_run_finish

    done = billing_chunk_process(chunk_id)
    run_id = RunChunk.objects.filter(pk=chunk_id).values_list("run_id", flat=True).first()
    if run_id is not None:
        billing_run_finish(run_id)
    return done


@shared_task(acks_late=True, max_retries=3, default_retry_delay=60)
def bills_send_task(run_id: int, base_url: str = "") -> dict:
    """E-mail a finished run's new and changed bills (safe to repeat: see billing.delivery)."""
    from dataclasses import asdict

    from civicdesk.billing.delivery import bills_send

    return asdict(bills_send(run_id, base_url=base_url))
