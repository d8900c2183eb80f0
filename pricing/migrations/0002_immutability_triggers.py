"""Triggers: published assumption set versions are immutable; a pricing run's inputs never change,
its result is written once, and a finished run (succeeded, failed, cancelled) stays as it is.

On PostgreSQL the refusal is a restrict_violation (SQLSTATE 23001), so Django raises IntegrityError
there as it does for SQLite's RAISE(ABORT)."""

from django.db import migrations

VERSION_MESSAGE = "published assumption set versions are immutable"
RUN_MESSAGE = "pricing run inputs and results are immutable"

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION pricing_version_immutable() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'draft' THEN RAISE EXCEPTION '{VERSION_MESSAGE}' USING ERRCODE = 'restrict_violation'; END IF;
    RETURN OLD;
  END IF;
  IF OLD.status <> 'draft' AND (
       NEW.assumptions::text IS DISTINCT FROM OLD.assumptions::text
       OR NEW.sources::text IS DISTINCT FROM OLD.sources::text
       OR NEW.number IS DISTINCT FROM OLD.number
       OR NEW.status IS DISTINCT FROM OLD.status
       OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
       OR NEW.assumption_set_id IS DISTINCT FROM OLD.assumption_set_id
       OR NEW.published_at IS DISTINCT FROM OLD.published_at) THEN
    RAISE EXCEPTION '{VERSION_MESSAGE}' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER pricing_version_immutable BEFORE UPDATE OR DELETE ON pricing_assumptionsetversion
  FOR EACH ROW EXECUTE FUNCTION pricing_version_immutable();

CREATE OR REPLACE FUNCTION pricing_run_immutable() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status = 'succeeded' THEN RAISE EXCEPTION '{RUN_MESSAGE}' USING ERRCODE = 'restrict_violation'; END IF;
    RETURN OLD;
  END IF;
  IF NEW.inputs::text IS DISTINCT FROM OLD.inputs::text
     OR NEW.inputs_hash IS DISTINCT FROM OLD.inputs_hash
     OR NEW.seed IS DISTINCT FROM OLD.seed
     OR NEW.engine_version IS DISTINCT FROM OLD.engine_version
     OR NEW.markets::text IS DISTINCT FROM OLD.markets::text
     OR NEW.lobs::text IS DISTINCT FROM OLD.lobs::text
     OR NEW.options::text IS DISTINCT FROM OLD.options::text
     OR NEW.payer_id IS DISTINCT FROM OLD.payer_id
     OR NEW.bundle_version_id IS DISTINCT FROM OLD.bundle_version_id
     OR NEW.assumption_set_version_id IS DISTINCT FROM OLD.assumption_set_version_id
     OR NEW.experience_id IS DISTINCT FROM OLD.experience_id
     OR (OLD.result IS NOT NULL AND NEW.result::text IS DISTINCT FROM OLD.result::text)
     OR (OLD.status IN ('succeeded', 'failed', 'cancelled') AND (
           NEW.status IS DISTINCT FROM OLD.status
           OR NEW.result::text IS DISTINCT FROM OLD.result::text
           OR NEW.error::text IS DISTINCT FROM OLD.error::text)) THEN
    RAISE EXCEPTION '{RUN_MESSAGE}' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER pricing_run_immutable BEFORE UPDATE OR DELETE ON pricing_pricingrun
  FOR EACH ROW EXECUTE FUNCTION pricing_run_immutable();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS pricing_version_immutable ON pricing_assumptionsetversion;
DROP FUNCTION IF EXISTS pricing_version_immutable();
DROP TRIGGER IF EXISTS pricing_run_immutable ON pricing_pricingrun;
DROP FUNCTION IF EXISTS pricing_run_immutable();
"""
SQLITE_UP = [
    f"""CREATE TRIGGER pricing_version_immutable_update BEFORE UPDATE ON pricing_assumptionsetversion
    WHEN OLD.status <> 'draft' AND (
      NEW.assumptions IS NOT OLD.assumptions OR NEW.sources IS NOT OLD.sources
      OR NEW.number IS NOT OLD.number OR NEW.status IS NOT OLD.status
      OR NEW.content_hash IS NOT OLD.content_hash OR NEW.assumption_set_id IS NOT OLD.assumption_set_id
      OR NEW.published_at IS NOT OLD.published_at)
    BEGIN SELECT RAISE(ABORT, '{VERSION_MESSAGE}'); END;""",
    f"""CREATE TRIGGER pricing_run_immutable_update BEFORE UPDATE ON pricing_pricingrun
    WHEN NEW.inputs IS NOT OLD.inputs OR NEW.inputs_hash IS NOT OLD.inputs_hash
      OR NEW.seed IS NOT OLD.seed OR NEW.engine_version IS NOT OLD.engine_version
      OR NEW.markets IS NOT OLD.markets OR NEW.lobs IS NOT OLD.lobs OR NEW.options IS NOT OLD.options
      OR NEW.payer_id IS NOT OLD.payer_id OR NEW.bundle_version_id IS NOT OLD.bundle_version_id
      OR NEW.assumption_set_version_id IS NOT OLD.assumption_set_version_id
      OR NEW.experience_id IS NOT OLD.experience_id
      OR (OLD.result IS NOT NULL AND NEW.result IS NOT OLD.result)
      OR (OLD.status IN ('succeeded', 'failed', 'cancelled') AND (
            NEW.status IS NOT OLD.status OR NEW.result IS NOT OLD.result OR NEW.error IS NOT OLD.error))
    BEGIN SELECT RAISE(ABORT, '{RUN_MESSAGE}'); END;""",
    # No DELETE triggers on SQLite (as in bundles 0002): Django's test flush deletes rows one table at
    # a time there (PostgreSQL truncates, which row triggers ignore). PROTECT foreign keys and the
    # services, which never delete a published version or a succeeded run, guard the embedded database.
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS pricing_version_immutable_update;",
    "DROP TRIGGER IF EXISTS pricing_run_immutable_update;",
]


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
    dependencies = [("pricing", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
