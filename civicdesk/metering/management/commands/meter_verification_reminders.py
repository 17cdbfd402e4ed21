"""`manage.py meter_verification_reminders`: remind residents of meters due for verification."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from civicdesk.metering import services


class Command(BaseCommand):
    help = (
        "Tell residents once when a meter on their account is due for verification within the "
        "operator's reminder days (run it daily from cron, or let Celery beat run "
        "civicdesk.metering.tasks.meter_verification_reminders_task)."
    )

    def handle(self, *args, **options):
        sent = services.verification_reminders_send()
        self.stdout.write(
            ngettext("%(count)d reminder sent.", "%(count)d reminders sent.", sent)
            % {"count": sent}
        )
