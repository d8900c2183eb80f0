"""The lifecycles of payment runs and settlements, declared once (core.statemachine).

A payment run is calculated by a worker and waits in review; the plan's analyst approves it (its
lines are posted to the ledger) or asks for it again, which calculates it again when its inputs
changed. A failed run stays failed: asking again makes a new run of the month. A settlement is
calculated in review, recalculated in place while its inputs change, and approved once.
"""

from __future__ import annotations

from core.statemachine import Refusal, StateMachine, Transition
from payments.models import CorrectionStatus, PaymentRunStatus, RefundStatus, SettlementStatus

NOT_IN_REVIEW_MESSAGE = "Only a run in review can be approved."
SETTLEMENT_NOT_IN_REVIEW_MESSAGE = "Only a settlement in review can be approved."
CORRECTION_DECIDED_MESSAGE = "This correction was already approved or rejected."
REFUND_DECIDED_MESSAGE = "This refund was already approved or rejected."

PAYMENT_RUN = StateMachine(
    "payment run",
    states=PaymentRunStatus.values,
    transitions=[
        Transition("calculate", PaymentRunStatus.CALCULATING, PaymentRunStatus.REVIEW),
        Transition("fail", PaymentRunStatus.CALCULATING, PaymentRunStatus.FAILED),
        # Asked again (the plan, or the daily beat): calculated again when its inputs changed.
        Transition("recalculate", PaymentRunStatus.REVIEW, PaymentRunStatus.CALCULATING, "payment.run"),
        # Asked again after a failure: the failed run stays as it is, the month gets a new run.
        Transition("recalculate", PaymentRunStatus.FAILED, PaymentRunStatus.FAILED, "payment.run"),
        Transition("approve", PaymentRunStatus.REVIEW, PaymentRunStatus.APPROVED, "payment.approve"),
    ],
    refusals={"approve": Refusal(NOT_IN_REVIEW_MESSAGE, "run_not_in_review", details=("status",))},
)

SETTLEMENT = StateMachine(
    "settlement",
    states=SettlementStatus.values,
    transitions=[
        # Asked again while in review: recalculated in place when its inputs changed.
        Transition("recalculate", SettlementStatus.REVIEW, SettlementStatus.REVIEW, "performance.settle"),
        Transition("approve", SettlementStatus.REVIEW, SettlementStatus.APPROVED, "performance.settle"),
    ],
    refusals={
        "approve": Refusal(SETTLEMENT_NOT_IN_REVIEW_MESSAGE, "settlement_not_in_review", details=("status",))
    },
)

# A ledger correction is requested by one analyst, then approved (reversal and new entry posted) by
# another, or rejected (by anyone who may approve, the requester too: a withdrawal).
LEDGER_CORRECTION = StateMachine(
    "ledger correction",
    states=CorrectionStatus.values,
    transitions=[
        Transition("approve", CorrectionStatus.REQUESTED, CorrectionStatus.APPROVED, "payment.approve"),
        Transition("reject", CorrectionStatus.REQUESTED, CorrectionStatus.REJECTED, "payment.approve"),
    ],
    refusals={
        "approve": Refusal(CORRECTION_DECIDED_MESSAGE, "correction_decided", details=("status",)),
        "reject": Refusal(CORRECTION_DECIDED_MESSAGE, "correction_decided", details=("status",)),
    },
)

# A refund received is recorded by one analyst, then approved (its ledger entry posted) by another, or
# rejected (by anyone who may approve, the requester too: a withdrawal), like a ledger correction.
REFUND = StateMachine(
    "refund",
    states=RefundStatus.values,
    transitions=[
        Transition("approve", RefundStatus.REQUESTED, RefundStatus.APPROVED, "payment.approve"),
        Transition("reject", RefundStatus.REQUESTED, RefundStatus.REJECTED, "payment.approve"),
    ],
    refusals={
        "approve": Refusal(REFUND_DECIDED_MESSAGE, "refund_decided", details=("status",)),
        "reject": Refusal(REFUND_DECIDED_MESSAGE, "refund_decided", details=("status",)),
    },
)
