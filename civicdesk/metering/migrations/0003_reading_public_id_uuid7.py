# Reading.public_id: time-ordered version 7 UUIDs by default (core.identifiers.uuid7), so that
# new readings go into the unique index in ascending order. Existing values stay as they are.
# A Python default has nothing in the database: only the state changes (no table rebuild on
# SQLite).

from django.db import migrations, models

import civicdesk.core.identifiers


class Migration(migrations.Migration):
    dependencies = [
        ("metering", "0002_reading_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="reading",
                    name="public_id",
                    field=models.UUIDField(
                        default=civicdesk.core.identifiers.uuid7, editable=False, unique=True
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
