from celery import shared_task
from django.conf import settings

from civicdesk.notifications.services import delivery_send

BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600


def backoff_seconds(attempts: int) -> int:
    """Wait before the next try after `attempts` failed ones: 30 s, 60 s, 120 s, … capped at 1 h."""
    return min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)


@shared_task(bind=True, max_retries=None, acks_late=True)
def deliver(self, delivery_id: str) -> str:
    """Send a delivery; on failure retry with exponential backoff up to the configured limit."""
    try:
        return delivery_send(delivery_id=delivery_id).status
    except Exception as exc:
        from civicdesk.notifications.models import Delivery

        attempts = (
            Delivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).first()
        )
        if attempts is None or attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
            return Delivery.Status.FAILED.value
        countdown = backoff_seconds(attempts)
        if self.request.is_eager:
            # No broker (the embedded default, where CELERY_TASK_EAGER_PROPAGATES is on): a raised
            # Retry would escape to the caller and nothing would be retried. Returned instead,
            # Celery runs the retry at once, in-process; there is no queue to wait in.
            return self.retry(exc=exc, countdown=countdown, throw=False)
        raise self.retry(exc=exc, countdown=countdown) from exc
