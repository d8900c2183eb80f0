"""A bundle version's changes read in words (bundles.definition.describe_path and diff)."""

from __future__ import annotations

import copy

import pytest

from bundles import definition


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("$.roles[rn].by_tier.3.visits_per_mm", "Registered nurse visits per member-month, Tier 3"),
        ("$.roles[rn].visit_minutes", "Registered nurse minutes per visit"),
        (
            "$.roles[chw].by_tier.high.coordination_minutes_per_mm",
            "Chw coordination minutes per member-month, Tier high",
        ),
        ("$.tiers[2].name", "Tier 2 (Moderate) name"),
        ("$.home_share", "Share of visits made at home"),
        ("$.lines_of_business[1]", "Lines of business"),
        ("$.period.days", "Payment period length in days"),
        (
            "$.eligibility.diagnosis_groups[Cancer].icd10_ranges[0]",
            "Eligibility diagnosis group Cancer ICD-10 ranges",
        ),
        ("$", "The bundle"),
    ],
)
def test_a_change_reads_in_words(path, label):
    assert definition.describe_path(path, {"rn": "Registered nurse"}, {"2": "Moderate"}) == label


@pytest.mark.parametrize(
    ("path", "label"),
    [
        (
            "$.roles[rn].by_phase.initial.1.visits_per_mm",
            "Registered nurse visits per member-month, Tier 1, in phase Months 1-2",
        ),
        ("$.roles[rn].by_phase.late.2", "Registered nurse, Tier 2, in phase late"),
        ("$.phases[initial].from_month", "Phase initial (Months 1-2) starts at month"),
        ("$.phases[late].name", "Phase late name"),
        ("$.tiers[5].name", "Tier 5 name"),
    ],
)
def test_a_phase_change_reads_in_words(path, label):
    names = {"initial": "Months 1-2"}
    assert definition.describe_path(path, {"rn": "Registered nurse"}, {}, names) == label


def test_the_diff_names_phases_from_either_definition():
    before = {
        "phases": [{"code": "initial", "name": "Months 1-2", "from_month": 1}],
        "roles": [{"role": "rn", "by_phase": {"initial": {"1": {"visits_per_mm": "2"}}}}],
    }
    after = copy.deepcopy(before)
    after["phases"] = []
    after["roles"][0]["by_phase"]["initial"]["1"]["visits_per_mm"] = "3"
    labels = [c["label"] for c in definition.diff(before, after, {"rn": "RN"})]
    # the phase removed is named from the definition before
    assert labels == [
        "Phases",
        "Phase initial (Months 1-2) code",
        "Phase initial (Months 1-2) starts at month",
        "Phase initial (Months 1-2) name",
        "RN visits per member-month, Tier 1, in phase Months 1-2",
    ]


def test_the_diff_labels_each_change_with_the_roles_and_tiers_names():
    before = {
        "tiers": [{"code": "3", "name": "High need"}],
        "roles": [{"role": "rn", "by_tier": {"3": {"visits_per_mm": "3"}}}],
    }
    after = copy.deepcopy(before)
    after["roles"][0]["by_tier"]["3"]["visits_per_mm"] = "3.5"
    after["tiers"][0]["name"] = "High"
    changes = definition.diff(before, after, {"rn": "RN"})
    assert [(c["label"], c["before"], c["after"]) for c in changes] == [
        ("RN visits per member-month, Tier 3", "3", "3.5"),
        ("Tier 3 (High) name", "High need", "High"),
    ]
