"""Codes shared across apps: lines of business, proration and tier rules, membership roles.

The code is what the database, files and API bodies carry and never changes; the label is how a
document or page names it. Models build their ``TextChoices`` from these, so the stored values
and the migrations stay exactly as they were.
"""

from __future__ import annotations

# --- lines of business ---------------------------------------------------------------------------

MEDICAID = "medicaid"
MEDICARE_ADVANTAGE = "medicare_advantage"
DSNP = "dsnp"
COMMERCIAL = "commercial"
LINES_OF_BUSINESS: tuple[str, ...] = (MEDICAID, MEDICARE_ADVANTAGE, DSNP, COMMERCIAL)

#: Short names, as rate sheets, reports and tables print them.
LOB_LABELS: dict[str, str] = {
    MEDICAID: "Medicaid",
    MEDICARE_ADVANTAGE: "Medicare Advantage",
    DSNP: "D-SNP",
    COMMERCIAL: "Commercial",
}
#: Full names, where there is room to spell one out (an organisation's profile).
LOB_NAMES: dict[str, str] = {**LOB_LABELS, DSNP: "Dual-eligible special needs plan (D-SNP)"}


def lob_label(code: str) -> str:
    """The short name of a line of business; an unknown code is shown as it is."""
    return LOB_LABELS.get(code, code)


# --- proration: how many member-months a member's month is ---------------------------------------

ANY_DAY = "any_day"
FIRST_OF_MONTH = "first_of_month"
MID_MONTH = "mid_month"
DAILY = "daily"
PRORATION_RULES: tuple[str, ...] = (ANY_DAY, FIRST_OF_MONTH, MID_MONTH, DAILY)
#: The day a member must be enrolled on under ``mid_month``.
MID_MONTH_DAY = 15

PRORATION_LABELS: dict[str, str] = {
    ANY_DAY: "Any day of the month",
    FIRST_OF_MONTH: "Enrolled on the 1st",
    MID_MONTH: "Enrolled on the 15th",
    DAILY: "Daily",
}
PRORATION_WORDS: dict[str, str] = {
    ANY_DAY: "A member enrolled on any day of a month counts as one full member-month.",
    FIRST_OF_MONTH: "A member counts as one member-month when enrolled on the first day of the month; "
    "a month without enrollment on the 1st is not paid.",
    MID_MONTH: "A member counts as one member-month when enrolled on the 15th of the month; "
    "a month without enrollment on the 15th is not paid.",
    DAILY: "Each month is paid in proportion to the days enrolled: days enrolled divided by the days "
    "in the month.",
}

# --- tier rules: which tier a member's month is paid at ------------------------------------------

FIRST_DAY = "first_day"
HIGHEST = "highest"
TIER_RULES: tuple[str, ...] = (FIRST_DAY, HIGHEST)

TIER_RULE_LABELS: dict[str, str] = {
    FIRST_DAY: "Tier on the first enrolled day",
    HIGHEST: "Highest tier in the month",
}
TIER_RULE_WORDS: dict[str, str] = {
    FIRST_DAY: "The whole month is paid at the tier in force on the member's first enrolled day of the month.",
    HIGHEST: "The whole month is paid at the highest tier in force on any enrolled day of the month.",
}

# --- membership roles ------------------------------------------------------------------------------

# --- care management billed under a supervising clinician (the fee-for-service comparison) ------------

CCM = "ccm"
PCM = "pcm"
RHC_FQHC = "rhc_fqhc"
CARE_MANAGEMENT_PROGRAMS: tuple[str, ...] = (CCM, PCM, RHC_FQHC)
CARE_MANAGEMENT_LABELS: dict[str, str] = {
    CCM: "Chronic care management",
    PCM: "Principal care management",
    RHC_FQHC: "General care management (RHC or FQHC)",
}

ADMIN = "admin"
ANALYST = "analyst"
CONTRACT_MANAGER = "contract_manager"
SUBMITTER = "submitter"
AUDITOR = "auditor"
ROLES: tuple[str, ...] = (ADMIN, ANALYST, CONTRACT_MANAGER, SUBMITTER, AUDITOR)

ROLE_LABELS: dict[str, str] = {
    ADMIN: "Administrator",
    ANALYST: "Analyst / actuary",
    CONTRACT_MANAGER: "Contract manager",
    SUBMITTER: "Submitter",
    AUDITOR: "Auditor (read-only)",
}

# --- invitations (accounts.Invitation): an API's codes ------------------------------------------

INVITATION_PENDING = "pending"
INVITATION_ACCEPTED = "accepted"
INVITATION_REVOKED = "revoked"
INVITATION_EXPIRED = "expired"
INVITATION_STATUS_LABELS: dict[str, str] = {
    INVITATION_PENDING: "Pending",
    INVITATION_ACCEPTED: "Accepted",
    INVITATION_REVOKED: "Revoked",
    INVITATION_EXPIRED: "Expired",
}

# --- disenrollment reasons (a roster's ``disenrollment_reason``) ----------------------------------

DEATH = "death"
#: A transfer to hospice: it ends the member's span in the bundle (and only that bundle).
HOSPICE = "hospice"
DISENROLLMENT_REASONS: tuple[str, ...] = (
    DEATH,
    HOSPICE,
    "moved",
    "declined",
    "lost_eligibility",
    "discharged",
    "transferred",
)
#: The reasons that end a member's enrollment for good: death (every bundle), hospice (this bundle).
EXIT_REASONS: tuple[str, ...] = (DEATH, HOSPICE)


#: What needs a user now (core.worklist, the workspace and notifications): kind -> label. The kinds are
#: an API's codes (GET /api/v1/workspace/, webhooks): extend them, never rename them.
WORK_ITEM_LABELS: dict[str, str] = {
    "roster_late": "Roster late",
    "roster_rejected": "Roster to correct",
    "roster_due": "Roster due",
    "eligibility_mismatch": "Eligibility mismatches",
    "proposal_awaiting": "Proposal to accept",
    "amendment_awaiting": "Amendment to accept",
    "proposal_returned": "Proposal returned",
    "payment_run_review": "Payment run to approve",
    "settlement_review": "Settlement to approve",
    "correction_review": "Ledger correction to approve",
    "refund_review": "Refund to approve",
    "pricing_run_stalled": "Pricing run stalled",
}
