"""The database refuses to change the rates and assessment fees of a version that has left draft.

Services already refuse (only a draft is editable); this makes the agreed money of a proposed or
active version immutable however it is written to, like published bundle versions.
"""
from django.db import migrations

MESSAGE = "rates of a proposed or agreed contract version are frozen"
TABLES = ("contracts_ratescheduleentry", "contracts_assessmentfee")

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION contracts_version_money_frozen() RETURNS trigger AS $$
DECLARE version_status text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT status INTO version_status FROM contracts_contractversion WHERE id = NEW.version_id;
  ELSE
    SELECT status INTO version_status FROM contracts_contractversion WHERE id = OLD.version_id;
  END IF;
  IF version_status IS DISTINCT FROM 'draft' AND version_status IS NOT NULL THEN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
""" + "".join(f"""
CREATE TRIGGER {table}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION contracts_version_money_frozen();
""" for table in TABLES)

POSTGRES_DOWN = "".join(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table};\n" for table in TABLES) + \
    "DROP FUNCTION IF EXISTS contracts_version_money_frozen();"

# No DELETE trigger on SQLite: Django's test flush deletes rows table by table there (PostgreSQL
# truncates, which row triggers ignore). Versions are PROTECTed and the services never delete the
# rates of a version that has left draft.
SQLITE_UP = [
    f"""CREATE TRIGGER {table}_frozen_{op.lower()} BEFORE {op} ON {table}
    WHEN (SELECT status FROM contracts_contractversion WHERE id = {row}.version_id) <> 'draft'
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"""
    for table in TABLES for op, row in (("INSERT", "NEW"), ("UPDATE", "OLD"))
]
SQLITE_DOWN = [f"DROP TRIGGER IF EXISTS {table}_frozen_{op};" for table in TABLES for op in ("insert", "update")]


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
    dependencies = [("contracts", "0003_versions_rates_ratesheets")]
    operations = [migrations.RunPython(create_triggers, drop_triggers)]
