from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from civicdesk.demo.profiles import DEMO_TOTP_SECRET, PROFILES
from civicdesk.demo.services import demo_build


class Command(BaseCommand):
    help = "Build a deterministic demo operator (za, ua or ru). Running it again keeps the data."

    def add_arguments(self, parser):
        parser.add_argument("--jurisdiction", choices=sorted(PROFILES), default="za")
        parser.add_argument("--accounts", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, jurisdiction, accounts, seed, **options):
        if accounts < 0:
            raise CommandError("--accounts must be zero or more")
        report = demo_build(jurisdiction=jurisdiction, accounts=accounts, seed=seed)
        verb = "Created" if report.created else "Kept the existing"
        self.stdout.write(self.style.SUCCESS(f"{verb} demo operator: {report.operator.name}"))
        if report.registry:
            r = report.registry
            self.stdout.write(
                f"Registry: {r['accounts']} accounts in {r['buildings']} buildings, "
                f"{r['territories']} territories, {r['providers']} providers"
            )
            self.stdout.write(
                "resident@demo.test holds "
                + ", ".join(r["resident_accounts"][:2])
                + "; resident2@demo.test holds "
                + r["resident_accounts"][2]
            )
            b = r.get("billing") or {}
            if b:
                self.stdout.write(
                    f"Billing: {b['tariffs']} tariffs, {b['runs']} monthly runs, "
                    f"{b['invoices']} invoices, {b['exceptions']} accounts in the exception queue"
                )
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password: {settings.CIVICDESK_DEMO_PASSWORD}):")
        for email, role in report.users:
            self.stdout.write(f"  {email:<24} {role}")
        self.stdout.write(f"Staff sign in with TOTP; demo secret (base32): {DEMO_TOTP_SECRET}")
