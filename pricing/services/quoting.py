"""The stateless quote: price a pricing file at once, storing nothing; and a run's what-if."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from accounts.tenancy import Scope
from core.errors import ApplicationError, problems_error
from pricing.compute import phase_quotes, what_if_result
from pricing.documents import main_document, validate_document
from pricing.engine import PricingInputError, quote
from pricing.engine.scenarios import WhatIf, side_by_side
from pricing.models import PricingRun
from pricing.services.common import INVALID_PRICING_FILE_MESSAGE, require_run_owner

OUT_OF_RANGE_MESSAGE = "The numbers are too large to compute with; check the values of the pricing file."


def pricing_quote(
    *, scope: Scope, document: Any, markets: list[str] | None = None, lobs: list[str] | None = None
) -> dict[str, Any]:
    """Price a pricing file at once, storing nothing (the what-if calculator). A phased bundle's quote is
    its last phase's, with every phase's rates under ``phases``, as a run's."""
    scope.require("pricing.quote")
    try:
        pf = validate_document(document)
        if not pf.bundle.phases:
            return quote(pf, markets=markets, lobs=lobs)
        quoted = quote(validate_document(main_document(document)), markets=markets, lobs=lobs)
        return {**quoted, "phases": phase_quotes(document, markets, lobs)}
    except PricingInputError as exc:
        # details.errors: the same list, under the name this endpoint used first (deprecated)
        raise problems_error(
            INVALID_PRICING_FILE_MESSAGE, exc.problems, code="invalid_pricing_file", errors_alias=True
        ) from exc
    except ArithmeticError as exc:  # a value the plausibility screen let through but Decimal cannot hold
        raise ApplicationError(OUT_OF_RANGE_MESSAGE, code="numbers_out_of_range") from exc


def run_levers(run: PricingRun) -> dict[str, Any]:
    """The what-if levers as the run priced them: its conversion rate and productivity, wages and
    enrollment unchanged."""
    assumptions = run.inputs["pricing_file"]["assumptions"]
    return {
        "conversion_rate": Decimal(str(assumptions.get("conversion_rate", "1"))),
        "productivity": Decimal(str(assumptions["productivity"])),
        "wage_change": Decimal(0),
        "enrollment_change": Decimal(0),
    }


def pricing_what_if(*, scope: Scope, run: PricingRun, what_if: WhatIf) -> dict[str, Any]:
    """The run's rates, assessment fees and budgets beside the same with the levers moved; stores nothing.

    Returns ``side_by_side`` of (the run, the what-if), the what-if's own quote and budgets, and the
    enrollees a year per market it budgeted.
    """
    require_run_owner(scope, run, "pricing.quote")
    if not run.succeeded:
        raise ApplicationError("A what-if starts from a succeeded run.", code="run_not_succeeded", status=409)
    try:
        result = what_if_result(run.inputs, what_if)
    except PricingInputError as exc:
        raise problems_error(
            INVALID_PRICING_FILE_MESSAGE, exc.problems, code="invalid_pricing_file", errors_alias=True
        ) from exc
    return {"side_by_side": side_by_side([run.result, result]), **result}
