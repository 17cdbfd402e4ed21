from celery import shared_task

from civicdesk.core.idempotency import idempotency_keys_purge


@shared_task
def purge_idempotency_keys() -> int:
    """Delete expired Idempotency-Keys (scheduled by Celery beat every hour)."""
    return idempotency_keys_purge()
