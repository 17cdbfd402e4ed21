from django.core.management.base import BaseCommand

from civicdesk.core.idempotency import idempotency_keys_purge


class Command(BaseCommand):
    help = "Delete expired Idempotency-Keys (run it from cron, or let Celery beat run "
    "civicdesk.core.tasks.purge_idempotency_keys)."

    def handle(self, *args, **options):
        self.stdout.write(f"deleted: {idempotency_keys_purge()}")
