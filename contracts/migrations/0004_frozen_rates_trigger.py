"""The database refuses to change the rates and assessment fees of a version that has left draft.

Services already refuse (only a draft is editable); this makes the agreed money of a proposed or
active version immutable however it is written to, like published bundle versions.
"""
from django.db import migrations

from core.db_triggers import postgresql_trigger, run_triggers, sqlite_trigger

MESSAGE = "rates of a proposed or agreed contract version are frozen"
TABLES = ("contracts_ratescheduleentry", "contracts_assessmentfee")

# One function serves both tables: it looks up the status of the row's version (which row_guard's
# OLD/NEW conditions cannot), for inserts too, so a frozen version gains no rates either.
MONEY_FROZEN = postgresql_trigger(
    "contracts_version_money_frozen",
    f"""DECLARE version_status text;
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
END""",
    events="INSERT OR UPDATE OR DELETE",
    triggers={f"{table}_frozen": table for table in TABLES},
)

# No DELETE trigger on SQLite: Django's test flush deletes rows table by table there (PostgreSQL
# truncates, which row triggers ignore). Versions are PROTECTed and the services never delete the
# rates of a version that has left draft.
SQLITE_FROZEN = [
    sqlite_trigger(
        f"{table}_frozen_{op.lower()}", table, op, MESSAGE,
        when=f"(SELECT status FROM contracts_contractversion WHERE id = {row}.version_id) <> 'draft'",
    )
    for table in TABLES for op, row in (("INSERT", "NEW"), ("UPDATE", "OLD"))
]


class Migration(migrations.Migration):
    dependencies = [("contracts", "0003_versions_rates_ratesheets")]
    operations = [run_triggers(MONEY_FROZEN, *SQLITE_FROZEN)]
