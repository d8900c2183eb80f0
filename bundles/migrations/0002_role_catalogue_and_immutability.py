"""The platform role catalogue, and a trigger that makes published bundle versions immutable."""

from django.db import migrations

from bundles.catalogue import ensure_platform_roles
from core.db_triggers import row_guard, run_triggers

MESSAGE = "published bundle versions are immutable"

# A draft may change freely; a published version only moves forward (published -> retired).
VERSION_IMMUTABLE = row_guard(
    "bundles_version_immutable", "bundles_bundleversion", MESSAGE,
    errcode="integrity_constraint_violation",
    postgresql_delete_when="OLD.status <> 'draft'",
    postgresql_update_when="""OLD.status <> 'draft' AND (
       NEW.definition::text IS DISTINCT FROM OLD.definition::text
       OR NEW.number IS DISTINCT FROM OLD.number
       OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
       OR NEW.bundle_id IS DISTINCT FROM OLD.bundle_id
       OR NEW.published_at IS DISTINCT FROM OLD.published_at
       OR (OLD.status = 'retired' AND NEW.status <> 'retired')
       OR NEW.status = 'draft')""",
    sqlite_update_when="""OLD.status <> 'draft' AND (
      NEW.definition IS NOT OLD.definition OR NEW.number IS NOT OLD.number
      OR NEW.content_hash IS NOT OLD.content_hash OR NEW.bundle_id IS NOT OLD.bundle_id
      OR NEW.published_at IS NOT OLD.published_at
      OR (OLD.status = 'retired' AND NEW.status <> 'retired') OR NEW.status = 'draft')""",
)


def load_catalogue(apps, schema_editor):
    ensure_platform_roles(apps.get_model("bundles", "IdtRole"))


class Migration(migrations.Migration):
    dependencies = [("bundles", "0001_initial")]

    operations = [
        migrations.RunPython(load_catalogue, migrations.RunPython.noop),
        run_triggers(VERSION_IMMUTABLE),
    ]
