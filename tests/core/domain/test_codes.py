"""The shared codes: every code has its label, and the apps use these very values."""

from __future__ import annotations

from core.domain import codes


def test_every_code_has_its_labels():
    assert set(codes.LOB_LABELS) == set(codes.LOB_NAMES) == set(codes.LINES_OF_BUSINESS)
    assert set(codes.PRORATION_LABELS) == set(codes.PRORATION_WORDS) == set(codes.PRORATION_RULES)
    assert set(codes.TIER_RULE_LABELS) == set(codes.TIER_RULE_WORDS) == set(codes.TIER_RULES)
    assert set(codes.ROLE_LABELS) == set(codes.ROLES)


def test_codes_are_stable_strings():
    # stored in the database and in files: these values never change
    assert codes.LINES_OF_BUSINESS == ("medicaid", "medicare_advantage", "dsnp", "commercial")
    assert codes.PRORATION_RULES == ("any_day", "first_of_month", "mid_month", "daily")
    assert codes.TIER_RULES == ("first_day", "highest")
    assert codes.ROLES == ("admin", "analyst", "contract_manager", "submitter", "auditor")
    assert codes.lob_label("dsnp") == "D-SNP" and codes.lob_label("other") == "other"


def test_the_models_choices_are_built_from_the_codes():
    from accounts.models import LineOfBusiness, Role
    from contracts.models import PRORATION_CHOICES, TIER_RULE_CHOICES

    assert tuple(Role.values) == codes.ROLES
    assert dict(Role.choices) == codes.ROLE_LABELS
    assert tuple(LineOfBusiness.values) == codes.LINES_OF_BUSINESS
    assert dict(LineOfBusiness.choices) == codes.LOB_NAMES
    assert PRORATION_CHOICES == [(r, codes.PRORATION_LABELS[r]) for r in codes.PRORATION_RULES]
    assert TIER_RULE_CHOICES == [(r, codes.TIER_RULE_LABELS[r]) for r in codes.TIER_RULES]
