"""The lifecycle of a roster submission, declared once (core.statemachine).

A submission is processed once, by the platform: ``processing`` until a worker has validated and
stored it, then ``accepted`` or ``rejected`` for good. A provider never moves a submission; a
correction is a new submission (the next version of the month).
"""

from __future__ import annotations

from core.statemachine import StateMachine, Transition
from enrollment.models import ProcessingStatus

ROSTER_SUBMISSION = StateMachine(
    "roster submission",
    states=ProcessingStatus.values,
    transitions=[
        # A worker takes it up (again, after an interruption: nothing was stored the first time).
        Transition("process", ProcessingStatus.PROCESSING, ProcessingStatus.PROCESSING),
        Transition("accept", ProcessingStatus.PROCESSING, ProcessingStatus.ACCEPTED),
        Transition("reject", ProcessingStatus.PROCESSING, ProcessingStatus.REJECTED),
    ],
)
