"""Fixtures for the pure pricing engine: no database, no Django."""

from __future__ import annotations

import copy
from typing import Any

import pytest

# The pricing file of docs/formats.md section 6, verbatim: its tier 1 URBAN rate and both assessment
# fees are the documented worked example every implementation must reproduce to the cent.
FORMATS_EXAMPLE: dict[str, Any] = {
    "format": "carebundle.pricing/1",
    "bundle": {
        "name": "Home-based palliative care",
        "period": {"type": "monthly"},
        "tiers": [
            {"code": "1", "name": "Stable"},
            {"code": "2", "name": "Moderate"},
            {"code": "3", "name": "High need"},
        ],
        "home_share": 0.8,
        "roles": [
            {
                "role": "np",
                "visit_minutes": 60,
                "by_tier": {
                    "1": {"visits_per_mm": 0.5, "coordination_minutes_per_mm": 15},
                    "2": {"visits_per_mm": 1.0, "coordination_minutes_per_mm": 30},
                    "3": {"visits_per_mm": 2.0, "coordination_minutes_per_mm": 45},
                },
            }
        ],
        "assessment": {
            "roles": [{"role": "np", "minutes": 90}, {"role": "lcsw", "minutes": 60}],
            "home": True,
        },
    },
    "assumptions": {
        "salaries": {"np": {"default": 132000, "markets": {"RURAL-N": 126000}}, "lcsw": {"default": 70000}},
        "benefits_load": 0.28,
        "productivity": 0.75,
        "admin_load": 0.12,
        "margin": 0.03,
        "annual_trend": 0.035,
        "base_period_midpoint": "2025-07-01",
        "rating_period_midpoint": "2026-07-01",
        "markets": [
            {"code": "URBAN", "travel_minutes_per_visit": 20, "miles_per_visit": 8},
            {"code": "RURAL-N", "travel_minutes_per_visit": 55, "miles_per_visit": 35},
        ],
        "mileage_rate": 0.70,
        "supplies_pmpm": 15,
        "on_call_pmpm": 40,
        "technology_pmpm": 8,
        "full_credibility_member_months": 12000,
        "ranges": {"productivity": [0.70, 0.80], "benefits_load": [0.25, 0.30]},
    },
    "experience": {"by_tier": {"1": {"member_months": 3000, "cost": 810000}}},
}


@pytest.fixture
def example_file() -> dict[str, Any]:
    """A fresh deep copy of the docs/formats.md example, safe to mutate."""
    return copy.deepcopy(FORMATS_EXAMPLE)
