"""State machines declared once: an object's statuses, the transitions between them and who may fire each.

Pure (no Django): an app declares its machine in ``<app>/states.py`` next to nothing but the status
values and the refusal messages; its services move a row only through ``target``/``check`` (with the
row locked, as before), and its pages and API list ``actions_for`` the user, so neither says again
what the declaration says. Who may fire a transition is a permission of ``accounts.permissions``
(the one map); a transition without one is fired only by the platform itself (a worker, the daily
beat, or as the consequence of another machine's transition).

Conditions that are not about the status (which party owns the object, whether this side already
accepted, whether a draft already exists) stay with the service that enforces them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from core.errors import ConflictError

DEFAULT_REFUSAL_MESSAGE = "This action is not allowed in the current state."


@dataclass(frozen=True)
class Transition:
    """``action`` moves an object from any of ``source`` to ``target`` (``None``: the status stays)."""

    action: str
    source: str | tuple[str, ...]
    target: str | None = None
    permission: str | None = None  # an action of accounts.permissions; None: only the platform fires it

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else tuple(self.source)


@dataclass(frozen=True)
class Refusal:
    """The error a service raises when an action is not allowed from a status (the API body of today)."""

    message: str = DEFAULT_REFUSAL_MESSAGE
    code: str = "invalid_transition"
    details: tuple[str, ...] = ()  # which of "status" and "action" the error's details carry

    def error(self, *, action: str, status: str | None) -> ConflictError:
        known = {"status": status, "action": action}
        return ConflictError(self.message, code=self.code, details={key: known[key] for key in self.details})


class StateMachine:
    """The declaration of one kind of object's lifecycle; checked for consistency when declared."""

    def __init__(
        self,
        name: str,
        *,
        states: Iterable[str],
        transitions: Iterable[Transition],
        refusals: Mapping[str, Refusal] | None = None,
    ) -> None:
        self.name = name
        self.states: tuple[str, ...] = tuple(states)
        self.transitions: tuple[Transition, ...] = tuple(transitions)
        self.refusals: dict[str, Refusal] = dict(refusals or {})
        self._by_move: dict[tuple[str, str], Transition] = {}
        self._permissions: dict[str, str | None] = {}
        for transition in self.transitions:
            self._add(transition)
        unknown = set(self.refusals) - set(self._permissions)
        if unknown:
            raise ValueError(f"{name}: refusals for undeclared actions {sorted(unknown)}")

    def _add(self, transition: Transition) -> None:
        action = transition.action
        moves = set(transition.sources) | ({transition.target} if transition.target else set())
        strangers = moves - set(self.states)
        if strangers:
            raise ValueError(f"{self.name}: {action!r} names unknown states {sorted(strangers)}")
        if self._permissions.get(action, transition.permission) != transition.permission:
            raise ValueError(f"{self.name}: {action!r} is declared with two permissions")
        self._permissions[action] = transition.permission
        for source in transition.sources:
            if (source, action) in self._by_move:
                raise ValueError(f"{self.name}: {action!r} from {source!r} is declared twice")
            self._by_move[(source, action)] = transition

    # --- reading the declaration -----------------------------------------------------------------

    @property
    def actions(self) -> tuple[str, ...]:
        """Every declared action, in the order declared."""
        return tuple(self._permissions)

    def allowed(self, status: str) -> list[str]:
        """The actions declared from ``status``, in the order declared."""
        return [action for action in self._permissions if (status, action) in self._by_move]

    def can_fire(self, action: str, status: str) -> bool:
        self._known(action)
        return (status, action) in self._by_move

    def sources(self, action: str) -> frozenset[str]:
        """The statuses ``action`` may be fired from."""
        self._known(action)
        return frozenset(source for source, declared in self._by_move if declared == action)

    def permission(self, action: str) -> str | None:
        """Who may fire ``action`` (an action of accounts.permissions), or None when only the platform does."""
        self._known(action)
        return self._permissions[action]

    def person_permission(self, action: str) -> str:
        """The permission of an action a person fires (for ``Scope.require``); the platform's are KeyErrors."""
        permission = self.permission(action)
        if permission is None:
            raise KeyError(f"{self.name}: {action!r} is fired only by the platform")
        return permission

    def final_states(self) -> frozenset[str]:
        """The statuses nothing leaves."""
        return frozenset(self.states) - {source for source, _ in self._by_move}

    def moves(self) -> list[tuple[str, str, str]]:
        """Every declared ``(status, action, target)``, the target resolved where the status stays."""
        return [(source, action, t.target or source) for (source, action), t in self._by_move.items()]

    def actions_for(self, status: str, *, can: Callable[[str], bool]) -> list[str]:
        """The actions a person may fire from ``status``: declared from it, and ``can(permission)``
        (``Scope.can``) for their permission. The platform's own transitions are never offered."""
        offered = []
        for action in self.allowed(status):
            permission = self._permissions[action]
            if permission is not None and can(permission):
                offered.append(action)
        return offered

    # --- enforcing it ----------------------------------------------------------------------------

    def refusal(self, action: str, status: str | None) -> ConflictError:
        """The error for ``action`` refused from ``status`` (None: there is no object to act on)."""
        self._known(action)
        return self.refusals.get(action, Refusal(details=("status", "action"))).error(
            action=action, status=status
        )

    def check(self, action: str, status: str) -> None:
        """Raise the action's refusal unless ``action`` is declared from ``status``."""
        if not self.can_fire(action, status):
            raise self.refusal(action, status)

    def target(self, action: str, status: str) -> str:
        """The status ``action`` leads to from ``status``; raises its refusal when not declared."""
        self.check(action, status)
        return self._by_move[(status, action)].target or status

    def _known(self, action: str) -> None:
        if action not in self._permissions:
            raise KeyError(f"{self.name}: unknown action {action!r}")

    def __repr__(self) -> str:
        return f"StateMachine({self.name!r})"
