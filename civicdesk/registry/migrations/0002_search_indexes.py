"""Customer 360 search: trigram indexes on PostgreSQL (names, addresses, e-mail); SQLite keeps
the plain B-tree indexes and searches by prefix and substring."""

from django.db import migrations

TRIGRAM_INDEXES = (
    ("registry_holder_name_trgm", "registry_accountholder", "full_name"),
    ("registry_holder_email_trgm", "registry_accountholder", "email"),
    ("registry_building_address_trgm", "registry_building", "address"),
    ("identity_user_name_trgm", "identity_user", "full_name"),
    ("identity_user_email_trgm", "identity_user", "email"),
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRIGRAM_INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0001_initial"),
        ("identity", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
