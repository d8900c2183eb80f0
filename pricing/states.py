"""The lifecycles of assumption set versions and pricing runs, declared once (core.statemachine).

An assumption set is edited as one draft at a time and published as a numbered immutable version,
the start of the next draft. A pricing run is queued, computed by a worker (again from its inputs
when a worker died mid-way) and ends succeeded, failed or cancelled; the analyst may cancel it
before then: at once while queued, at the worker's next step while running.
"""

from __future__ import annotations

from core.statemachine import Refusal, StateMachine, Transition
from pricing.models import AssumptionSetVersionStatus, PricingRunStatus

NO_DRAFT_MESSAGE = "This assumption set has no draft; start one from a published version."
NEW_DRAFT_FROM_DRAFT_MESSAGE = "Start a new draft from a published version."
RUN_FINISHED_MESSAGE = "The run has already finished; there is nothing to cancel."

ASSUMPTION_SET_VERSION = StateMachine(
    "assumption set version",
    states=AssumptionSetVersionStatus.values,
    transitions=[
        Transition(
            "edit", AssumptionSetVersionStatus.DRAFT, AssumptionSetVersionStatus.DRAFT, "pricing.edit"
        ),
        Transition(
            "publish", AssumptionSetVersionStatus.DRAFT, AssumptionSetVersionStatus.PUBLISHED, "pricing.edit"
        ),
        # The version stays as it is; the new draft is a new row based on it.
        Transition("new_draft", AssumptionSetVersionStatus.PUBLISHED, None, "pricing.edit"),
    ],
    refusals={
        # The draft actions act on "the set's draft": with none, there is nothing to act on.
        "edit": Refusal(NO_DRAFT_MESSAGE, "no_draft"),
        "publish": Refusal(NO_DRAFT_MESSAGE, "no_draft"),
        "new_draft": Refusal(NEW_DRAFT_FROM_DRAFT_MESSAGE, "not_published"),
    },
)

QUEUED, RUNNING = PricingRunStatus.QUEUED, PricingRunStatus.RUNNING

PRICING_RUN = StateMachine(
    "pricing run",
    states=PricingRunStatus.values,
    transitions=[
        Transition("start", QUEUED, RUNNING),
        Transition("restart", RUNNING, RUNNING),  # its worker died: computed again from its inputs
        Transition("succeed", RUNNING, PricingRunStatus.SUCCEEDED),
        # Failed by the computation, or by the sweep after too many lost workers (even while queued).
        Transition("fail", (QUEUED, RUNNING), PricingRunStatus.FAILED),
        Transition("cancel", QUEUED, PricingRunStatus.CANCELLED, "pricing.run"),
        Transition("cancel", RUNNING, RUNNING, "pricing.run"),  # the worker stops at its next step
        Transition("stop", (QUEUED, RUNNING), PricingRunStatus.CANCELLED),  # the worker acts on a cancel
    ],
    refusals={"cancel": Refusal(RUN_FINISHED_MESSAGE, "run_finished")},
)
