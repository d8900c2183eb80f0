"""Writes for contracts, split by concern; every public name is re-exported here, so
``from contracts.services import X`` keeps working.

- ``drafts``: open a contract, edit the draft;
- ``rates``: negotiated rates and fees, rates from a pricing run;
- ``lifecycle``: propose, return, accept, activate, terminate, expire;
- ``negotiation``: counter-offers on a proposal, their rejection, every round recorded;
- ``amendments``: amend an active contract;
- ``rate_sheets``: rate sheets and the zip of every active contract's;
- ``checks``: terms, overlap and amendment-date checks;
- ``common``: permission checks, locks, events, contract numbers.

Every transition locks the contract row first (``select_for_update``) and re-checks the state,
so that two people acting at once (both sides accepting, say) are applied one after the other.
"""

from __future__ import annotations

from contracts.services.amendments import AMENDMENT_PENDING_MESSAGE, NOT_AMENDABLE_MESSAGE, contract_amend
from contracts.services.checks import (
    AMENDMENT_AFTER_END_MESSAGE,
    AMENDMENT_START_MESSAGE,
    DEFAULT_TERMS,
    OVERLAP_MESSAGE,
    TERM_FIELDS,
)
from contracts.services.common import (
    INVALID_TERMS_MESSAGE,
    NOT_EDITABLE_MESSAGE,
    NOT_OWN_CONTRACT_MESSAGE,
    allocate_number,
)
from contracts.services.drafts import (
    BUNDLE_NOT_PUBLISHED_MESSAGE,
    NOT_A_PROVIDER_MESSAGE,
    contract_create,
    contract_rate_set,
    contract_version_update,
)
from contracts.services.lifecycle import (
    ALREADY_ACCEPTED_MESSAGE,
    COMMENTS_REQUIRED_MESSAGE,
    INCOMPLETE_MESSAGE,
    NOT_ACCEPTABLE_MESSAGE,
    NOT_PROPOSABLE_MESSAGE,
    NOT_RETURNABLE_MESSAGE,
    NOT_TERMINABLE_MESSAGE,
    REASON_REQUIRED_MESSAGE,
    TERMINATION_DATE_MESSAGE,
    TERMINATION_NOTICE_MESSAGE,
    contract_accept,
    contract_propose,
    contract_return,
    contract_terminate,
    contracts_expire_due,
)
from contracts.services.negotiation import (
    INVALID_COUNTER_MESSAGE,
    NO_CHANGES_MESSAGE,
    NO_COUNTER_MESSAGE,
    OWN_OFFER_MESSAGE,
    REJECTION_REASON_MESSAGE,
    contract_counter,
    contract_reject_counter,
)
from contracts.services.rate_sheets import (
    CONTENT_TYPES,
    rate_sheet,
    rate_sheet_export_build,
    rate_sheet_export_retry_failed,
    rate_sheet_export_start,
    rate_sheet_filename,
    rate_sheet_zip,
)
from contracts.services.rates import (
    PRICING_INCOMPLETE_MESSAGE,
    PRICING_MISMATCH_MESSAGE,
    rate_schedule_from_pricing,
)

__all__ = [
    "ALREADY_ACCEPTED_MESSAGE",
    "AMENDMENT_AFTER_END_MESSAGE",
    "AMENDMENT_PENDING_MESSAGE",
    "AMENDMENT_START_MESSAGE",
    "BUNDLE_NOT_PUBLISHED_MESSAGE",
    "COMMENTS_REQUIRED_MESSAGE",
    "CONTENT_TYPES",
    "DEFAULT_TERMS",
    "INCOMPLETE_MESSAGE",
    "INVALID_COUNTER_MESSAGE",
    "INVALID_TERMS_MESSAGE",
    "NOT_ACCEPTABLE_MESSAGE",
    "NO_CHANGES_MESSAGE",
    "NO_COUNTER_MESSAGE",
    "NOT_AMENDABLE_MESSAGE",
    "NOT_A_PROVIDER_MESSAGE",
    "NOT_EDITABLE_MESSAGE",
    "NOT_OWN_CONTRACT_MESSAGE",
    "NOT_PROPOSABLE_MESSAGE",
    "NOT_RETURNABLE_MESSAGE",
    "NOT_TERMINABLE_MESSAGE",
    "OVERLAP_MESSAGE",
    "OWN_OFFER_MESSAGE",
    "PRICING_INCOMPLETE_MESSAGE",
    "PRICING_MISMATCH_MESSAGE",
    "REASON_REQUIRED_MESSAGE",
    "REJECTION_REASON_MESSAGE",
    "TERMINATION_DATE_MESSAGE",
    "TERMINATION_NOTICE_MESSAGE",
    "TERM_FIELDS",
    "allocate_number",
    "contract_accept",
    "contract_amend",
    "contract_counter",
    "contract_create",
    "contract_propose",
    "contract_rate_set",
    "contract_reject_counter",
    "contract_return",
    "contract_terminate",
    "contract_version_update",
    "contracts_expire_due",
    "rate_schedule_from_pricing",
    "rate_sheet",
    "rate_sheet_export_build",
    "rate_sheet_export_retry_failed",
    "rate_sheet_export_start",
    "rate_sheet_zip",
    "rate_sheet_filename",
]
