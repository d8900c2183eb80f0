"""Monthly range partitions of the large append-only tables on PostgreSQL (docs/operations.md,
"Partitioned history").

A partitioned table has a ``DEFAULT`` partition (rows of a month that has no partition of its own:
nothing is ever refused) and one partition per month named ``<table>_pYYYYMM``. The migrations
that partition a table call :func:`partition_by_month`; :func:`ensure_partitions` (``manage.py
ensure_partitions``, daily from Celery beat) creates the coming months ahead and detaches the months
older than the retention to the ``archive`` schema, where they wait to be dumped and dropped.

Django's models keep ``id`` as their primary key; in the database the key is a unique index on
``(id, <month column>)`` named ``<table>_pkey``, because the unique keys of a partitioned table must
hold its partition key (and are indexes, not constraints: see :func:`_rebuild`). Nothing may point
a foreign key at a partitioned table for the same reason (the conversion refuses a table that has one).

Migrations import :func:`partition_by_month`: what it does is part of the schema's history, so change
it only in ways that create the same objects (as core.db_triggers). It imports no app code. SQLite,
and any engine but PostgreSQL, keeps its tables as they are: every function here is a no-op there.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import migrations

log = logging.getLogger("carebundle.partitions")

ARCHIVE_SCHEMA = "archive"
#: The advisory lock key (any constant) that serialises ensure_partitions runs.
ADVISORY_LOCK = 0x70617274  # "part"
DEFAULT_SUFFIX = "_default"
#: A month partition's name: the table, ``_p`` and the month as YYYYMM.
_MONTH_NAME = re.compile(r"^(?P<table>.+)_p(?P<year>\d{4})(?P<month>\d{2})$")
#: Months a migration partitions back at most when it converts a table with rows (older ones: default),
#: and at least, so that history loaded later (claims of past years, late rosters) finds its months.
MIGRATION_MONTHS_BACK = 120
MIGRATION_MONTHS_BACK_MIN = 24
#: Months ahead of the current one a migration creates (ensure_partitions keeps its own setting).
MIGRATION_MONTHS_AHEAD = 3


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def month_partition_name(table: str, month: dt.date) -> str:
    return f"{table}_p{month:%Y%m}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bound(month: dt.date, key_type: str) -> str:
    """A month's first instant as a literal of the key's type (timestamps: midnight UTC)."""
    if key_type == "date":
        return f"'{month:%Y-%m-%d}'"
    return f"'{month:%Y-%m-%d} 00:00:00+00'"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class PartitionedTable:
    name: str
    key: str
    key_type: str  # "date" or "timestamp with time zone"
    partitions: tuple[str, ...] = ()

    @property
    def default(self) -> str:
        return f"{self.name}{DEFAULT_SUFFIX}"

    def months(self) -> dict[dt.date, str]:
        """The month partitions this module named, by month."""
        found = {}
        for name in self.partitions:
            match = _MONTH_NAME.match(name)
            if match and match["table"] == self.name:
                found[dt.date(int(match["year"]), int(match["month"]), 1)] = name
        return found


def partitioned_tables(connection) -> list[PartitionedTable]:
    """The tables of the current schema partitioned by range on one column, with their partitions."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                   coalesce(array_agg(child.relname ORDER BY child.relname)
                            FILTER (WHERE child.relname IS NOT NULL), '{}')
            FROM pg_partitioned_table p
            JOIN pg_class c ON c.oid = p.partrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0]
            LEFT JOIN pg_inherits i ON i.inhparent = c.oid
            LEFT JOIN pg_class child ON child.oid = i.inhrelid
            WHERE p.partstrat = 'r' AND p.partnatts = 1
            GROUP BY c.relname, a.attname, a.atttypid, a.atttypmod
            ORDER BY c.relname
            """
        )
        return [PartitionedTable(name, key, key_type, tuple(parts)) for name, key, key_type, parts in cursor]


def _create_month(cursor, table: PartitionedTable, month: dt.date) -> bool:
    """Create ``month``'s partition, unless the default partition already holds rows of that month
    (PostgreSQL would refuse: they stay there, still read, and the month is reported)."""
    start, end = _bound(month, table.key_type), _bound(add_months(month, 1), table.key_type)
    if table.default in table.partitions:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {_quote(table.default)} "  # noqa: S608 (names from the catalog)
            f"WHERE {_quote(table.key)} >= {start} AND {_quote(table.key)} < {end})"
        )
        if cursor.fetchone()[0]:
            log.warning(
                "partitions: %s has rows of %s in its default partition; no partition made for that month",
                table.name,
                f"{month:%Y-%m}",
            )
            return False
    cursor.execute(
        f"CREATE TABLE {_quote(month_partition_name(table.name, month))} PARTITION OF {_quote(table.name)} "
        f"FOR VALUES FROM ({start}) TO ({end})"
    )
    return True


@dataclass
class PartitionReport:
    created: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)
    # Months not made (their rows sit in the default partition) or not detached (already archived)
    skipped: list[str] = field(default_factory=list)


def ensure_partitions(
    connection,
    *,
    months_ahead: int,
    months_back: int = 0,
    retention_months: int | None = None,
    today: dt.date | None = None,
) -> PartitionReport:
    """Every partitioned table gets its default partition and one partition per month from
    ``months_back`` months before the current one to ``months_ahead`` months ahead; with
    ``retention_months``, the month partitions that end before the current month less that many
    months are detached and moved to the ``archive`` schema (nothing is deleted). Call inside a
    transaction: it holds an advisory lock until the end, so runs that overlap (beat, a web process
    starting) take turns. A no-op on any engine but PostgreSQL."""
    report = PartitionReport()
    current = month_start(today or _today())
    if connection.vendor != "postgresql":
        return report
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK])
        for table in partitioned_tables(connection):
            if table.default not in table.partitions:
                cursor.execute(
                    f"CREATE TABLE {_quote(table.default)} PARTITION OF {_quote(table.name)} DEFAULT"
                )
                report.created.append(table.default)
                table = PartitionedTable(
                    table.name, table.key, table.key_type, (*table.partitions, table.default)
                )
            existing = table.months()
            for offset in range(-months_back, months_ahead + 1):
                month = add_months(current, offset)
                if month in existing:
                    continue
                if _create_month(cursor, table, month):
                    report.created.append(month_partition_name(table.name, month))
                else:
                    report.skipped.append(month_partition_name(table.name, month))
            if retention_months is None:
                continue
            oldest_kept = add_months(current, -retention_months)
            for month, name in sorted(existing.items()):
                if add_months(month, 1) <= oldest_kept:
                    cursor.execute("SELECT to_regclass(%s)", [f"{_quote(ARCHIVE_SCHEMA)}.{_quote(name)}"])
                    if cursor.fetchone()[0] is not None:
                        # Archived before, and made again since (--months-back): left for a person to merge.
                        log.warning("partitions: %s.%s exists; %s stays attached", ARCHIVE_SCHEMA, name, name)
                        report.skipped.append(name)
                        continue
                    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(ARCHIVE_SCHEMA)}")
                    cursor.execute(f"ALTER TABLE {_quote(table.name)} DETACH PARTITION {_quote(name)}")
                    cursor.execute(f"ALTER TABLE {_quote(name)} SET SCHEMA {_quote(ARCHIVE_SCHEMA)}")
                    report.detached.append(f"{ARCHIVE_SCHEMA}.{name}")
    for name in report.created:
        log.info("partitions: created %s", name)
    for name in report.detached:
        log.info("partitions: detached %s", name)
    return report


def ensure_partitions_now(
    *, detach: bool = True, months_back: int = 0, today: dt.date | None = None
) -> PartitionReport:
    """:func:`ensure_partitions` on the default database with the settings' months ahead and retention
    (none when ``detach`` is false or PARTITION_RETENTION_MONTHS is 0), in one transaction."""
    from django.conf import settings
    from django.db import connection, transaction

    retention = settings.PARTITION_RETENTION_MONTHS if detach else 0
    with transaction.atomic():
        return ensure_partitions(
            connection,
            months_ahead=settings.PARTITION_MONTHS_AHEAD,
            months_back=months_back,
            retention_months=retention or None,
            today=today,
        )


# --- The conversion the migrations run ----------------------------------------------------------


@dataclass(frozen=True)
class _Schema:
    """What a table has besides its columns, as SQL that re-creates it on a new table of the same name."""

    primary_key: str  # its name: "<table>_pkey", a constraint or (partitioned) a unique index
    unique: tuple[tuple[str, str], ...]  # (name, CREATE UNIQUE INDEX statement) of the other unique keys
    indexes: tuple[str, ...]  # CREATE INDEX statements of the other indexes
    foreign_keys: tuple[tuple[str, str], ...]  # (constraint name, definition)
    triggers: tuple[str, ...]  # CREATE TRIGGER statements
    sequence: str | None  # the identity (or serial) sequence of "id"


def _read_schema(cursor, table: str) -> _Schema:
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f'", [table]
    )
    inbound = [name for (name,) in cursor]
    if inbound:
        raise RuntimeError(f"{table} cannot be partitioned: foreign keys point at it ({', '.join(inbound)})")
    cursor.execute(
        """
        SELECT i.relname, x.indisprimary, x.indisunique, pg_get_indexdef(x.indexrelid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = %s::regclass
        ORDER BY i.relname
        """,
        [table],
    )
    primary_key, unique, indexes = None, [], []
    for name, is_primary, is_unique, definition in cursor.fetchall():
        # A partitioned table's own index reads "ON ONLY <table>" (its partitions have theirs).
        definition = definition.replace(" ON ONLY ", " ON ", 1)
        if is_primary or name == f"{table}_pkey":
            primary_key = name
        elif is_unique:
            unique.append((name, definition))
        else:
            indexes.append(definition)
    if primary_key is None:
        raise RuntimeError(f"{table} has no primary key")
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [table],
    )
    foreign_keys = tuple(cursor.fetchall())
    cursor.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal "
        "ORDER BY tgname",
        [table],
    )
    triggers = tuple(definition for (definition,) in cursor)
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (sequence,) = cursor.fetchone()
    return _Schema(primary_key, tuple(unique), tuple(indexes), foreign_keys, triggers, sequence)


def _rebuild(cursor, table: str, *, key: str | None, months: Iterable[dt.date] = ()) -> None:
    """Replace ``table`` by a copy of itself, partitioned by month on ``key`` (or, with no key, a plain
    table again), with its rows, indexes, unique keys, check constraints, foreign keys and triggers.

    A partitioned table's primary key and unique keys are unique *indexes* (holding ``key``), not
    constraints: ``pg_restore --clean`` cannot drop a partition's share of a constraint ("cannot drop
    inherited constraint"), and so could not restore a backup (core.backup); it drops indexes well.
    A plain table gets them back as constraints."""
    schema = _read_schema(cursor, table)
    # Deferred foreign key checks of rows written earlier in the transaction run now: PostgreSQL will
    # not drop a table with pending trigger events. Django's foreign keys are all initially deferred.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    old = f"{table}__before_partitioning" if key else f"{table}__partitioned"
    cursor.execute(f"ALTER TABLE {_quote(table)} RENAME TO {_quote(old)}")
    if schema.sequence:
        # The new identity column makes its own sequence, under this name.
        cursor.execute(f"ALTER SEQUENCE {schema.sequence} RENAME TO {_quote(old + '_id_seq')}")
    like = f"(LIKE {_quote(old)} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING CONSTRAINTS)"
    if key:
        cursor.execute(f"CREATE TABLE {_quote(table)} {like} PARTITION BY RANGE ({_quote(key)})")
        cursor.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = %s",
            [table, key],
        )
        key_type = cursor.fetchone()[0]
        parted = PartitionedTable(table, key, key_type)
        cursor.execute(f"CREATE TABLE {_quote(parted.default)} PARTITION OF {_quote(table)} DEFAULT")
        for month in sorted(set(months)):
            cursor.execute(
                f"CREATE TABLE {_quote(month_partition_name(table, month))} PARTITION OF {_quote(table)} "
                f"FOR VALUES FROM ({_bound(month, key_type)}) TO ({_bound(add_months(month, 1), key_type)})"
            )
    else:
        cursor.execute(f"CREATE TABLE {_quote(table)} {like}")
    cursor.execute(f"INSERT INTO {_quote(table)} OVERRIDING SYSTEM VALUE SELECT * FROM {_quote(old)}")  # noqa: S608
    cursor.execute(f"DROP TABLE {_quote(old)}")  # its partitions, indexes, triggers and sequence with it
    if schema.sequence:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), coalesce(max(id), 0) + 1, false) "  # noqa: S608
            f"FROM {_quote(table)}",
            [table],
        )
    if key:
        cursor.execute(
            f"CREATE UNIQUE INDEX {_quote(schema.primary_key)} ON {_quote(table)} (id, {_quote(key)})"
        )
    else:
        cursor.execute(
            f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(schema.primary_key)} PRIMARY KEY (id)"
        )
    for name, statement in schema.unique:
        cursor.execute(statement)
        if not key:
            cursor.execute(
                f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(name)} UNIQUE USING INDEX {_quote(name)}"
            )
    for statement in schema.indexes:
        cursor.execute(statement)
    for name, definition in schema.foreign_keys:
        cursor.execute(f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(name)} {definition}")
    for statement in schema.triggers:
        cursor.execute(statement)
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _months_with_rows(cursor, table: str, key: str, today: dt.date) -> list[dt.date]:
    """The months a new partitioning gets: every month from that of the oldest row already there (at
    most MIGRATION_MONTHS_BACK back, at least MIGRATION_MONTHS_BACK_MIN) to MIGRATION_MONTHS_AHEAD
    ahead of the current one."""
    current = month_start(today)
    column = _quote(key) + (" AT TIME ZONE 'UTC'" if _key_is_timestamp(cursor, table, key) else "")
    cursor.execute(f"SELECT min(date_trunc('month', {column}))::date FROM {_quote(table)}")  # noqa: S608
    (oldest,) = cursor.fetchone()
    first = max(
        min(oldest or current, add_months(current, -MIGRATION_MONTHS_BACK_MIN)),
        add_months(current, -MIGRATION_MONTHS_BACK),
    )
    months = []
    month = first
    while month <= add_months(current, MIGRATION_MONTHS_AHEAD):
        months.append(month)
        month = add_months(month, 1)
    return months


def _key_is_timestamp(cursor, table: str, key: str) -> bool:
    cursor.execute(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
        [table, key],
    )
    return cursor.fetchone()[0].startswith("timestamp")


def partition_by_month(table: str, key: str) -> migrations.RunPython:
    """A migration operation that partitions ``table`` by month of ``key`` on PostgreSQL (its reverse
    makes it a plain table again); nothing on other engines. ``key`` must be NOT NULL and every unique
    constraint of the table must include it."""

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            months = _months_with_rows(cursor, table, key, _today())
            _rebuild(cursor, table, key=key, months=months)

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            _rebuild(cursor, table, key=None)

    return migrations.RunPython(forward, backward)
