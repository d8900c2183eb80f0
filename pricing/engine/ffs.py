"""Payment model comparison (docs/domain.md 4.7): what the same team earns under FFS, a bundle,
value-based FFS and capitation with total-cost-of-care risk, against what it costs.

The point is to make visible, role by role, the gap fee-for-service leaves: only billable roles
(physician, NP, PA by default) doing billable work (E/M visits, complex chronic care management,
whatever the file maps) earn anything; the nurse's coordination, the chaplain and the navigator
earn nothing. Everything is per member-month of tier x market, from the same build-up as the
quote (`buildup.py`), so the cost side is the one the rate was priced from.

Fee schedule: CY2025 Medicare PFS RVUs for the codes a palliative team bills
(`pricing/engine/data/pfs_rvu_2025_palliative_codes.csv`, CMS PPRRVU2025_Oct) and the CY2025
GPCIs (`pricing/engine/data/gpci_2025.csv`, CMS Addendum E), both shipped unchanged with their
source column (docs/reference-data.md). One unit of a code pays the file's national non-facility amount by default; with a locality (or a
conversion factor other than the file's), `(work x PW GPCI + PE x PE GPCI + MP x MP GPCI) x CF`,
rounded to the cent as Medicare prices a line. Codes with status other than A (B bundled, I not
valid for Medicare) pay nothing.

Visit pattern -> codes, for a billable role unless the file maps it explicitly
(`roles[].service_codes`): each visit is one established-patient E/M, at home (99349) for the
home share and in the office (99214) otherwise; coordination minutes of 60 or more in the month
bill complex CCM 99487 once plus 99489 per further full 30 minutes; `units_per_mm` adds any
other code. The initial assessment bills a new-patient visit (99345 home, 99205 office) per
billable assessment role, spread like the assessment fee over an enrollee's expected months.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.domain.money import CALCULATION_CONTEXT, cents_str, to_cents
from core.domain.problems import Problem
from pricing.engine.buildup import (
    Scenario,
    as_pricing_file,
    assessment_buildup,
    enrolled_months,
    rate_cell_buildup,
    select_markets,
)
from pricing.engine.schema import BILLABLE_ROLES, Market, PricingFile, PricingInputError, Role, ServiceCodes
from pricing.engine.version import ENGINE_VERSION

DATA_DIR = Path(__file__).resolve().parent / "data"
RVU_FILE = DATA_DIR / "pfs_rvu_2025_palliative_codes.csv"
GPCI_FILE = DATA_DIR / "gpci_2025.csv"

#: Codes a billable role bills when the file gives no `service_codes`.
DEFAULT_SERVICE_CODES = ServiceCodes(
    home_visit="99349",  # home/residence visit, established patient, moderate MDM
    office_visit="99214",  # office visit, established patient, moderate MDM
    ccm_first="99487",  # complex chronic care management, first 60 minutes in the month
    ccm_additional="99489",  # each additional 30 minutes
    units_per_mm={},
)
DEFAULT_ASSESSMENT_CODE_HOME = "99345"  # home visit, new patient, high MDM
DEFAULT_ASSESSMENT_CODE_OFFICE = "99205"  # office visit, new patient, high MDM
CCM_FIRST_MINUTES = Decimal(60)
CCM_ADDITIONAL_MINUTES = Decimal(30)
SIMPLE_CCM_MINUTES = Decimal(20)  # 99490 (first 20 minutes), 99439 (each further 20); G0511
PCM_MINUTES = Decimal(30)  # 99426 (first 30 minutes), 99427 (each further 30)


@dataclass(frozen=True)
class FeeScheduleCode:
    hcpcs: str
    label: str
    status: str
    work_rvu: Decimal
    nonfac_pe_rvu: Decimal | None  # None where non-facility pricing does not apply (NA)
    fac_pe_rvu: Decimal
    mp_rvu: Decimal
    conversion_factor: Decimal
    nonfac_national: Decimal | None
    source: str


@dataclass(frozen=True)
class Locality:
    """A Medicare payment locality, keyed "STATE-NN" (e.g. "CA-18" Los Angeles)."""

    key: str
    mac: str
    name: str
    pw_gpci: Decimal
    pe_gpci: Decimal
    mp_gpci: Decimal


@dataclass(frozen=True)
class FeeSchedule:
    codes: dict[str, FeeScheduleCode]
    localities: dict[str, Locality]

    def amount(
        self, code: str, *, locality: str | None = None, conversion_factor: Decimal | None = None
    ) -> Decimal:
        """What one unit of `code` pays (non-facility), nationally or in a locality, to the cent."""
        entry = self.codes[code]
        if entry.status != "A":
            return Decimal(0)
        cf = conversion_factor if conversion_factor is not None else entry.conversion_factor
        if locality is None and cf == entry.conversion_factor and entry.nonfac_national is not None:
            return entry.nonfac_national
        pe_rvu = entry.nonfac_pe_rvu if entry.nonfac_pe_rvu is not None else entry.fac_pe_rvu
        if locality is None:
            pw, pe, mp = Decimal(1), Decimal(1), Decimal(1)
        else:
            loc = self.localities[locality]
            pw, pe, mp = loc.pw_gpci, loc.pe_gpci, loc.mp_gpci
        with localcontext(CALCULATION_CONTEXT):
            return to_cents((entry.work_rvu * pw + pe_rvu * pe + entry.mp_rvu * mp) * cf)


def _decimal_or_none(text: str) -> Decimal | None:
    text = text.strip()
    return Decimal(text) if text else None


@lru_cache(maxsize=4)
def load_fee_schedule(rvu_file: Path = RVU_FILE, gpci_file: Path = GPCI_FILE) -> FeeSchedule:
    """Read the shipped CY2025 RVU and GPCI files (cached: they never change at run time)."""
    codes: dict[str, FeeScheduleCode] = {}
    with rvu_file.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            codes[row["hcpcs"]] = FeeScheduleCode(
                hcpcs=row["hcpcs"],
                label=row["label_plain"],
                status=row["status"],
                work_rvu=Decimal(row["work_rvu"]),
                nonfac_pe_rvu=None if row["nonfac_na"].strip() == "NA" else Decimal(row["nonfac_pe_rvu"]),
                fac_pe_rvu=Decimal(row["fac_pe_rvu"]),
                mp_rvu=Decimal(row["mp_rvu"]),
                conversion_factor=Decimal(row["conv_factor"]),
                nonfac_national=None
                if row["nonfac_na"].strip() == "NA"
                else _decimal_or_none(row["nonfac_national_usd"]),
                source=row["source"],
            )
    localities: dict[str, Locality] = {}
    with gpci_file.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    for cells in rows[3:]:  # two title rows, then the header
        if len(cells) < 7 or not cells[0].strip() or not cells[1].strip():
            continue  # blank rows and footnotes
        key = f"{cells[1].strip()}-{cells[2].strip()}"
        localities[key] = Locality(
            key, cells[0].strip(), cells[3].strip(), Decimal(cells[4]), Decimal(cells[5]), Decimal(cells[6])
        )
    return FeeSchedule(codes, localities)


@dataclass(frozen=True)
class RateSchedule:
    """A plan's own fee schedule (a state Medicaid schedule): one flat rate per code, statewide.

    `rates` holds the rates in effect for the rating period, keyed by code (a rate with a modifier
    under "code:modifier"). A code it does not list pays nothing, and the comparison says so.
    """

    name: str
    version: int | None
    rates: Mapping[str, Decimal]

    def amount(self, code: str) -> Decimal:
        return self.rates.get(code, Decimal(0))


def care_management_units(program: str, minutes: Decimal) -> list[tuple[str, Decimal]]:
    """The care-management codes a supervising clinician bills for the team's minutes in a month.

    - ``ccm``: 60 minutes or more is complex CCM, 99487 plus 99489 per further full 30 minutes;
      20 to 59 minutes is CCM, 99490 plus 99439 per further full 20 minutes (at most twice);
    - ``pcm``: 30 minutes or more is principal care management by clinical staff, 99426 plus 99427
      per further full 30 minutes;
    - ``rhc_fqhc``: 20 minutes or more is general care management in a rural health clinic or FQHC,
      G0511 once.
    Fewer minutes than the first threshold bill nothing.
    """
    if program == "ccm":
        if minutes >= CCM_FIRST_MINUTES:
            return [("99487", Decimal(1)), ("99489", (minutes - CCM_FIRST_MINUTES) // CCM_ADDITIONAL_MINUTES)]
        if minutes >= SIMPLE_CCM_MINUTES:
            return [
                ("99490", Decimal(1)),
                ("99439", min(Decimal(2), (minutes - SIMPLE_CCM_MINUTES) // SIMPLE_CCM_MINUTES)),
            ]
        return []
    if program == "pcm":
        if minutes >= PCM_MINUTES:
            return [("99426", Decimal(1)), ("99427", (minutes - PCM_MINUTES) // PCM_MINUTES)]
        return []
    if program == "rhc_fqhc":
        return [("G0511", Decimal(1))] if minutes >= SIMPLE_CCM_MINUTES else []
    raise ValueError(f"unknown care-management program {program!r}")


def _is_billable(pf: PricingFile, role: str) -> bool:
    for r in pf.bundle.roles:
        if r.role == role:
            return r.bills_ffs
    return role in BILLABLE_ROLES


def _role_units(
    role: Role, tier: str, home_share: Decimal, *, supervised: bool = False
) -> list[tuple[str, Decimal]]:
    """(code, units per member-month) a billable role's visit pattern produces in a tier. Under a
    supervising clinician (``supervised``) its coordination is billed with the team's, not alone."""
    codes = role.service_codes or DEFAULT_SERVICE_CODES
    effort = role.effort(tier)
    units: list[tuple[str, Decimal]] = []
    if codes.home_visit is not None:
        units.append((codes.home_visit, effort.visits_per_mm * home_share))
    if codes.office_visit is not None:
        units.append((codes.office_visit, effort.visits_per_mm * (1 - home_share)))
    minutes = effort.coordination_minutes_per_mm
    if not supervised and codes.ccm_first is not None and minutes >= CCM_FIRST_MINUTES:
        units.append((codes.ccm_first, Decimal(1)))
        if codes.ccm_additional is not None:
            units.append((codes.ccm_additional, ((minutes - CCM_FIRST_MINUTES) // CCM_ADDITIONAL_MINUTES)))
    units.extend(codes.units_per_mm.items())
    return [(code, n) for code, n in units if n > 0]


def _assessment_code(pf: PricingFile, explicit: str | None) -> str:
    if explicit is not None:
        return explicit
    assessment = pf.bundle.assessment
    return (
        DEFAULT_ASSESSMENT_CODE_HOME
        if assessment is not None and assessment.home
        else DEFAULT_ASSESSMENT_CODE_OFFICE
    )


def _check_codes(pf: PricingFile, fee_schedule: FeeSchedule, markets: Sequence[Market]) -> None:
    """Every code and locality the comparison will price must be in the fee schedule files."""
    errors = []
    for i, role in enumerate(pf.bundle.roles):
        if not role.bills_ffs:
            continue
        codes = role.service_codes or DEFAULT_SERVICE_CODES
        named = {
            "home_visit": codes.home_visit,
            "office_visit": codes.office_visit,
            "ccm_first": codes.ccm_first,
            "ccm_additional": codes.ccm_additional,
        }
        named.update({f"units_per_mm.{code}": code for code in codes.units_per_mm})
        for key, code in named.items():
            if code is not None and code not in fee_schedule.codes:
                errors.append(
                    Problem.at_path(
                        f"$.bundle.roles[{i}].service_codes.{key}",
                        "unknown_service_code",
                        f"{code} is not in the fee schedule file",
                    )
                )
    if pf.bundle.assessment is not None:
        for i, r in enumerate(pf.bundle.assessment.roles):
            code = _assessment_code(pf, r.service_code)
            if _is_billable(pf, r.role) and code not in fee_schedule.codes:
                errors.append(
                    Problem.at_path(
                        f"$.bundle.assessment.roles[{i}].service_code",
                        "unknown_service_code",
                        f"{code} is not in the fee schedule file",
                    )
                )
    localities = [
        (f"$.assumptions.markets[{i}].ffs_locality", m.ffs_locality)
        for i, m in enumerate(pf.assumptions.markets)
        if m in markets
    ]
    localities.append(("$.assumptions.ffs_locality", pf.assumptions.ffs_locality))
    for path, locality in localities:
        if locality is not None and locality not in fee_schedule.localities:
            errors.append(
                Problem.at_path(
                    path,
                    "unknown_locality",
                    f"{locality!r} is not a Medicare locality (use STATE-NN, e.g. CA-18)",
                )
            )
    if errors:
        raise PricingInputError(errors)


def _gap(revenue: Decimal, cost: Decimal) -> str:
    """revenue - cost of the amounts as shown, so the figures on a page subtract exactly."""
    return format(to_cents(revenue) - to_cents(cost), "f")


def _model(revenue: Decimal, cost: Decimal, **extra: str) -> dict[str, str]:
    coverage = "" if cost == 0 else format((revenue / cost).quantize(Decimal("0.0001")), "f")
    return {
        "revenue_pmpm": cents_str(revenue),
        "surplus_pmpm": _gap(revenue, cost),
        "cost_coverage": coverage,
        **extra,
    }


def compare_payment_models(
    pricing_file: Mapping[str, Any] | PricingFile,
    *,
    markets: Sequence[str] | None = None,
    fee_schedule: FeeSchedule | None = None,
    rate_schedule: RateSchedule | None = None,
) -> dict[str, Any]:
    """Revenue under FFS, bundle, value-based and capitation+TCOC per tier x market, vs cost.

    Per member-month of the tier, with the initial assessment spread over an enrollee's expected
    months (assessments per enrollee = 1 / conversion_rate) on both sides. `surplus_pmpm` is
    revenue minus direct cost: what is left for admin and margin (the bundle's surplus is exactly
    its loads). Per role: the cost (trended labor from the build-up), FFS revenue and their gap.

    With a `rate_schedule` (a plan's state Medicaid schedule) every code is priced at its flat rate
    instead of the Medicare PFS; a code the schedule does not list pays nothing and is named in
    `fee_schedule.unpriced_codes`. When the bundle says a billing clinician supervises the team's
    care management (`bundle.care_management`), the minutes of every role are billed together under
    that program's codes (`care_management_units`) and the revenue shared by minutes.
    """
    pf = as_pricing_file(pricing_file)
    fs = fee_schedule or load_fee_schedule()
    selected = select_markets(pf, markets)
    if rate_schedule is None:
        _check_codes(pf, fs, selected)
    program = pf.bundle.care_management
    unpriced: set[str] = set()
    a = pf.assumptions
    point = Scenario.point(pf)
    cells = []
    with localcontext(CALCULATION_CONTEXT):
        expected = enrolled_months(pf)
        per_enrollee_month = 1 / (a.conversion_rate * expected)  # one assessment spread over its months
        savings_share = a.shared_savings_rate * a.tcoc_savings_rate * a.tcoc_baseline_pmpm
        for market in selected:
            locality = market.ffs_locality or a.ffs_locality

            def price(code: str, locality: str | None = locality) -> Decimal:
                if rate_schedule is not None:
                    if code not in rate_schedule.rates:
                        unpriced.add(code)
                    return rate_schedule.amount(code)
                if code not in fs.codes:  # a care-management code Medicare pays outside the PFS
                    unpriced.add(code)
                    return Decimal(0)
                return fs.amount(code, locality=locality, conversion_factor=a.ffs_conversion_factor)

            def label(code: str) -> str:
                return fs.codes[code].label if code in fs.codes else code

            detail = assessment_buildup(pf, market, point)
            assessment_cost = detail.cost if detail is not None else Decimal(0)
            assessment_fee = detail.fee if detail is not None else Decimal(0)
            assessment_ffs = Decimal(0)
            assessment_services = []
            if pf.bundle.assessment is not None:
                for r in pf.bundle.assessment.roles:
                    if _is_billable(pf, r.role):
                        code = _assessment_code(pf, r.service_code)
                        assessment_ffs += price(code)
                        assessment_services.append(
                            {"role": r.role, "code": code, "amount": cents_str(price(code))}
                        )
            for tier in pf.bundle.tier_codes:
                cell = rate_cell_buildup(pf, tier, market, point)
                by_role: dict[str, Any] = {}
                ffs_total = Decimal(0)
                team_minutes = sum(
                    (r.effort(tier).coordination_minutes_per_mm for r in pf.bundle.roles), Decimal(0)
                )
                managed = (
                    [
                        (code, units, price(code))
                        for code, units in care_management_units(program, team_minutes)
                        if units > 0
                    ]
                    if program is not None
                    else []
                )
                for role, line in zip(pf.bundle.roles, cell.roles, strict=True):
                    revenue = Decimal(0)
                    services: list[dict[str, Any]] = []
                    if role.bills_ffs:
                        for code, units in _role_units(
                            role, tier, pf.bundle.home_share, supervised=program is not None
                        ):
                            amount = price(code)
                            revenue += units * amount
                            services.append(
                                {
                                    "code": code,
                                    "label": label(code),
                                    "units_per_mm": format(units.normalize(), "f"),
                                    "amount": cents_str(amount),
                                    "revenue_pmpm": cents_str(units * amount),
                                }
                            )
                    share = (
                        role.effort(tier).coordination_minutes_per_mm / team_minutes
                        if team_minutes
                        else Decimal(0)
                    )
                    for code, units, amount in managed if share else []:
                        # the team's care management, billed by the supervising clinician, shared by minutes
                        revenue += units * amount * share
                        services.append(
                            {
                                "code": code,
                                "label": label(code),
                                "units_per_mm": format((units * share).normalize(), "f"),
                                "amount": cents_str(amount),
                                "revenue_pmpm": cents_str(units * amount * share),
                                "supervised": True,
                            }
                        )
                    ffs_total += revenue
                    by_role[role.role] = {
                        "billable": role.bills_ffs,
                        "cost_pmpm": cents_str(line.labor_pmpm),
                        "ffs_revenue_pmpm": cents_str(revenue),
                        "ffs_gap_pmpm": _gap(revenue, line.labor_pmpm),
                        "services": services,
                    }
                cost = cell.direct_pmpm + assessment_cost * per_enrollee_month
                ffs = ffs_total + assessment_ffs * per_enrollee_month
                bundle = cell.pmpm + assessment_fee * per_enrollee_month
                cells.append(
                    {
                        "tier": tier,
                        "market": market.code,
                        "ffs_locality": locality or "national",
                        "by_role": by_role,
                        "non_labor_cost_pmpm": cents_str(cell.non_labor.total * cell.trend_factor),
                        "assessment": {
                            "cost_per_assessment": cents_str(assessment_cost),
                            "fee": cents_str(assessment_fee),
                            "ffs_revenue_per_assessment": cents_str(assessment_ffs),
                            "ffs_services": assessment_services,
                            "cost_pmpm": cents_str(assessment_cost * per_enrollee_month),
                            "fee_pmpm": cents_str(assessment_fee * per_enrollee_month),
                            "ffs_revenue_pmpm": cents_str(assessment_ffs * per_enrollee_month),
                        },
                        "cost_pmpm": cents_str(cost),
                        "models": {
                            "ffs": _model(ffs, cost),
                            "bundle": _model(bundle, cost),
                            "value_based": _model(
                                ffs * (1 + a.vbp_bonus_share),
                                cost,
                                bonus_pmpm=cents_str(ffs * a.vbp_bonus_share),
                            ),
                            "capitation_tcoc": _model(
                                bundle + savings_share, cost, savings_share_pmpm=cents_str(savings_share)
                            ),
                        },
                    }
                )
    schedule: dict[str, Any] = (
        {
            "kind": "medicare_pfs",
            "year": 2025,
            "conversion_factor": format(a.ffs_conversion_factor, "f"),
            "source": "CMS PPRRVU2025_Oct.csv (RVU25D) and CY2025 GPCI Addendum E",
        }
        if rate_schedule is None
        else {"kind": "plan", "name": rate_schedule.name, "version": rate_schedule.version}
    )
    return {
        "engine_version": ENGINE_VERSION,
        "fee_schedule": {**schedule, "unpriced_codes": sorted(unpriced), "care_management": program},
        "expected_months_enrolled": format(expected.quantize(Decimal("0.0001")), "f"),
        "assumptions": {
            "vbp_bonus_share": format(a.vbp_bonus_share, "f"),
            "tcoc_baseline_pmpm": format(a.tcoc_baseline_pmpm, "f"),
            "tcoc_savings_rate": format(a.tcoc_savings_rate, "f"),
            "shared_savings_rate": format(a.shared_savings_rate, "f"),
        },
        "cells": cells,
    }
