"""The lifecycle of a bundle version, declared once (core.statemachine): services check it, pages list it.

A bundle is edited as one draft at a time, published as a numbered immutable version, and a published
version can be retired (it takes no new contracts) or be the start of the next draft.
"""

from __future__ import annotations

from bundles.models import BundleVersionStatus
from core.statemachine import Refusal, StateMachine, Transition

DRAFT, PUBLISHED, RETIRED = (
    BundleVersionStatus.DRAFT,
    BundleVersionStatus.PUBLISHED,
    BundleVersionStatus.RETIRED,
)

NO_DRAFT_MESSAGE = "This bundle has no draft; start one from a published version."
NOT_PUBLISHED_MESSAGE = "Only a published version can be retired."
NEW_DRAFT_FROM_DRAFT_MESSAGE = "Start a new draft from a published version."

BUNDLE_VERSION = StateMachine(
    "bundle version",
    states=BundleVersionStatus.values,
    transitions=[
        Transition("edit", DRAFT, DRAFT, "bundle.edit"),
        Transition("publish", DRAFT, PUBLISHED, "bundle.publish"),
        Transition("discard", DRAFT, None, "bundle.edit"),  # the draft row is deleted
        # The version stays as it is; the new draft is a new row based on it.
        Transition("new_draft", (PUBLISHED, RETIRED), None, "bundle.edit"),
        Transition("retire", PUBLISHED, RETIRED, "bundle.publish"),
    ],
    refusals={
        # The draft actions act on "the bundle's draft": with none, there is nothing to act on.
        "edit": Refusal(NO_DRAFT_MESSAGE, "no_draft"),
        "publish": Refusal(NO_DRAFT_MESSAGE, "no_draft"),
        "discard": Refusal(NO_DRAFT_MESSAGE, "no_draft"),
        "new_draft": Refusal(NEW_DRAFT_FROM_DRAFT_MESSAGE, "not_published"),
        "retire": Refusal(NOT_PUBLISHED_MESSAGE, "not_published"),
    },
)
