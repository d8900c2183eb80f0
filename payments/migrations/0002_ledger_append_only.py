"""Ledger entries are append-only: the database refuses to change or remove a posted entry."""

from django.db import migrations

from core.db_triggers import row_guard, run_triggers

MESSAGE = "ledger entries are append-only: post a reversing entry and a new one instead"

# No conditions: every update and delete is refused (payments 0003 recreates the SQLite trigger).
LEDGER_APPEND_ONLY = row_guard(
    "payments_ledger_append_only", "payments_ledgerentry", MESSAGE, errcode="integrity_constraint_violation"
)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [run_triggers(LEDGER_APPEND_ONLY)]
