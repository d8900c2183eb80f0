"""The terms of a contract version as plain data: what enrollment and payments need to know.

``contracts.selectors.terms_in_force(contract, on=date)`` returns the ``ContractTerms`` of the
version in force on that date (amendments take effect on the first of a month; the terms for a
month are those in force on its first day). No Django here, so proration and payment math can
take it as input and be tested as pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bundles.phases import Phase


@dataclass(frozen=True)
class RateCell:
    tier: str
    market: str
    lob: str
    phase: str = ""  # a phased bundle's phase code (bundles/phases.py); '' when the bundle has none


@dataclass(frozen=True)
class ContractTerms:
    contract_number: str
    version: int
    effective_start: date  # inclusive
    effective_end: date | None  # exclusive; None while open-ended
    bundle_version_ids: tuple[int, ...]
    tiers: tuple[str, ...]  # tier codes, lowest to highest acuity
    markets: tuple[str, ...]
    lines_of_business: tuple[str, ...]
    rates: dict[RateCell, Decimal]  # PMPM per rate cell
    assessment_fees: dict[str, Decimal]  # per market
    assessment_lookback_months: int
    proration_rule: str
    tier_rule: str
    retro_window_months: int
    roster_due_day: int
    withhold_percentage: Decimal  # e.g. Decimal("0.05")
    quality_terms: list[dict] = field(default_factory=list)
    shared_savings_terms: dict = field(default_factory=dict)
    quality_bonus: dict | None = None  # {"threshold", "percentage"} as decimal strings; None: no bonus
    termination_notice_days: int = 90
    # Under this amount one person may request and approve a payment (four eyes); None: always two.
    single_approval_limit: Decimal | None = None
    # The largest share of a payment an open receivable takes back (0 < share <= 1; 1 when not set).
    recovery_offset_share: Decimal = Decimal(1)
    # Episode bundles: the episode's length in days (None: a monthly bundle, paid per member-month; the
    # rate cells then hold the case rate per episode), its installments, early-exit rule and renewal.
    episode_days: int | None = None
    episode_installments: int = 1
    episode_early_exit: str = "full"  # full | prorated
    episode_renewal: bool = False
    # Phased bundles: the phases of enrollment, in order (bundles/phases.py); the rate cells then
    # carry one rate per phase. Empty: one rate for every month.
    phases: tuple[Phase, ...] = ()
    fingerprint: str = ""  # sha256 of the version's rates and terms (empty while a draft)

    @property
    def pays_episodes(self) -> bool:
        return self.episode_days is not None

    def pmpm(self, tier: str, market: str, lob: str | None = None, phase: str = "") -> Decimal:
        """The PMPM for a rate cell; with one line of business the LOB may be left out. A phased
        contract's cells need the phase (``bundles.phases.phase_of``); an unphased one's take none."""
        lob = lob or (self.lines_of_business[0] if len(self.lines_of_business) == 1 else None)
        if lob is None:  # several lines of business and none named: there is no such cell
            raise KeyError((tier, market, lob, phase))
        return self.rates[RateCell(tier, market, lob, phase)]

    def covers(self, day: date) -> bool:
        return self.effective_start <= day and (self.effective_end is None or day < self.effective_end)
