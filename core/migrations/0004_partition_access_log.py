"""The access log is partitioned by month of ``at`` on PostgreSQL (core.partitions; docs/operations.md,
"Partitioned history"). SQLite keeps one table."""

from django.db import migrations

from core.partitions import partition_by_month


class Migration(migrations.Migration):
    dependencies = [("core", "0003_bulk_operations")]

    operations = [partition_by_month("core_accessevent", "at")]
