from celery import shared_task
from django.conf import settings

from civicdesk.notifications.services import delivery_send


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
            return "failed"
        raise self.retry(exc=exc, countdown=min(30 * 2 ** (attempts - 1), 3600)) from exc
