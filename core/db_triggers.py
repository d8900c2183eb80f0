"""Build the migration operations that install append-only and immutability triggers.

Migrations import this module, so what it emits is part of the schema's history: applying an old
migration must create the same objects forever. Never change the SQL an existing function produces,
not even its whitespace (PostgreSQL keeps function bodies and SQLite keeps trigger text verbatim);
write a new function instead. For the same reason it imports no app code and no models: it only
builds SQL text and runs it through ``schema_editor``.

Typical use in a migration::

    GUARD = row_guard("x_immutable", "app_x", "x rows are immutable", errcode="restrict_violation",
                      postgresql_update_when=..., postgresql_delete_when=..., sqlite_update_when=...)
    operations = [run_triggers(GUARD)]

PostgreSQL and SQLite get their own statements; other engines get none (nothing runs there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db import migrations


@dataclass(frozen=True)
class TriggerSQL:
    """The statements that create (``*_up``) and drop (``*_down``) some triggers, per engine."""

    postgresql_up: tuple[str, ...] = ()
    postgresql_down: tuple[str, ...] = ()
    sqlite_up: tuple[str, ...] = ()
    sqlite_down: tuple[str, ...] = ()

    def __add__(self, other: TriggerSQL) -> TriggerSQL:
        return TriggerSQL(
            self.postgresql_up + other.postgresql_up,
            self.postgresql_down + other.postgresql_down,
            self.sqlite_up + other.sqlite_up,
            self.sqlite_down + other.sqlite_down,
        )

    def up(self, vendor: str) -> tuple[str, ...]:
        return {"postgresql": self.postgresql_up, "sqlite": self.sqlite_up}.get(vendor, ())

    def down(self, vendor: str) -> tuple[str, ...]:
        return {"postgresql": self.postgresql_down, "sqlite": self.sqlite_down}.get(vendor, ())


def _literal(text: str) -> str:
    # The message is written into the SQL as a string literal (the same syntax on both engines).
    return "'" + text.replace("'", "''") + "'"


def postgresql_trigger(function: str, body: str, *, events: str, triggers: Mapping[str, str]) -> TriggerSQL:
    """A plpgsql trigger function ``function()`` whose body is ``body`` (from DECLARE/BEGIN to END),
    fired ``BEFORE <events>`` for each row by each ``{trigger name: table}`` of ``triggers``."""
    up = [f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$\n{body} $$ LANGUAGE plpgsql;"]
    up += [
        f"CREATE TRIGGER {name} BEFORE {events} ON {table}\n  FOR EACH ROW EXECUTE FUNCTION {function}();"
        for name, table in triggers.items()
    ]
    # The triggers depend on the function: drop them first.
    down = [f"DROP TRIGGER IF EXISTS {name} ON {table};" for name, table in triggers.items()]
    down.append(f"DROP FUNCTION IF EXISTS {function}();")
    return TriggerSQL(postgresql_up=tuple(up), postgresql_down=tuple(down))


def sqlite_trigger(name: str, table: str, event: str, message: str, *, when: str | None = None) -> TriggerSQL:
    """A SQLite trigger that aborts ``event`` (INSERT, UPDATE or DELETE) on ``table`` with ``message``,
    always or only ``when`` the condition holds."""
    condition = f"    WHEN {when}\n" if when is not None else ""
    create = (
        f"CREATE TRIGGER {name} BEFORE {event} ON {table}\n{condition}"
        f"    BEGIN SELECT RAISE(ABORT, {_literal(message)}); END;"
    )
    return TriggerSQL(sqlite_up=(create,), sqlite_down=(f"DROP TRIGGER IF EXISTS {name};",))


def row_guard(
    name: str,
    table: str,
    message: str,
    *,
    errcode: str,
    postgresql_update_when: str | None = None,
    postgresql_delete_when: str | None = None,
    sqlite_update_when: str | None = None,
) -> TriggerSQL:
    """Refuse to UPDATE or DELETE rows of ``table`` with ``message``.

    Without conditions every update and delete is refused (an append-only table). With them, only
    those where the condition holds (OLD and NEW are the row before and after, as in any trigger).

    PostgreSQL: function and trigger ``name``, BEFORE UPDATE OR DELETE, raising SQLSTATE ``errcode``
    (e.g. 'restrict_violation'; any integrity class code makes Django raise IntegrityError).
    SQLite: trigger ``<name>_update``, BEFORE UPDATE only. There is no DELETE trigger: Django's test
    flush deletes rows one table at a time on SQLite (on PostgreSQL it truncates, which row triggers
    ignore); PROTECT foreign keys and the services guard deletes on the embedded database.
    """
    conditions = (postgresql_update_when, postgresql_delete_when, sqlite_update_when)
    if any(c is None for c in conditions) and any(c is not None for c in conditions):
        # A partly conditional guard would need a body shape that no migration has used: add a function.
        raise ValueError("give all three conditions or none")
    refuse = f"RAISE EXCEPTION {_literal(message)} USING ERRCODE = {_literal(errcode)};"
    if postgresql_update_when is None:
        body = f"BEGIN\n  {refuse}\nEND"
    else:
        body = (
            "BEGIN\n"
            "  IF TG_OP = 'DELETE' THEN\n"
            f"    IF {postgresql_delete_when} THEN {refuse} END IF;\n"
            "    RETURN OLD;\n"
            "  END IF;\n"
            f"  IF {postgresql_update_when} THEN\n"
            f"    {refuse}\n"
            "  END IF;\n"
            "  RETURN NEW;\n"
            "END"
        )
    return postgresql_trigger(name, body, events="UPDATE OR DELETE", triggers={name: table}) + sqlite_trigger(
        f"{name}_update", table, "UPDATE", message, when=sqlite_update_when
    )


def run_triggers(*sql: TriggerSQL) -> migrations.RunPython:
    """A RunPython that creates the triggers of ``sql`` on migrate and drops them on reverse."""
    combined = sum(sql, TriggerSQL())

    def create(apps, schema_editor):
        for statement in combined.up(schema_editor.connection.vendor):
            schema_editor.execute(statement)

    def drop(apps, schema_editor):
        for statement in combined.down(schema_editor.connection.vendor):
            schema_editor.execute(statement)

    return migrations.RunPython(create, drop)


def recreate_sqlite_triggers(*sql: TriggerSQL) -> migrations.RunPython:
    """A RunPython that drops and recreates the SQLite triggers of ``sql`` (no-op on reverse and on
    other engines): SQLite rebuilds a table to alter it, which silently drops the table's triggers."""
    combined = sum(sql, TriggerSQL())

    def recreate(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in combined.sqlite_down + combined.sqlite_up:
                schema_editor.execute(statement)

    return migrations.RunPython(recreate, migrations.RunPython.noop)
