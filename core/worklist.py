"""What needs a user now: the items each domain app puts on a workspace's worklist (issue 16).

Each app has one selector that returns its items for a scope (``enrollment.selectors.roster_work``,
``contracts.selectors.contract_work``, ``payments.selectors.approval_work``,
``pricing.selectors.stalled_run_work``); ``web.workspace`` gathers them. The ``kind`` codes are
part of the API (``GET /api/v1/workspace/``): extend them, never rename them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.domain.canonical import canonical_json, sha256_hex
from core.domain.codes import WORK_ITEM_LABELS

#: Every kind of item, with what it is called on the page (in the order a list of kinds reads).
KINDS: dict[str, str] = WORK_ITEM_LABELS
#: The codes alone (the API schema's WorkItemKindEnum).
KIND_CODES: list[str] = list(KINDS)


@dataclass(frozen=True)
class WorkItem:
    """One thing to do: what (``kind``, ``title``), why (``detail``), by when (``due``) and where
    (``url``, the page where it is done). ``urgent`` items (late, stalled) come first."""

    kind: str
    title: str
    detail: str
    url: str
    due: date | None = None
    urgent: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown work item kind {self.kind!r}: add it to core.worklist.KINDS")

    @property
    def label(self) -> str:
        return KINDS[self.kind]

    @property
    def key(self) -> str:
        """The item's identity across worklists (a notification or a webhook delivery is made once per key)."""
        return sha256_hex(canonical_json([self.kind, self.title, self.url]))


def ordered(items: list[WorkItem]) -> list[WorkItem]:
    """Urgent first, then by due date (items without one last), then in the order of ``KINDS``."""
    order = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(
        items,
        key=lambda item: (
            not item.urgent,
            item.due is None,
            item.due or date.max,
            order[item.kind],
            item.title,
        ),
    )
