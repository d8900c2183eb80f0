"""Voids and replacements: which lines of a claim stand once a file is applied. Pure: no Django.

A claim is identified by its claim id; a version of it is the lines a file sends with one frequency
code (a file holds one version per frequency code; the reader refuses a line sent twice), dated by
the latest of their paid dates. Versions apply in that order (on the same day an original before
its replacement before a void):

- an original (1) stands when the claim has no standing version; an original for a claim that
  already stands is an error, since it would silently change paid history: the plan sends a
  replacement (7) or a void (8) instead;
- a replacement (7) stands in place of the whole claim (every line of the earlier version stops
  standing, as X12 frequency 7 says);
- a void (8) ends the claim: none of its lines stand;
- a version received before (a file sent twice, an overlapping extract), standing or not, changes
  nothing and is reported as a duplicate: an old extract sent again cannot bring back a claim
  that was voided or replaced since.

Nothing is deleted: every line received is kept, and lines that stop standing are marked.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from claims.records import ORIGINAL, REPLACEMENT, VOID, ClaimLine
from core.domain.problems import WARNING, Problem

_ORDER = {ORIGINAL: 0, REPLACEMENT: 1, VOID: 2}

ALREADY_LOADED = (
    "Claim {claim!r} is already loaded (paid {paid}); send a change as a replacement (frequency 7) "
    "or a void (8), not a second original."
)
DUPLICATE_CLAIM = (
    "Claim {claim!r} (frequency {frequency}, paid {paid}) was loaded before; it changes nothing."
)
REPLACEMENT_WITHOUT_ORIGINAL = "Claim {claim!r} replaces a claim we have not received; it is loaded as it is."
VOID_WITHOUT_ORIGINAL = "Claim {claim!r} voids a claim we have not received; nothing is loaded for it."


@dataclass
class Outcome:
    standing: list[int] = field(default_factory=list)  # indexes of incoming lines that stand
    superseded: set[str] = field(default_factory=set)  # claims whose earlier standing lines stop standing
    problems: list[Problem] = field(default_factory=list)
    replaced: int = 0
    voided: int = 0
    duplicates: int = 0


def version_content(lines: Sequence[ClaimLine]) -> tuple[ClaimLine, ...]:
    """A version as compared with another: its lines in line-number order."""
    return tuple(sorted(lines, key=lambda line: line.line_number))


def apply_versions(
    incoming: Sequence[ClaimLine],
    rows: Sequence[int],
    standing: Mapping[str, Sequence[ClaimLine]],
    received: Mapping[str, Collection[tuple[ClaimLine, ...]]] | None = None,
) -> Outcome:
    """Apply ``incoming`` (lines of one file, ``rows[i]`` the row of line ``i``) to the ``standing``
    lines of the same claims (claim id -> lines); ``received`` holds every version of them received
    before (claim id -> version contents). Errors and warnings are addressed to rows."""
    received = received or {}
    outcome = Outcome()
    by_claim: dict[str, dict[str, list[int]]] = {}
    for i, line in enumerate(incoming):
        by_claim.setdefault(line.claim_id, {}).setdefault(line.frequency_code, []).append(i)
    for claim, by_frequency in by_claim.items():
        # A version's lines may be paid on different days: it is dated by its latest payment.
        versions = {
            (max(incoming[i].paid_date for i in indexes), _ORDER[frequency], frequency): indexes
            for frequency, indexes in by_frequency.items()
        }
        before = standing.get(claim) or ()
        current: tuple[ClaimLine, ...] | None = version_content(before) if before else None
        seen = received.get(claim, ())
        current_indexes: list[int] | None = None  # None: the standing lines are the earlier ones
        for (paid, _, frequency), indexes in sorted(versions.items()):
            lines = version_content([incoming[i] for i in indexes])
            row = rows[min(indexes)]
            if lines == current or lines in seen:
                outcome.duplicates += 1
                outcome.problems.append(
                    _warning(
                        row,
                        "duplicate_claim",
                        message=DUPLICATE_CLAIM.format(claim=claim, frequency=frequency, paid=paid),
                    )
                )
                continue
            if frequency == ORIGINAL:
                if current is not None:
                    outcome.problems.append(
                        Problem.at_cell(
                            row,
                            "frequency_code",
                            "claim_already_loaded",
                            ALREADY_LOADED.format(claim=claim, paid=current[0].paid_date),
                        )
                    )
                    continue
                current, current_indexes = lines, indexes
            elif frequency == REPLACEMENT:
                if current is None:
                    outcome.problems.append(
                        _warning(
                            row,
                            "replacement_without_original",
                            message=REPLACEMENT_WITHOUT_ORIGINAL.format(claim=claim),
                        )
                    )
                else:
                    outcome.replaced += 1
                current, current_indexes = lines, indexes
            else:
                if current is None:
                    outcome.problems.append(
                        _warning(
                            row, "void_without_original", message=VOID_WITHOUT_ORIGINAL.format(claim=claim)
                        )
                    )
                else:
                    outcome.voided += 1
                current, current_indexes = None, []
        if current_indexes is not None:
            if before:
                outcome.superseded.add(claim)
            outcome.standing.extend(current_indexes)
    outcome.standing.sort()
    return outcome


def _warning(row: int, code: str, *, message: str) -> Problem:
    return Problem.at_cell(row, "claim_id", code, message, severity=WARNING)
