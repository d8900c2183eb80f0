"""Member-months are partitioned by ``month`` on PostgreSQL (core.partitions; docs/operations.md,
"Partitioned history"). SQLite keeps one table.

A partitioned table's unique constraints must hold its partition key, so "a member once per
submission" becomes (submission, member, month): the same rule, since every member-month of a
submission is of the submission's month. On PostgreSQL it is then a unique index of that name, not a
constraint (core.partitions._rebuild says why): a later migration that changes it drops the index."""

from django.db import migrations, models

from core.partitions import partition_by_month


class Migration(migrations.Migration):
    dependencies = [("enrollment", "0005_member_market")]

    operations = [
        migrations.RemoveConstraint(model_name="membermonth", name="member_month_once"),
        migrations.AddConstraint(
            model_name="membermonth",
            constraint=models.UniqueConstraint(
                fields=("submission", "member_id", "month"), name="member_month_once"
            ),
        ),
        partition_by_month("enrollment_membermonth", "month"),
    ]
