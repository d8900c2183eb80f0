"""Payment details (one member's row under a payment line) are partitioned by their service ``month``
on PostgreSQL (core.partitions; docs/operations.md, "Partitioned history"). SQLite keeps one table.

Payment lines and ledger entries are not partitioned: foreign keys point at them (details and ledger
entries at lines; corrections and reversals at entries), and PostgreSQL can reference a partitioned
table only through a unique key that holds the partition key."""

from django.db import migrations

from core.partitions import partition_by_month


class Migration(migrations.Migration):
    dependencies = [("payments", "0007_episode_lines")]

    operations = [partition_by_month("payments_paymentdetail", "month")]
