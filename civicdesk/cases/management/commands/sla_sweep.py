from django.core.management.base import BaseCommand

from civicdesk.cases.services import sla_sweep


class Command(BaseCommand):
    help = "Refresh the SLA state of open cases and record new breaches (run it from cron, or "
    "let Celery beat run civicdesk.cases.tasks.sweep_slas)."

    def handle(self, *args, **options):
        counts = sla_sweep()
        self.stdout.write(
            f"ok: {counts['ok']}, at risk: {counts['at_risk']}, breached: {counts['breached']}"
        )
