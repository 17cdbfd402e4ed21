import base64

from django.core.management.base import BaseCommand
from django_otp.oath import TOTP

from civicdesk.demo.profiles import DEMO_TOTP_SECRET


class Command(BaseCommand):
    help = "Print the current TOTP code of the demo staff users' shared secret (demo only)."

    def handle(self, *args, **options):
        totp = TOTP(base64.b32decode(DEMO_TOTP_SECRET), step=30, t0=0, digits=6)
        self.stdout.write(f"{totp.token():06d}")
