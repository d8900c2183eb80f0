"""Triggers: published assumption set versions are immutable; a pricing run's inputs never change,
its result is written once, and a finished run (succeeded, failed, cancelled) stays as it is.

On PostgreSQL the refusal is a restrict_violation (SQLSTATE 23001), so Django raises IntegrityError
there as it does for SQLite's RAISE(ABORT)."""

from django.db import migrations

from core.db_triggers import row_guard, run_triggers

VERSION_MESSAGE = "published assumption set versions are immutable"
RUN_MESSAGE = "pricing run inputs and results are immutable"

VERSION_IMMUTABLE = row_guard(
    "pricing_version_immutable", "pricing_assumptionsetversion", VERSION_MESSAGE,
    errcode="restrict_violation",
    postgresql_delete_when="OLD.status <> 'draft'",
    postgresql_update_when="""OLD.status <> 'draft' AND (
       NEW.assumptions::text IS DISTINCT FROM OLD.assumptions::text
       OR NEW.sources::text IS DISTINCT FROM OLD.sources::text
       OR NEW.number IS DISTINCT FROM OLD.number
       OR NEW.status IS DISTINCT FROM OLD.status
       OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
       OR NEW.assumption_set_id IS DISTINCT FROM OLD.assumption_set_id
       OR NEW.published_at IS DISTINCT FROM OLD.published_at)""",
    sqlite_update_when="""OLD.status <> 'draft' AND (
      NEW.assumptions IS NOT OLD.assumptions OR NEW.sources IS NOT OLD.sources
      OR NEW.number IS NOT OLD.number OR NEW.status IS NOT OLD.status
      OR NEW.content_hash IS NOT OLD.content_hash OR NEW.assumption_set_id IS NOT OLD.assumption_set_id
      OR NEW.published_at IS NOT OLD.published_at)""",
)

# Only a succeeded run may not be deleted on PostgreSQL; SQLite has no delete guards (see row_guard).
RUN_IMMUTABLE = row_guard(
    "pricing_run_immutable", "pricing_pricingrun", RUN_MESSAGE,
    errcode="restrict_violation",
    postgresql_delete_when="OLD.status = 'succeeded'",
    postgresql_update_when="""NEW.inputs::text IS DISTINCT FROM OLD.inputs::text
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
           OR NEW.error::text IS DISTINCT FROM OLD.error::text))""",
    sqlite_update_when="""NEW.inputs IS NOT OLD.inputs OR NEW.inputs_hash IS NOT OLD.inputs_hash
      OR NEW.seed IS NOT OLD.seed OR NEW.engine_version IS NOT OLD.engine_version
      OR NEW.markets IS NOT OLD.markets OR NEW.lobs IS NOT OLD.lobs OR NEW.options IS NOT OLD.options
      OR NEW.payer_id IS NOT OLD.payer_id OR NEW.bundle_version_id IS NOT OLD.bundle_version_id
      OR NEW.assumption_set_version_id IS NOT OLD.assumption_set_version_id
      OR NEW.experience_id IS NOT OLD.experience_id
      OR (OLD.result IS NOT NULL AND NEW.result IS NOT OLD.result)
      OR (OLD.status IN ('succeeded', 'failed', 'cancelled') AND (
            NEW.status IS NOT OLD.status OR NEW.result IS NOT OLD.result OR NEW.error IS NOT OLD.error))""",
)


class Migration(migrations.Migration):
    dependencies = [("pricing", "0001_initial")]

    operations = [run_triggers(VERSION_IMMUTABLE, RUN_IMMUTABLE)]
