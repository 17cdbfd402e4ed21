from datetime import timedelta

from django.core.management.base import BaseCommand

from civicdesk.ledger.payments import payments_reconcile


class Command(BaseCommand):
    help = (
        "Ask the payment gateways about payments whose outcome is still unknown and settle them "
        "(run it from cron, or let Celery beat run "
        "civicdesk.ledger.tasks.payments_reconcile_task)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=15,
            metavar="MINUTES",
            help="only payments created (and last asked) at least this many minutes ago",
        )
        parser.add_argument("--limit", type=int, default=500, help="at most this many payments")

    def handle(self, *args, older_than, limit, **options):
        settled = payments_reconcile(older_than=timedelta(minutes=older_than), limit=limit)
        self.stdout.write(f"settled: {settled}")
