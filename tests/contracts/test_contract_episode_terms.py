"""Episode terms of a contract version (docs/domain.md section 5, "Episodes"): validation at every
edge, the fingerprint of versions without them, the amendment flag and the terms in plain words."""

from __future__ import annotations

import pytest

from contracts import rules
from tests.contracts.test_contracts_terms import document


def episode(days: int | None = 90, **terms):
    problems: list = []
    out = rules.validate_episode_terms(terms, days, problems)
    return out, [(p.path, p.code) for p in problems]


def test_empty_episode_terms_are_the_defaults():
    assert episode() == (
        {"episode_installments": None, "episode_early_exit": None, "episode_renewal": None},
        [],
    )
    assert episode(episode_installments="", episode_early_exit=None)[1] == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, ([], 1)), (12, ([], 12)), ("3", ([], 3)), (0, (["too_small"], 0)), (13, (["too_large"], 13))],
)
def test_installments_are_one_to_twelve(value, expected):
    out, problems = episode(episode_installments=value)
    codes, number = expected
    assert [code for _path, code in problems] == codes
    if not codes:
        assert out["episode_installments"] == number


def test_installments_are_whole():
    assert episode(episode_installments="2.5")[1] == [("episode_installments", "not_an_integer")]


def test_early_exit_rule_and_renewal_are_checked():
    out, problems = episode(episode_early_exit="prorated", episode_renewal=True)
    assert problems == [] and out["episode_early_exit"] == "prorated" and out["episode_renewal"] is True
    assert episode(episode_renewal=False)[0]["episode_renewal"] is False
    assert episode(episode_early_exit="half")[1] == [("episode_early_exit", "unknown_rule")]
    assert episode(episode_renewal="yes")[1] == [("episode_renewal", "not_a_boolean")]


def test_a_monthly_bundle_takes_no_episode_terms():
    out, problems = episode(None, episode_installments=3, episode_renewal=False)
    assert problems == [
        ("episode_installments", "not_an_episode_bundle"),
        ("episode_renewal", "not_an_episode_bundle"),
    ]
    assert out == dict.fromkeys(rules.EPISODE_TERMS)
    assert episode(None) == (dict.fromkeys(rules.EPISODE_TERMS), [])


def test_validate_terms_passes_the_bundle_episode_length():
    terms = {
        "effective_start": "2026-01-01",
        "markets": ["URBAN"],
        "lines_of_business": ["medicaid"],
        "proration_rule": "any_day",
        "tier_rule": "first_day",
        "assessment_lookback_months": 12,
        "retro_window_months": 3,
        "roster_due_day": 10,
        "termination_notice_days": 90,
        "withhold_percentage": "0",
        "episode_installments": 3,
    }
    out, problems = rules.validate_terms(terms, allowed_markets=["URBAN"], allowed_lobs=["medicaid"])
    assert [p.code for p in problems] == ["not_an_episode_bundle"]
    out, problems = rules.validate_terms(
        terms, allowed_markets=["URBAN"], allowed_lobs=["medicaid"], episode_days=90
    )
    assert problems == [] and out["episode_installments"] == 3


def test_the_fingerprint_changes_only_for_versions_that_set_an_episode_term():
    plain = rules.fingerprint(document())
    assert rules.fingerprint(document(episode_installments=None, episode_early_exit=None)) == plain
    prints = {
        rules.fingerprint(document(**{key: value}))
        for key, value in (
            ("episode_installments", 1),
            ("episode_installments", 3),
            ("episode_early_exit", "full"),
            ("episode_early_exit", "prorated"),
            ("episode_renewal", False),
            ("episode_renewal", True),
        )
    }
    assert len(prints) == 6 and plain not in prints


@pytest.mark.parametrize(
    ("field", "before", "after"),
    [
        ("episode_installments", None, 3),
        ("episode_early_exit", "full", "prorated"),
        ("episode_renewal", None, True),
    ],
)
def test_an_amendment_changing_an_episode_term_is_a_payment_term_change(field, before, after):
    diff = rules.diff(document(**{field: before}), document(version=2, **{field: after}))
    assert diff["payment_terms_changed"]["episode"] is True
    assert diff["money_terms_changed"] == [field]
    change = next(c for c in diff["changes"] if c["term"] == field)
    assert change["section"] == "episode" and change["moves_money"] is True


def test_the_episode_terms_in_plain_words():
    assert rules.describe_episode(document(episode_days=None)) == ""
    words = rules.describe_episode(document(episode_days=90))
    assert "per episode of 90 days" in words and "in one payment" in words
    assert "paid in full" in words and "is not renewed" in words
    words = rules.describe_episode(
        document(episode_days=60, episode_installments=3, episode_early_exit="prorated", episode_renewal=True)
    )
    assert "in 3 monthly installments" in words and "prorated by the days enrolled" in words
    assert "a new episode may start" in words
