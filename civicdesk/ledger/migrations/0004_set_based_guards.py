"""PostgreSQL: the balance check becomes set-based (one query per INSERT statement instead of a
deferred trigger per posting row), so bulk posting runs near the speed of COPY. See _guards.py.
On SQLite this migration does nothing."""

from django.db import migrations

from civicdesk.ledger.migrations import _guards


def _forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(_guards.CREATE)


def _backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    import importlib

    previous = importlib.import_module("civicdesk.ledger.migrations.0002_postgres_guards")
    row_level = previous.GUARDS[
        previous.GUARDS.index("CREATE OR REPLACE FUNCTION ledger_check_transaction_balanced") :
    ]
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(_guards.REVERSE)
        cursor.execute(row_level)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_payments_banking_refunds")]

    operations = [migrations.RunPython(_forward, _backward, elidable=False)]
