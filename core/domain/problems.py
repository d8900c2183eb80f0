"""The one type for "a validation problem", and how it is written for people and programs.

Every validator (bundle definitions, contract terms, pricing files and assumptions, roster,
utilization and experience files, X12 834 eligibility files) reports what is wrong as
:class:`Problem` values, never by raising at the first one. A problem is addressed the way its
input is read:

- a table (CSV, XLSX): ``row`` as a spreadsheet shows it (the header is row 1) and ``column``
  (``""`` for the whole row or file), and ``file`` when one upload holds several files;
- a JSON document: ``path`` (``$.roles[1].by_tier.2.visits_per_mm``, or a field such as
  ``markets[0]``);
- anything else a format needs to point at (an X12 segment's index, id, position, element and
  control numbers) in ``where``, whose keys are rendered as they are.

``severity`` is ``"error"`` (blocks the input) or ``"warning"`` (reported, accepted). A
validator that only ever reports errors leaves it ``None``, and its problems render without a
``severity`` key, exactly as those bodies always have: :meth:`Problem.as_dict` writes only the
keys a problem has, so each API body keeps the keys its clients know. The API puts the list
under ``details.problems``; pages render it through one template include.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

ERROR: Final = "error"
WARNING: Final = "warning"
SEVERITIES = (ERROR, WARNING)
Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, addressed so a person (and a program) can find it."""

    code: str
    message: str
    row: int | None = None
    column: str | None = None
    path: str | None = None
    file: str | None = None
    severity: Severity | None = None
    where: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.severity is not None and self.severity not in SEVERITIES:
            raise ValueError(f"severity is one of {SEVERITIES}, not {self.severity!r}")
        # A copy, so that the caller's dict changing later does not move a reported problem.
        object.__setattr__(self, "where", dict(self.where))

    # -- constructors for the two common shapes
    @classmethod
    def at_path(cls, path: str, code: str, message: str, severity: Severity | None = None) -> Problem:
        """A problem in a JSON document (or a named field) at ``path``."""
        return cls(code, message, path=path, severity=severity)

    @classmethod
    def at_cell(
        cls,
        row: int,
        column: str,
        code: str,
        message: str,
        *,
        file: str | None = None,
        severity: Severity | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> Problem:
        """A problem in a table at ``row`` (header = 1) and ``column`` (``""``: the whole row)."""
        return cls(code, message, row=row, column=column, file=file, severity=severity, where=where or {})

    # -- reading
    @property
    def is_warning(self) -> bool:
        return self.severity == WARNING

    @property
    def is_error(self) -> bool:
        return self.severity != WARNING

    def evolve(self, **changes: Any) -> Problem:
        """A copy with some fields changed (a path moved under a parent, a file named, ...)."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape: the coordinates it has, ``code``, ``message``, ``severity`` if set.

        Keys come in a fixed order (file, row, column, path, code, message, severity, then
        ``where``'s own) and a coordinate that is ``None`` is left out.
        """
        out: dict[str, Any] = {}
        for key in ("file", "row", "column", "path"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["code"] = self.code
        out["message"] = self.message
        if self.severity is not None:
            out["severity"] = self.severity
        out.update(self.where)
        return out


def problem_dicts(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    """The list an API body carries under ``details.problems``."""
    return [p.as_dict() for p in problems]


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]


def warnings_only(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_warning]


class ProblemLog:
    """Collects problems up to ``limit`` while counting all of them.

    A million-row file with a bad column has a million problems; a person reads the first few
    hundred and the count. ``len()`` is the count, iteration gives the kept ones.
    """

    __slots__ = ("count", "kept", "limit")

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.kept: list[Problem] = []
        self.count = 0

    def add(self, problem: Problem) -> None:
        self.count += 1
        if self.limit is None or len(self.kept) < self.limit:
            self.kept.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.kept)
