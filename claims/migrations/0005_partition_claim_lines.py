"""Claim lines are partitioned by month of ``service_from`` on PostgreSQL (core.partitions;
docs/operations.md, "Partitioned history"); the kept-as-received trigger (0002) is re-created on the
partitioned table. SQLite keeps one table."""

from django.db import migrations

from core.partitions import partition_by_month


class Migration(migrations.Migration):
    dependencies = [("claims", "0004_ack_999")]

    operations = [partition_by_month("claims_claimlinerow", "service_from")]
