"""core.statemachine: the declaration type every app's lifecycle is written in (pure, no database)."""

from __future__ import annotations

import pytest

from core.errors import ConflictError
from core.statemachine import Refusal, StateMachine, Transition

DOOR = StateMachine(
    "door",
    states=["open", "closed", "locked"],
    transitions=[
        Transition("close", "open", "closed", "door.use"),
        Transition("open", "closed", "open", "door.use"),
        Transition("lock", "closed", "locked", "door.lock"),
        Transition("knock", ("closed", "locked"), None, "door.use"),
        Transition("unlock", "locked", "closed"),  # the platform only
    ],
    refusals={"lock": Refusal("Close it first.", "not_closed", details=("status",))},
)


def test_allowed_lists_the_actions_declared_from_a_status_in_declaration_order():
    assert DOOR.allowed("closed") == ["open", "lock", "knock"]
    assert DOOR.allowed("open") == ["close"]
    assert DOOR.actions == ("close", "open", "lock", "knock", "unlock")


def test_target_follows_the_declaration_and_none_keeps_the_status():
    assert DOOR.target("lock", "closed") == "locked"
    assert DOOR.target("knock", "locked") == "locked"
    assert DOOR.sources("knock") == frozenset({"closed", "locked"})
    assert ("locked", "knock", "locked") in DOOR.moves()


def test_an_undeclared_move_raises_the_declared_refusal():
    with pytest.raises(ConflictError) as caught:
        DOOR.check("lock", "open")
    error = caught.value
    assert (error.status, error.code, error.message, error.details) == (
        409,
        "not_closed",
        "Close it first.",
        {"status": "open"},
    )


def test_an_action_without_a_refusal_gets_the_generic_conflict():
    with pytest.raises(ConflictError) as caught:
        DOOR.target("close", "locked")
    assert caught.value.code == "invalid_transition"
    assert caught.value.details == {"status": "locked", "action": "close"}


def test_actions_for_keeps_only_what_the_permission_allows_and_never_the_platforms_own():
    assert DOOR.actions_for("closed", can=lambda permission: permission == "door.use") == ["open", "knock"]
    assert DOOR.actions_for("locked", can=lambda permission: True) == ["knock"]
    assert DOOR.permission("unlock") is None
    assert DOOR.person_permission("lock") == "door.lock"
    with pytest.raises(KeyError):
        DOOR.person_permission("unlock")


def test_final_states_are_those_nothing_leaves():
    machine = StateMachine(
        "run", states=["queued", "done"], transitions=[Transition("finish", "queued", "done")]
    )
    assert machine.final_states() == frozenset({"done"})


def test_unknown_actions_are_programming_errors():
    with pytest.raises(KeyError):
        DOOR.check("fly", "open")


@pytest.mark.parametrize(
    "transitions, refusals, problem",
    [
        ([Transition("go", "a", "nowhere")], {}, "unknown states"),
        ([Transition("go", "a", "b", "x"), Transition("go", "b", "a", "y")], {}, "two permissions"),
        ([Transition("go", "a", "b"), Transition("go", "a", "a")], {}, "declared twice"),
        ([Transition("go", "a", "b")], {"stop": Refusal()}, "undeclared actions"),
    ],
)
def test_an_inconsistent_declaration_is_refused_when_declared(transitions, refusals, problem):
    with pytest.raises(ValueError, match=problem):
        StateMachine("bad", states=["a", "b"], transitions=transitions, refusals=refusals)
