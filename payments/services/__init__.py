"""Writes of payments, split by concern; every public name is re-exported here, so
``from payments.services import X`` keeps working.

- ``months``: rate cell keys (months are ``core.domain.months``; a month from a request is
  ``core.errors.month_from_input``, re-exported here as ``parse_month``);
- ``plan``: what a run is calculated from (and its fingerprint);
- ``runs``: request, calculate and approve a payment run;
- ``lines``: the member-month, assessment and retro lines of a run;
- ``ledger``: the ledger sequence, posting, and posting a correction;
- ``approval``: four eyes (who may approve what someone requested);
- ``corrections``: request, approve and reject a ledger correction;
- ``refunds``: record, approve and reject a refund received against an open receivable;
- ``month_end``: every contract's run of a month, spread over the workers (``core.bulk``);
- ``schedule``: the daily job starting due runs (through month-end);
- ``settlement``: settling a closed performance period;
- ``settlement_all``: settling a period for every contract, spread over the workers (``core.bulk``).
"""

from __future__ import annotations

from core.domain.months import INVALID_MONTH_MESSAGE
from core.errors import month_from_input as parse_month
from payments.services.approval import (
    FOUR_EYES_LIMIT_MESSAGE,
    FOUR_EYES_MESSAGE,
    require_second_person,
    single_approval_limit,
)
from payments.services.corrections import (
    CORRECTION_OPEN_MESSAGE,
    INVALID_AMOUNT_MESSAGE,
    REASON_REQUIRED_MESSAGE,
    UNCHANGED_MESSAGE,
    ledger_correction_approve,
    ledger_correction_reject,
    ledger_correction_request,
    ledger_entry_correct,
)
from payments.services.ledger import (
    ALREADY_REVERSED_MESSAGE,
    REVERSAL_NOT_CORRECTABLE_MESSAGE,
    ledger_position,
    open_receivable_of,
)
from payments.services.lines import MISSING_FEE_MESSAGE, MISSING_RATE_MESSAGE
from payments.services.month_end import (
    MONTH_END,
    NO_CONTRACTS_MESSAGE,
    month_end_retry_failed,
    month_end_start,
)
from payments.services.months import cell_key
from payments.services.plan import NOT_IN_FORCE_MESSAGE, MonthInput, Plan, build_plan, paid_state
from payments.services.refunds import (
    REFUND_ABOVE_RECEIVABLE_MESSAGE,
    REFUND_AMOUNT_MESSAGE,
    REFUND_DATE_MESSAGE,
    REFUND_REASON_REQUIRED_MESSAGE,
    refund_approve,
    refund_reject,
    refund_request,
)
from payments.services.runs import (
    CALCULATION_FAILED_MESSAGE,
    NO_ROSTER_MESSAGE,
    NOT_IN_REVIEW_MESSAGE,
    STALE_MESSAGE,
    payment_run_approve,
    payment_run_calculate,
    payment_run_request,
    payment_run_start,
)
from payments.services.schedule import STALLED_AFTER, due_date_for, payment_runs_start_due
from payments.services.settlement import (
    PERIOD_OPEN_MESSAGE,
    PERIOD_OVERLAP_MESSAGE,
    SETTLEMENT_NOT_IN_REVIEW_MESSAGE,
    SETTLEMENT_STALE_MESSAGE,
    SettlementPlan,
    build_settlement_plan,
    settlement_approve,
    settlement_request,
)
from payments.services.settlement_all import (
    NO_CONTRACTS_TO_SETTLE_MESSAGE,
    SETTLE_ALL,
    SETTLED_UNCHANGED_MESSAGE,
    settlement_all_retry_failed,
    settlement_all_start,
)

__all__ = [
    "ALREADY_REVERSED_MESSAGE",
    "CORRECTION_OPEN_MESSAGE",
    "FOUR_EYES_LIMIT_MESSAGE",
    "FOUR_EYES_MESSAGE",
    "INVALID_AMOUNT_MESSAGE",
    "REASON_REQUIRED_MESSAGE",
    "UNCHANGED_MESSAGE",
    "ledger_correction_approve",
    "ledger_correction_reject",
    "ledger_correction_request",
    "require_second_person",
    "single_approval_limit",
    "CALCULATION_FAILED_MESSAGE",
    "INVALID_MONTH_MESSAGE",
    "MISSING_FEE_MESSAGE",
    "MISSING_RATE_MESSAGE",
    "MonthInput",
    "NOT_IN_FORCE_MESSAGE",
    "NOT_IN_REVIEW_MESSAGE",
    "NO_ROSTER_MESSAGE",
    "PERIOD_OPEN_MESSAGE",
    "PERIOD_OVERLAP_MESSAGE",
    "Plan",
    "REVERSAL_NOT_CORRECTABLE_MESSAGE",
    "SETTLEMENT_NOT_IN_REVIEW_MESSAGE",
    "SETTLEMENT_STALE_MESSAGE",
    "STALE_MESSAGE",
    "STALLED_AFTER",
    "SettlementPlan",
    "build_plan",
    "build_settlement_plan",
    "cell_key",
    "due_date_for",
    "ledger_entry_correct",
    "ledger_position",
    "open_receivable_of",
    "REFUND_ABOVE_RECEIVABLE_MESSAGE",
    "REFUND_AMOUNT_MESSAGE",
    "REFUND_DATE_MESSAGE",
    "REFUND_REASON_REQUIRED_MESSAGE",
    "refund_approve",
    "refund_reject",
    "refund_request",
    "paid_state",
    "parse_month",
    "payment_run_approve",
    "payment_run_calculate",
    "payment_run_request",
    "payment_run_start",
    "payment_runs_start_due",
    "MONTH_END",
    "NO_CONTRACTS_MESSAGE",
    "month_end_retry_failed",
    "month_end_start",
    "settlement_approve",
    "settlement_request",
    "NO_CONTRACTS_TO_SETTLE_MESSAGE",
    "SETTLE_ALL",
    "SETTLED_UNCHANGED_MESSAGE",
    "settlement_all_retry_failed",
    "settlement_all_start",
]
