"""Claim lines are kept as received: the only change the database lets through is a line ceasing to
stand (a replacement or a void ended it); nothing else is updated and nothing is deleted."""

from django.db import migrations

from core.db_triggers import row_guard, run_triggers

MESSAGE = "claim lines are kept as received: only a line ceasing to stand may change"
# Refused: any update but standing true -> false with every other column the same (row values compared
# whole, NULL-safe on PostgreSQL with IS DISTINCT FROM).
_OTHER = (
    "upload_id, payer_id, row, member_id, claim_id, line_number, claim_type, frequency_code, bill_type, "
    "place_of_service, revenue_code, procedure_code, modifiers, diagnosis_codes, admission_date, "
    "discharge_date, discharge_status, service_from, service_to, paid_date, allowed_amount, paid_amount"
)
_OLD = ", ".join(f"OLD.{c.strip()}" for c in _OTHER.split(","))
_NEW = ", ".join(f"NEW.{c.strip()}" for c in _OTHER.split(","))

CLAIM_LINES_KEPT = row_guard(
    "claims_claim_lines_kept",
    "claims_claimlinerow",
    MESSAGE,
    errcode="integrity_constraint_violation",
    postgresql_update_when=f"NOT (OLD.standing AND NOT NEW.standing) OR ROW({_OLD}) IS DISTINCT FROM ROW({_NEW})",
    postgresql_delete_when="TRUE",
    sqlite_update_when=f"NOT (OLD.standing = 1 AND NEW.standing = 0) OR ({_OLD}) IS NOT ({_NEW})",
)


class Migration(migrations.Migration):
    dependencies = [("claims", "0001_initial")]

    operations = [run_triggers(CLAIM_LINES_KEPT)]
