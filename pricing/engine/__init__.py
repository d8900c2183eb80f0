"""carebundle's pricing engine: pure, Django-free arithmetic for bundled palliative care rates.

Plain functions over plain data (dicts in, JSON-ready dicts out; Decimal money, numpy only where
volume demands), so the web app, Celery tasks, the benchmark and an actuary's notebook all run
the very same arithmetic. Entry points:

- `parse_pricing_file(dict) -> PricingFile` and `PricingFile.to_dict()`: the `carebundle.pricing/1`
  file, validated (every error at once, in `PricingInputError.errors`).
- `quote(pricing_file, markets=, lobs=)`: rates per tier x market (x LOB) with range, build-up and
  assessment fee (docs/formats.md section 6, to the cent).
- `compare_payment_models(pricing_file)`: FFS vs bundle vs value-based vs capitation+TCOC.
- `contract_year_model(...)` + `run_monte_carlo(model, n_years=, seed=)`: risk of a rate schedule.
- `expected_months_enrolled(...)`, `kaplan_meier(...)`: length of enrollment.
"""

from pricing.engine.buildup import (
    RateCellBuildup,
    Scenario,
    assessment_buildup,
    calendar_months_between,
    enrolled_months,
    quote,
    rate_cell_buildup,
    trend_factor,
)
from pricing.engine.ffs import FeeSchedule, compare_payment_models, load_fee_schedule
from pricing.engine.money import to_cents
from pricing.engine.montecarlo import (
    ContractYearDraws,
    ContractYearModel,
    contract_year_model,
    draw_contract_year_variates,
    run_monte_carlo,
    simulate_contract_years,
    summarize_contract_years,
)
from pricing.engine.schema import FORMAT, PricingFile, PricingInputError, parse_pricing_file
from pricing.engine.survival import (
    KaplanMeierResult,
    expected_months_enrolled,
    kaplan_meier,
    kaplan_meier_spans,
    month_index,
)
from pricing.engine.version import ENGINE_VERSION

__all__ = [
    "ENGINE_VERSION",
    "FORMAT",
    "ContractYearDraws",
    "ContractYearModel",
    "FeeSchedule",
    "KaplanMeierResult",
    "PricingFile",
    "PricingInputError",
    "RateCellBuildup",
    "Scenario",
    "assessment_buildup",
    "calendar_months_between",
    "compare_payment_models",
    "contract_year_model",
    "draw_contract_year_variates",
    "enrolled_months",
    "expected_months_enrolled",
    "kaplan_meier",
    "kaplan_meier_spans",
    "load_fee_schedule",
    "month_index",
    "parse_pricing_file",
    "quote",
    "rate_cell_buildup",
    "run_monte_carlo",
    "simulate_contract_years",
    "summarize_contract_years",
    "to_cents",
    "trend_factor",
]
