from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from civicdesk.cases.open311.services import open311_client_create


class Command(BaseCommand):
    help = (
        "Register an Open311 client and print its api_key. Only a digest of the key is kept: "
        "copy it now, it cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="who the client is, e.g. 'City app (vendor)'")
        parser.add_argument("--key", help="use this key instead of a random one (demo, tests)")

    def handle(self, *args, name, key=None, **options):
        try:
            client, key = open311_client_create(name, key=key)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(f"Registered Open311 client #{client.pk}: {client.name}")
        self.stdout.write(key)
