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
