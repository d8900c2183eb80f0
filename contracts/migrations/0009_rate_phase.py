"""A rate cell may belong to a phase of enrollment (bundles/phases.py): one PMPM per phase."""

import importlib

from django.db import migrations, models

from core.db_triggers import recreate_sqlite_triggers

FROZEN = importlib.import_module("contracts.migrations.0004_frozen_rates_trigger").SQLITE_FROZEN


class Migration(migrations.Migration):

    dependencies = [
        ('contracts', '0008_episode_terms'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='ratescheduleentry',
            options={'ordering': ['version', 'lob', 'tier', 'market', 'phase']},
        ),
        migrations.RemoveConstraint(
            model_name='ratescheduleentry',
            name='rate_cell_unique_per_version',
        ),
        migrations.AddField(
            model_name='historicalratescheduleentry',
            name='phase',
            field=models.CharField(blank=True, default='', help_text="The bundle's phase code; empty: one rate for every month", max_length=16),
        ),
        migrations.AddField(
            model_name='ratescheduleentry',
            name='phase',
            field=models.CharField(blank=True, default='', help_text="The bundle's phase code; empty: one rate for every month", max_length=16),
        ),
        migrations.AddConstraint(
            model_name='ratescheduleentry',
            constraint=models.UniqueConstraint(fields=('version', 'tier', 'market', 'lob', 'phase'), name='rate_cell_unique_per_version'),
        ),
        # SQLite rebuilt the table to add the column, dropping its triggers
        recreate_sqlite_triggers(*FROZEN),
    ]
