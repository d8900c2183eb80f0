"""Ledger entries are append-only: the database refuses to change or remove a posted entry."""

from django.db import migrations

MESSAGE = "ledger entries are append-only: post a reversing entry and a new one instead"

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION payments_ledger_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER payments_ledger_append_only BEFORE UPDATE OR DELETE ON payments_ledgerentry
  FOR EACH ROW EXECUTE FUNCTION payments_ledger_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS payments_ledger_append_only ON payments_ledgerentry;
DROP FUNCTION IF EXISTS payments_ledger_append_only();
"""
SQLITE_UP = [
    f"""CREATE TRIGGER payments_ledger_append_only_update BEFORE UPDATE ON payments_ledgerentry
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
    # No DELETE trigger on SQLite: Django's test flush deletes rows one table at a time there (on
    # PostgreSQL it truncates, which row triggers ignore). PROTECT foreign keys and the services,
    # which never delete an entry, guard the embedded database.
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS payments_ledger_append_only_update;"]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
