"""Writes for pricing, split by concern; every public name is re-exported here, so
``from pricing.services import X`` keeps working.

Every service checks the role (accounts.permissions) and that the objects are the plan's own,
validates everything before writing anything, and reports every problem at once with its JSON
path (assumptions, pricing files, run parameters) or its row and column (experience files).

- ``quoting``: the stateless quote;
- ``assumptions``: assumption sets and their versions;
- ``experience``: experience uploads;
- ``runs``: starting and cancelling pricing runs;
- ``execution``: computing a run (the Celery task's body);
- ``sharing``: sharing a succeeded run read-only with another organisation, and revoking it;
- ``stalled``: the sweep of runs left behind by a dead worker;
- ``common``: what several of them share.
"""

from __future__ import annotations

from pricing.services.assumptions import (
    DRAFT_EXISTS_MESSAGE,
    DUPLICATE_NAME_MESSAGE,
    INVALID_ASSUMPTIONS_MESSAGE,
    NO_DRAFT_MESSAGE,
    NOT_OWN_MESSAGE,
    assumption_draft_publish,
    assumption_draft_update,
    assumption_set_create,
    assumption_set_import,
    assumption_version_export,
    assumption_version_new_draft,
    plan_defaults,
    plan_market_entries,
)
from pricing.services.common import INVALID_PRICING_FILE_MESSAGE, RUN_LOCK_NAMESPACE
from pricing.services.execution import STEP_DELAY_ENV, RunCancelled, _computing, pricing_run_execute
from pricing.services.experience import (
    EXPERIENCE_REJECTED_MESSAGE,
    experience_rejected_error,
    experience_upload,
    experience_upload_process,
)
from pricing.services.fee_schedules import (
    FEE_SCHEDULE_REJECTED_MESSAGE,
    fee_schedule_rejected_error,
    fee_schedule_upload,
)
from pricing.services.quoting import OUT_OF_RANGE_MESSAGE, pricing_quote, pricing_what_if, run_levers
from pricing.services.runs import (
    ASSUMPTIONS_NOT_PUBLISHED_MESSAGE,
    BUNDLE_NOT_PUBLISHED_MESSAGE,
    EXPERIENCE_NOT_VALID_MESSAGE,
    INVALID_RUN_MESSAGE,
    MAX_ENROLLEES,
    MAX_SIMULATION_YEARS,
    MIN_SIMULATION_YEARS,
    RUN_FINISHED_MESSAGE,
    pricing_run_cancel,
    pricing_run_start,
    pricing_run_what_if_save,
)
from pricing.services.sensitivity import (
    MAX_SENSITIVITY_YEARS,
    MIN_SENSITIVITY_YEARS,
    sensitivity_execute,
    sensitivity_start,
)
from pricing.services.sharing import (
    SHARE_NOT_SUCCEEDED_MESSAGE,
    pricing_run_share,
    pricing_run_share_revoke,
)
from pricing.services.stalled import (
    GAVE_UP_MESSAGE,
    MAX_ATTEMPTS,
    REQUEUED_MESSAGE,
    STALLED_AFTER,
    pricing_runs_requeue_stalled,
)

__all__ = [
    "SHARE_NOT_SUCCEEDED_MESSAGE",
    "pricing_run_share",
    "pricing_run_share_revoke",
    "ASSUMPTIONS_NOT_PUBLISHED_MESSAGE",
    "BUNDLE_NOT_PUBLISHED_MESSAGE",
    "DRAFT_EXISTS_MESSAGE",
    "DUPLICATE_NAME_MESSAGE",
    "EXPERIENCE_NOT_VALID_MESSAGE",
    "EXPERIENCE_REJECTED_MESSAGE",
    "GAVE_UP_MESSAGE",
    "INVALID_ASSUMPTIONS_MESSAGE",
    "INVALID_PRICING_FILE_MESSAGE",
    "INVALID_RUN_MESSAGE",
    "MAX_ATTEMPTS",
    "MAX_ENROLLEES",
    "MAX_SENSITIVITY_YEARS",
    "MAX_SIMULATION_YEARS",
    "MIN_SENSITIVITY_YEARS",
    "MIN_SIMULATION_YEARS",
    "NOT_OWN_MESSAGE",
    "NO_DRAFT_MESSAGE",
    "OUT_OF_RANGE_MESSAGE",
    "REQUEUED_MESSAGE",
    "RUN_FINISHED_MESSAGE",
    "RUN_LOCK_NAMESPACE",
    "RunCancelled",
    "STALLED_AFTER",
    "STEP_DELAY_ENV",
    "_computing",
    "assumption_draft_publish",
    "assumption_draft_update",
    "assumption_set_create",
    "assumption_set_import",
    "assumption_version_export",
    "assumption_version_new_draft",
    "experience_rejected_error",
    "experience_upload",
    "FEE_SCHEDULE_REJECTED_MESSAGE",
    "fee_schedule_rejected_error",
    "fee_schedule_upload",
    "experience_upload_process",
    "plan_defaults",
    "plan_market_entries",
    "pricing_quote",
    "sensitivity_execute",
    "sensitivity_start",
    "pricing_what_if",
    "run_levers",
    "pricing_run_what_if_save",
    "pricing_run_cancel",
    "pricing_run_execute",
    "pricing_run_start",
    "pricing_runs_requeue_stalled",
]
