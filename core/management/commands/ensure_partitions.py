"""``manage.py ensure_partitions [--no-detach]``: the partitioned tables' coming months, and the
expired months detached to the archive schema (core.partitions; docs/operations.md, "Partitioned history")."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from core.partitions import ensure_partitions_now, partitioned_tables


class Command(BaseCommand):
    help = (
        "PostgreSQL: create the partitions of the current month and PARTITION_MONTHS_AHEAD months ahead on "
        "every partitioned table, and detach the month partitions older than PARTITION_RETENTION_MONTHS "
        "to the archive schema (nothing is deleted). Does nothing on SQLite."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-detach", action="store_true", help="Only create partitions; detach nothing."
        )
        parser.add_argument(
            "--months-back",
            type=int,
            default=0,
            help="Also create the partitions of this many past months (before loading history), except "
            "months whose rows are already in the default partition.",
        )

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("Not PostgreSQL: no table is partitioned, nothing to do.")
            return
        report = ensure_partitions_now(detach=not options["no_detach"], months_back=options["months_back"])
        for name in report.created:
            self.stdout.write(f"Created {name}")
        for name in report.detached:
            self.stdout.write(f"Detached {name}")
        for name in report.skipped:
            self.stderr.write(
                self.style.WARNING(
                    f"Left alone {name}: the default partition holds rows of that month, or it is archived already"
                )
            )
        tables = ", ".join(t.name for t in partitioned_tables(connection))
        retention = settings.PARTITION_RETENTION_MONTHS
        self.stdout.write(
            self.style.SUCCESS(
                f"Partitions ensured ({settings.PARTITION_MONTHS_AHEAD} months ahead; "
                + (
                    f"retention {retention} months"
                    if retention and not options["no_detach"]
                    else "nothing detached"
                )
                + f"): {tables}"
            )
        )
