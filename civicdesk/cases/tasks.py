from celery import shared_task

from civicdesk.cases.services import sla_sweep


@shared_task
def sweep_slas() -> dict[str, int]:
    """Refresh the SLA state of open cases (scheduled by Celery beat every few minutes)."""
    return sla_sweep()
