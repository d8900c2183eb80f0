"""The lifecycles of a contract and of its versions, declared once (core.statemachine).

Every version (version 1, then each amendment) goes draft -> proposed -> active; the plan edits
and proposes a draft, the provider may return a proposal, either side may counter the other's offer
(or reject a counter-offer), and each side accepts the final round (the version
activates when both have). ``Contract.status`` mirrors its first version until that one is
active, then stays ``active`` through amendments until the contract is terminated or expires:
those mirror moves are fired by the platform as a consequence of the version's.
"""

from __future__ import annotations

from contracts.models import ContractStatus, VersionStatus
from core.statemachine import Refusal, StateMachine, Transition

NOT_EDITABLE_MESSAGE = "Only a draft can be edited. To change an active contract, amend it."
NOT_PROPOSABLE_MESSAGE = "Only a draft can be proposed."
NOT_ACCEPTABLE_MESSAGE = "Only a proposed contract can be accepted; a draft must be proposed first."
NOT_RETURNABLE_MESSAGE = "Only a proposed contract can be returned to the plan."
NOT_COUNTERABLE_MESSAGE = "Only a proposed contract can be countered; a draft is edited by the plan."
NOT_REJECTABLE_MESSAGE = "Only a counter-offer on a proposed contract can be rejected."
NOT_TERMINABLE_MESSAGE = "Only an active contract can be terminated."
NOT_AMENDABLE_MESSAGE = "Only an active contract can be amended."

#: Fired only by the plan that holds the contract (the provider's side may accept and return).
PLAN_ONLY_ACTIONS = frozenset({"edit", "propose", "amend", "terminate"})


def _refusal(message: str) -> Refusal:
    return Refusal(message, "invalid_transition", details=("status", "action"))


CONTRACT_VERSION = StateMachine(
    "contract version",
    states=VersionStatus.values,
    transitions=[
        Transition("edit", VersionStatus.DRAFT, VersionStatus.DRAFT, "contract.edit"),
        Transition("propose", VersionStatus.DRAFT, VersionStatus.PROPOSED, "contract.edit"),
        # One side's acceptance; the version activates once both sides have accepted this round.
        Transition("accept", VersionStatus.PROPOSED, VersionStatus.PROPOSED, "contract.accept"),
        Transition("return", VersionStatus.PROPOSED, VersionStatus.DRAFT, "contract.return"),
        # Negotiation: the side whose offer is not on the table answers it with new terms (a new round),
        # or rejects a counter-offer (its own earlier offer is back on the table, as a new round).
        Transition("counter", VersionStatus.PROPOSED, VersionStatus.PROPOSED, "contract.counter"),
        Transition("reject_counter", VersionStatus.PROPOSED, VersionStatus.PROPOSED, "contract.counter"),
        Transition("activate", VersionStatus.PROPOSED, VersionStatus.ACTIVE),
        Transition("supersede", VersionStatus.ACTIVE, VersionStatus.SUPERSEDED),  # an amendment took over
        # The contract's current version goes with it (who may terminate is the contract's rule).
        Transition("terminate", VersionStatus.ACTIVE, VersionStatus.TERMINATED),
        Transition("expire", VersionStatus.ACTIVE, VersionStatus.EXPIRED),
        # A pending version goes with its contract when that one is terminated or expires.
        Transition("withdraw", (VersionStatus.DRAFT, VersionStatus.PROPOSED), VersionStatus.WITHDRAWN),
    ],
    refusals={
        "edit": _refusal(NOT_EDITABLE_MESSAGE),
        "propose": _refusal(NOT_PROPOSABLE_MESSAGE),
        "accept": _refusal(NOT_ACCEPTABLE_MESSAGE),
        "return": _refusal(NOT_RETURNABLE_MESSAGE),
        "counter": _refusal(NOT_COUNTERABLE_MESSAGE),
        "reject_counter": _refusal(NOT_REJECTABLE_MESSAGE),
    },
)

CONTRACT = StateMachine(
    "contract",
    states=ContractStatus.values,
    transitions=[
        # Mirrors of version 1's moves (fired with them, never on their own).
        Transition("propose", ContractStatus.DRAFT, ContractStatus.PROPOSED),
        Transition("return", ContractStatus.PROPOSED, ContractStatus.DRAFT),
        Transition("activate", (ContractStatus.PROPOSED, ContractStatus.ACTIVE), ContractStatus.ACTIVE),
        # An amendment is a new draft version; the contract stays active meanwhile.
        Transition("amend", ContractStatus.ACTIVE, ContractStatus.ACTIVE, "contract.edit"),
        Transition("terminate", ContractStatus.ACTIVE, ContractStatus.TERMINATED, "contract.terminate"),
        Transition("expire", ContractStatus.ACTIVE, ContractStatus.EXPIRED),
    ],
    refusals={
        "amend": _refusal(NOT_AMENDABLE_MESSAGE),
        "terminate": _refusal(NOT_TERMINABLE_MESSAGE),
    },
)
