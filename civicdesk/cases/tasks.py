from celery import shared_task

from civicdesk.cases.services import cases_notify_created, sla_sweep


@shared_task
def sweep_slas() -> dict[str, int]:
    """Refresh the SLA state of open cases (scheduled by Celery beat every few minutes)."""
    return sla_sweep()


@shared_task(acks_late=True)
def notify_created(case_ids: list[str]) -> int:
    """Tell the requesters of bulk-created cases that their requests arrived."""
    return cases_notify_created(case_ids)
