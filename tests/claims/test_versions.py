"""Voids and replacements (pure): which lines of a claim stand after a file."""

from __future__ import annotations

from decimal import Decimal

from claims.records import REPLACEMENT, VOID
from claims.versions import apply_versions

from .lines import D, line

ORIGINAL_LINES = [line(), line(line_number=2, procedure_code="99497")]
LATER = D(2026, 4, 10)


def apply(incoming, standing=None):
    return apply_versions(incoming, list(range(2, len(incoming) + 2)), standing or {})


def test_a_new_claim_stands():
    outcome = apply(ORIGINAL_LINES)
    assert outcome.standing == [0, 1]
    assert outcome.superseded == set()
    assert outcome.problems == []


def test_a_replacement_takes_the_place_of_every_line_of_the_claim():
    replacement = [line(frequency_code=REPLACEMENT, paid_date=LATER, paid_amount=Decimal("80.00"))]
    outcome = apply(replacement, {"C1": ORIGINAL_LINES})
    assert outcome.standing == [0]
    assert outcome.superseded == {"C1"}
    assert (outcome.replaced, outcome.voided) == (1, 0)


def test_a_void_ends_the_claim():
    outcome = apply([line(frequency_code=VOID, paid_date=LATER)], {"C1": ORIGINAL_LINES})
    assert outcome.standing == []
    assert outcome.superseded == {"C1"}
    assert outcome.voided == 1


def test_versions_in_one_file_apply_in_paid_date_order_whatever_the_row_order():
    void = line(frequency_code=VOID, paid_date=D(2026, 5, 1))
    replacement = line(frequency_code=REPLACEMENT, paid_date=LATER, paid_amount=Decimal("1.00"))
    assert apply([void, replacement, *ORIGINAL_LINES]).standing == []
    outcome = apply([replacement, *ORIGINAL_LINES])
    assert outcome.standing == [0]
    assert outcome.replaced == 1
    assert outcome.superseded == set()  # nothing stood before the file


def test_a_void_and_an_original_on_the_same_day_void_last():
    outcome = apply([line(frequency_code=VOID), line()])
    assert outcome.standing == []


def test_a_second_original_of_a_standing_claim_is_an_error_at_its_row():
    changed = [line(paid_amount=Decimal("90.00"), paid_date=LATER)]
    outcome = apply(changed, {"C1": ORIGINAL_LINES})
    assert [(p.row, p.column, p.code, p.severity) for p in outcome.problems] == [
        (2, "frequency_code", "claim_already_loaded", None)
    ]
    assert "replacement (frequency 7)" in outcome.problems[0].message
    assert outcome.standing == []
    assert outcome.superseded == set()


def test_a_claim_sent_again_unchanged_is_a_duplicate_and_changes_nothing():
    outcome = apply(list(reversed(ORIGINAL_LINES)), {"C1": ORIGINAL_LINES})
    assert outcome.duplicates == 1
    assert [(p.row, p.code, p.severity) for p in outcome.problems] == [(2, "duplicate_claim", "warning")]
    assert outcome.standing == []
    assert outcome.superseded == set()


def test_a_replacement_or_void_of_a_claim_never_received_is_a_warning():
    replacement = apply([line(frequency_code=REPLACEMENT)])
    assert replacement.standing == [0]
    assert [p.code for p in replacement.problems] == ["replacement_without_original"]
    assert replacement.replaced == 0
    void = apply([line(frequency_code=VOID)])
    assert void.standing == []
    assert [p.code for p in void.problems] == ["void_without_original"]
    assert void.voided == 0


def test_claims_are_independent():
    other = line(claim_id="C2", member_id="M2")
    outcome = apply([line(frequency_code=VOID, paid_date=LATER), other], {"C1": ORIGINAL_LINES})
    assert outcome.standing == [1]
    assert outcome.superseded == {"C1"}


def test_a_version_received_before_cannot_bring_back_a_voided_claim():
    received = {"C1": {tuple(ORIGINAL_LINES)}}
    outcome = apply_versions(ORIGINAL_LINES, [2, 3], {}, received)
    assert outcome.standing == []
    assert outcome.duplicates == 1
    assert [p.code for p in outcome.problems] == ["duplicate_claim"]


def test_warnings_name_the_claim_at_its_row_and_counts_add_up_over_claims():
    standing = {"C1": ORIGINAL_LINES, "C2": [line(claim_id="C2")]}
    incoming = [
        *ORIGINAL_LINES,  # C1 again: a duplicate
        line(claim_id="C2"),  # C2 again: a duplicate
        line(claim_id="C3", frequency_code=REPLACEMENT),  # never received
        line(claim_id="C4", frequency_code=VOID),  # never received
    ]
    outcome = apply(incoming, standing)
    assert outcome.duplicates == 2
    assert [(p.row, p.column, p.code) for p in outcome.problems] == [
        (2, "claim_id", "duplicate_claim"),
        (4, "claim_id", "duplicate_claim"),
        (5, "claim_id", "replacement_without_original"),
        (6, "claim_id", "void_without_original"),
    ]
    assert "'C1' (frequency 1, paid 2026-03-20)" in outcome.problems[0].message
    assert "'C3'" in outcome.problems[2].message and "'C4'" in outcome.problems[3].message
    changes = [
        line(claim_id="C1", frequency_code=REPLACEMENT, paid_date=LATER),
        line(claim_id="C2", frequency_code=REPLACEMENT, paid_date=LATER),
        line(claim_id="C1", frequency_code=VOID, paid_date=D(2026, 5, 1)),
        line(claim_id="C2", frequency_code=VOID, paid_date=D(2026, 5, 1)),
    ]
    outcome = apply(changes, standing)
    assert (outcome.replaced, outcome.voided, outcome.standing) == (2, 2, [])


def test_later_versions_of_a_claim_still_apply_after_a_duplicate_or_a_refused_original():
    replacement = line(frequency_code=REPLACEMENT, paid_date=LATER, paid_amount=Decimal("70.00"))
    outcome = apply([*ORIGINAL_LINES, replacement], {"C1": ORIGINAL_LINES})
    assert (outcome.duplicates, outcome.replaced, outcome.standing) == (1, 1, [2])
    refused = line(paid_amount=Decimal("1.00"), paid_date=D(2026, 3, 25))
    outcome = apply([refused, replacement], {"C1": ORIGINAL_LINES})
    assert [p.code for p in outcome.problems] == ["claim_already_loaded"]
    assert (outcome.replaced, outcome.standing) == (1, [1])


def test_a_versions_lines_may_be_paid_on_different_days_and_it_is_dated_by_the_latest():
    split = [line(), line(line_number=2, paid_date=D(2026, 4, 2))]
    assert apply(split).standing == [0, 1]
    # The version is dated 2026-04-02: a void dated before that comes first and finds nothing to end.
    void = line(frequency_code=VOID, paid_date=D(2026, 3, 25))
    assert apply([*split, void]).standing == [0, 1]
    assert apply([*split, void._replace(paid_date=D(2026, 4, 3))]).standing == []
