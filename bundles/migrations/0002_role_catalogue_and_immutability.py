"""The platform role catalogue, and a trigger that makes published bundle versions immutable."""

from django.db import migrations

from bundles.catalogue import ensure_platform_roles

MESSAGE = "published bundle versions are immutable"

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION bundles_version_immutable() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'draft' THEN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'; END IF;
    RETURN OLD;
  END IF;
  IF OLD.status <> 'draft' AND (
       NEW.definition::text IS DISTINCT FROM OLD.definition::text
       OR NEW.number IS DISTINCT FROM OLD.number
       OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
       OR NEW.bundle_id IS DISTINCT FROM OLD.bundle_id
       OR NEW.published_at IS DISTINCT FROM OLD.published_at
       OR (OLD.status = 'retired' AND NEW.status <> 'retired')
       OR NEW.status = 'draft') THEN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER bundles_version_immutable BEFORE UPDATE OR DELETE ON bundles_bundleversion
  FOR EACH ROW EXECUTE FUNCTION bundles_version_immutable();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS bundles_version_immutable ON bundles_bundleversion;
DROP FUNCTION IF EXISTS bundles_version_immutable();
"""
SQLITE_UP = [
    f"""CREATE TRIGGER bundles_version_immutable_update BEFORE UPDATE ON bundles_bundleversion
    WHEN OLD.status <> 'draft' AND (
      NEW.definition IS NOT OLD.definition OR NEW.number IS NOT OLD.number
      OR NEW.content_hash IS NOT OLD.content_hash OR NEW.bundle_id IS NOT OLD.bundle_id
      OR NEW.published_at IS NOT OLD.published_at
      OR (OLD.status = 'retired' AND NEW.status <> 'retired') OR NEW.status = 'draft')
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
    # No DELETE trigger on SQLite: Django's test flush deletes rows one table at a time there (on
    # PostgreSQL it truncates, which row triggers ignore). PROTECT foreign keys and the services,
    # which never delete a published version, guard the embedded database.
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS bundles_version_immutable_update;",
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


def load_catalogue(apps, schema_editor):
    ensure_platform_roles(apps.get_model("bundles", "IdtRole"))


class Migration(migrations.Migration):
    dependencies = [("bundles", "0001_initial")]

    operations = [
        migrations.RunPython(load_catalogue, migrations.RunPython.noop),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
