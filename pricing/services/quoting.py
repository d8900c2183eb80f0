"""The stateless quote: price a pricing file at once, storing nothing (the what-if calculator)."""

from __future__ import annotations

from typing import Any

from accounts.tenancy import Scope
from core.errors import ApplicationError
from pricing.documents import validate_document
from pricing.engine import PricingInputError, quote
from pricing.services.common import INVALID_PRICING_FILE_MESSAGE

OUT_OF_RANGE_MESSAGE = "The numbers are too large to compute with; check the values of the pricing file."


def pricing_quote(
    *, scope: Scope, document: Any, markets: list[str] | None = None, lobs: list[str] | None = None
) -> dict[str, Any]:
    """Price a pricing file at once, storing nothing (the what-if calculator)."""
    scope.require("pricing.quote")
    try:
        return quote(validate_document(document), markets=markets, lobs=lobs)
    except PricingInputError as exc:
        raise ApplicationError(
            INVALID_PRICING_FILE_MESSAGE, code="invalid_pricing_file", details={"errors": exc.errors}
        ) from exc
    except ArithmeticError as exc:  # a value the plausibility screen let through but Decimal cannot hold
        raise ApplicationError(OUT_OF_RANGE_MESSAGE, code="numbers_out_of_range") from exc
