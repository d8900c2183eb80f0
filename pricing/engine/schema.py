"""The pricing file (`carebundle.pricing/1`): parse, validate, export.

A pricing file is what a plan's actuary exchanges with the platform: a bundle (who does what,
how often, per tier) and the assumptions to price it (wages, loads, trend, markets...). It is
also the body of the stateless quote endpoint, so the engine cannot trust it: every number is
checked, and *all* problems are reported at once, each with the JSON path a form or an API
client can point at, a stable snake_case code tests and clients can match, and a sentence for a
person. Parsing yields frozen dataclasses with every number as a `Decimal` (JSON numbers and
decimal strings both accepted), so the arithmetic downstream is exact and reproducible.

`PricingFile.to_dict()` writes the same JSON shape back (decimals as strings, every default
spelled out) so an import/export round trip is lossless and a stored pricing result always
carries the full set of assumptions it was computed with.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bundles.phases import Phase
from core.domain.codes import CARE_MANAGEMENT_PROGRAMS
from core.domain.problems import Problem

FORMAT = "carebundle.pricing/1"

# --- error codes (stable: API clients and tests match on them) -------------------------------
REQUIRED = "required"
WRONG_TYPE = "wrong_type"
FORMAT_UNSUPPORTED = "format_unsupported"
NOT_A_NUMBER = "not_a_number"
NOT_FINITE = "not_finite"
NEGATIVE = "negative"
NOT_POSITIVE = "not_positive"
OUT_OF_RANGE = "out_of_range"
NOT_INTEGER = "not_integer"
EMPTY = "empty"
INVALID_CHOICE = "invalid_choice"
INVALID_DATE = "invalid_date"
DATE_RANGE_REVERSED = "date_range_reversed"
LOADS_TOO_HIGH = "loads_too_high"
DUPLICATE_TIER = "duplicate_tier"
DUPLICATE_ROLE = "duplicate_role"
DUPLICATE_MARKET = "duplicate_market"
UNKNOWN_TIER = "unknown_tier"
UNKNOWN_MARKET = "unknown_market"
MARKET_WITHOUT_WAGE = "market_without_wage"
UNKNOWN_RANGE_ASSUMPTION = "unknown_range_assumption"
RANGE_REVERSED = "range_reversed"
RANGE_EXCLUDES_POINT = "range_excludes_point"
DISENROLLMENT_EXCEEDS_ONE = "disenrollment_exceeds_one"
INVALID_SERVICE_CODE = "invalid_service_code"
DUPLICATE_PHASE = "duplicate_phase"
UNKNOWN_PHASE = "unknown_phase"
PHASE_ORDER = "phase_order"

# --- defaults, each with its source ----------------------------------------------------------
#: IRS standard business mileage rate for 2025 (IRS Notice 2025-5): 70 cents a mile.
DEFAULT_MILEAGE_RATE = Decimal("0.70")
#: Share of initial assessments that end in enrollment. No published figure (docs/reference-data.md); 0.6
#: is the platform's stated default, to be replaced by the program's own referral history.
DEFAULT_CONVERSION_RATE = Decimal("0.6")
#: Monthly disenrollment probabilities by cause, from the CAPC survey of 83 home-based palliative
#: programs (docs/reference-data.md): median length of stay 123.5 days = 4.057 months (30.4375 days a
#: month), so a constant monthly hazard q with (1 - q) ** 4.057 = 0.5 gives q = 0.1570; CAPC's
#: discharges split 31% to hospice, 7% died on service, 62% other (discharged, moved,
#: declined...). Rounded to 4 places; together they give E[months enrolled] = 6.37.
DEFAULT_DISENROLLMENT: dict[str, Decimal] = {
    "death": Decimal("0.0110"),
    "hospice": Decimal("0.0487"),
    "other": Decimal("0.0974"),
}
#: Survival curves are summed over at most this many months (10 years): the restricted mean.
DEFAULT_ENROLLMENT_HORIZON_MONTHS = 120
MAX_ENROLLMENT_HORIZON_MONTHS = 600
#: Value-based FFS: quality bonus as a share of FFS revenue. 5% is the MIPS/APM incentive order
#: of magnitude (the Advanced APM bonus was 5% of Part B payments, MACRA 2019-2024).
DEFAULT_VBP_BONUS_SHARE = Decimal("0.05")
#: Capitation with total-cost-of-care risk. NASHP / CBIZ Optumas (2023, docs/reference-data.md) found
#: cost-avoidance savings of $231 to $1,165 PMPM for the highest utilisers. The defaults are set
#: so the gross savings equal the *low* end of that range (2310 x 0.10 = 231 PMPM); a plan should
#: replace the baseline with its own members' pre-enrollment TCOC.
DEFAULT_TCOC_BASELINE_PMPM = Decimal("2310")
DEFAULT_TCOC_SAVINGS_RATE = Decimal("0.10")
#: Provider's share of savings: 50%, the final sharing rate of the Medicare Shared Savings Program's
#: original one-sided model (Track 1); a contract's own rate replaces it.
DEFAULT_SHARED_SAVINGS_RATE = Decimal("0.50")
#: CY2025 Medicare Physician Fee Schedule conversion factor (CMS, CY2025 PFS final rule).
DEFAULT_FFS_CONVERSION_FACTOR = Decimal("32.3465")
#: Roles that bill Medicare E/M codes in their own name unless the file says otherwise; the rest
#: of the IDT (rn, lcsw, chaplain, chw, lvn, hha, navigator...) earn nothing under FFS.
BILLABLE_ROLES = frozenset({"physician", "md", "do", "np", "pa"})

#: Assumptions a range may be given for (docs/domain.md 4.3), with the rule each end must also satisfy.
RANGEABLE = (
    "benefits_load",
    "productivity",
    "admin_load",
    "margin",
    "annual_trend",
    "mileage_rate",
    "supplies_pmpm",
    "on_call_pmpm",
    "technology_pmpm",
    "full_credibility_member_months",
)

_NUMBER_RE = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_NON_FINITE_RE = re.compile(r"^\s*[+-]?(nan|snan|inf|infinity)\s*$", re.IGNORECASE)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SERVICE_CODE_RE = re.compile(r"^[0-9A-Z]{5}$")


class PricingInputError(ValueError):
    """A pricing file (or quote request) that cannot be priced, with every reason at once.

    `problems` are the kernel's `Problem`s, each at its JSON path, in the order found; `errors` is
    the same list as {"path", "code", "message"} dicts (their `as_dict()`), as API bodies carry it.
    A dict in that shape is accepted in place of a `Problem`.
    """

    def __init__(self, problems: Sequence[Problem | Mapping[str, str]]):
        self.problems = [
            p if isinstance(p, Problem) else Problem.at_path(p["path"], p["code"], p["message"])
            for p in problems
        ]
        self.errors = [p.as_dict() for p in self.problems]
        shown = "; ".join(f"{p.path}: {p.message}" for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{len(self.problems)} error(s) in the pricing input: {shown}{more}")


# --- the parsed file -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Ongoing monthly enrollment, or a short-term episode of `days` (e.g. 30/60/90)."""

    type: str
    days: int | None = None


@dataclass(frozen=True)
class Tier:
    code: str
    name: str


@dataclass(frozen=True)
class RoleEffort:
    """One role's effort in one tier, per member-month."""

    visits_per_mm: Decimal
    coordination_minutes_per_mm: Decimal


NO_EFFORT = RoleEffort(Decimal(0), Decimal(0))


@dataclass(frozen=True)
class ServiceCodes:
    """How a billable role's work maps to fee-schedule codes under FFS (docs/domain.md 4.7).

    Any code may be None to say "not billed". `units_per_mm` adds codes billed a fixed number
    of times per member-month (e.g. {"99497": 0.1} for advance care planning).
    """

    home_visit: str | None
    office_visit: str | None
    ccm_first: str | None
    ccm_additional: str | None
    units_per_mm: dict[str, Decimal]


@dataclass(frozen=True)
class Role:
    role: str
    visit_minutes: Decimal
    by_tier: dict[str, RoleEffort]
    bills_ffs: bool
    service_codes: ServiceCodes | None = None
    # A phased bundle's effort per phase, then tier. The engine carries it but prices `by_tier`:
    # pricing.compute prices each phase on its own file (bundles.phases.phase_definition).
    by_phase: dict[str, dict[str, RoleEffort]] = field(default_factory=dict)

    def effort(self, tier: str) -> RoleEffort:
        """The role's effort in `tier`; a role with no entry for a tier has no effort in it."""
        return self.by_tier.get(tier, NO_EFFORT)


@dataclass(frozen=True)
class AssessmentRole:
    role: str
    minutes: Decimal
    service_code: str | None = None


@dataclass(frozen=True)
class Assessment:
    roles: tuple[AssessmentRole, ...]
    home: bool


# CARE_MANAGEMENT_PROGRAMS (core.domain.codes): how the team's coordination time is billed under a
# supervising billing clinician in the fee-for-service comparison (ffs.py).


@dataclass(frozen=True)
class Bundle:
    name: str
    period: Period
    tiers: tuple[Tier, ...]
    home_share: Decimal
    roles: tuple[Role, ...]
    assessment: Assessment | None
    care_management: str | None = None
    phases: tuple[Phase, ...] = ()

    @property
    def tier_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.tiers)


@dataclass(frozen=True)
class Market:
    code: str
    travel_minutes_per_visit: Decimal
    miles_per_visit: Decimal
    name: str | None = None
    ffs_locality: str | None = None


@dataclass(frozen=True)
class Salary:
    """Annual salary of one role: `default`, overridden per market code."""

    default: Decimal | None
    markets: dict[str, Decimal]

    def for_market(self, market: str) -> Decimal | None:
        return self.markets.get(market, self.default)


@dataclass(frozen=True)
class Assumptions:
    salaries: dict[str, Salary]
    benefits_load: Decimal
    productivity: Decimal
    admin_load: Decimal
    margin: Decimal
    annual_trend: Decimal
    base_period_midpoint: date
    rating_period_midpoint: date
    markets: tuple[Market, ...]
    mileage_rate: Decimal
    supplies_pmpm: Decimal
    on_call_pmpm: Decimal
    technology_pmpm: Decimal
    full_credibility_member_months: Decimal | None
    ranges: dict[str, tuple[Decimal, Decimal]]
    conversion_rate: Decimal
    disenrollment: dict[str, tuple[Decimal, ...]]
    enrollment_horizon_months: int
    lob_factors: dict[str, Decimal]
    vbp_bonus_share: Decimal
    tcoc_baseline_pmpm: Decimal
    tcoc_savings_rate: Decimal
    shared_savings_rate: Decimal
    ffs_conversion_factor: Decimal
    ffs_locality: str | None

    def market(self, code: str) -> Market:
        for m in self.markets:
            if m.code == code:
                return m
        raise KeyError(code)


@dataclass(frozen=True)
class ExperienceCell:
    member_months: Decimal
    cost: Decimal


@dataclass(frozen=True)
class Experience:
    by_tier: dict[str, ExperienceCell]


@dataclass(frozen=True)
class PricingFile:
    bundle: Bundle
    assumptions: Assumptions
    experience: Experience | None = None
    format: str = FORMAT

    def salary(self, role: str, market: str) -> Decimal:
        """The role's salary in the market (validated to exist for every role the bundle uses)."""
        value = self.assumptions.salaries[role].for_market(market)
        assert value is not None  # guaranteed by parse_pricing_file
        return value

    def to_dict(self) -> dict[str, Any]:
        """The file in its JSON shape, decimals as plain strings, every default written out."""
        return _export(self)


# --- parsing ---------------------------------------------------------------------------------

_MISSING = object()

# rule name -> (accepts, code, what the message says the value must be)
_RULES: dict[str, tuple[Callable[[Decimal], bool], str, str]] = {
    "non_negative": (lambda d: d >= 0, NEGATIVE, "zero or more"),
    "positive": (lambda d: d > 0, NOT_POSITIVE, "more than zero"),
    "unit_open": (lambda d: 0 < d <= 1, OUT_OF_RANGE, "more than 0 and at most 1"),
    "unit": (lambda d: 0 <= d <= 1, OUT_OF_RANGE, "between 0 and 1"),
    "above_minus_one": (lambda d: d > -1, OUT_OF_RANGE, "more than -1"),
    "load": (lambda d: 0 <= d < 1, OUT_OF_RANGE, "zero or more and below 1"),
}

_ASSUMPTION_RULES = {
    "benefits_load": "non_negative",
    "productivity": "unit_open",
    "admin_load": "load",
    "margin": "load",
    "annual_trend": "above_minus_one",
    "mileage_rate": "non_negative",
    "supplies_pmpm": "non_negative",
    "on_call_pmpm": "non_negative",
    "technology_pmpm": "non_negative",
    "full_credibility_member_months": "positive",
}


def _key(path: str, key: str) -> str:
    return f"{path}.{key}"


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


class _Parser:
    """Walks the input once, collecting every error instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        # (role, market or None for every market) whose salary already has an error: no second
        # "market without a wage" error for the same mistake
        self.unreadable_wages: set[tuple[str, str | None]] = set()

    def error(self, path: str, code: str, message: str) -> None:
        self.errors.append(Problem.at_path(path, code, message))

    # scalars ---------------------------------------------------------------------------------

    def decimal(self, value: object, path: str, rule: str | None = None) -> Decimal | None:
        """A JSON number or a decimal string as a finite Decimal, or None after an error."""
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            self.error(path, WRONG_TYPE, f"must be a number, not {_type_name(value)}")
            return None
        if isinstance(value, float):
            if not math.isfinite(value):
                self.error(path, NOT_FINITE, "must be a finite number (no NaN or Infinity)")
                return None
            result = Decimal(repr(value))  # shortest repr: 0.7 -> Decimal("0.7"), not binary noise
        elif isinstance(value, str):
            if _NON_FINITE_RE.match(value):
                self.error(path, NOT_FINITE, "must be a finite number (no NaN or Infinity)")
                return None
            if not _NUMBER_RE.match(value):
                self.error(path, NOT_A_NUMBER, f"{value!r} is not a decimal number")
                return None
            try:
                result = Decimal(value.strip())
            except InvalidOperation:  # pragma: no cover - the regex already vetted it
                self.error(path, NOT_A_NUMBER, f"{value!r} is not a decimal number")
                return None
        elif isinstance(value, Decimal):
            if not value.is_finite():
                self.error(path, NOT_FINITE, "must be a finite number (no NaN or Infinity)")
                return None
            result = value
        else:
            result = Decimal(value)
        if rule is not None:
            accepts, code, must_be = _RULES[rule]
            if not accepts(result):
                self.error(path, code, f"must be {must_be}, not {format(result, 'f')}")
                return None
        return result

    def number(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        rule: str | None = None,
        *,
        default: Decimal | None | object = _MISSING,
    ) -> Decimal | None:
        """obj[key] as a Decimal; missing is an error unless a default is given."""
        if key not in obj or obj[key] is None:
            if default is _MISSING:
                self.error(_key(path, key), REQUIRED, f"{key} is required")
                return None
            return default  # type: ignore[return-value]
        return self.decimal(obj[key], _key(path, key), rule)

    def integer(self, value: object, path: str, minimum: int, maximum: int | None = None) -> int | None:
        number = self.decimal(value, path)
        if number is None:
            return None
        if number != number.to_integral_value():
            self.error(path, NOT_INTEGER, f"must be a whole number, not {format(number, 'f')}")
            return None
        whole = int(number)
        if whole < minimum or (maximum is not None and whole > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            code = NOT_POSITIVE if minimum == 1 and whole < 1 else OUT_OF_RANGE
            self.error(path, code, f"must be at least {minimum}{upper}, not {whole}")
            return None
        return whole

    def text(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.error(_key(path, key), REQUIRED, f"{key} is required")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.error(_key(path, key), WRONG_TYPE, f"must be a string, not {_type_name(value)}")
            return None
        value = str(value).strip()
        if not value:
            self.error(_key(path, key), EMPTY, f"{key} must not be empty")
            return None
        return value

    def boolean(self, obj: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = obj.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(_key(path, key), WRONG_TYPE, f"must be true or false, not {_type_name(value)}")
            return default
        return value

    def iso_date(self, obj: Mapping[str, Any], key: str, path: str) -> date | None:
        value = obj.get(key)
        if value is None:
            self.error(_key(path, key), REQUIRED, f"{key} is required")
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if not isinstance(value, str) or not _DATE_RE.match(value):
            self.error(_key(path, key), INVALID_DATE, f"must be a date YYYY-MM-DD, not {value!r}")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.error(_key(path, key), INVALID_DATE, f"{value!r} is not a calendar date")
            return None

    # containers ------------------------------------------------------------------------------

    def mapping(self, value: object, path: str, *, required: bool = True) -> Mapping[str, Any] | None:
        if value is None:
            if required:
                self.error(path, REQUIRED, f"{path.rsplit('.', 1)[-1]} is required")
            return None
        if not isinstance(value, Mapping):
            self.error(path, WRONG_TYPE, f"must be an object, not {_type_name(value)}")
            return None
        return value

    def sequence(self, value: object, path: str, *, required: bool = True) -> list[Any] | None:
        if value is None:
            if required:
                self.error(path, REQUIRED, f"{path.rsplit('.', 1)[-1]} is required")
            return None
        if not isinstance(value, (list, tuple)):
            self.error(path, WRONG_TYPE, f"must be a list, not {_type_name(value)}")
            return None
        if not value and required:
            self.error(path, EMPTY, f"{path.rsplit('.', 1)[-1]} must not be empty")
        return list(value)

    # sections --------------------------------------------------------------------------------

    def bundle(self, value: object, path: str) -> Bundle | None:
        obj = self.mapping(value, path)
        if obj is None:
            return None
        name = self.text(obj, "name", path)
        period = self.period(obj.get("period"), _key(path, "period"))
        tiers = self.tiers(obj.get("tiers"), _key(path, "tiers"))
        tier_codes = {t.code for t in tiers} if tiers else None  # None: tiers unreadable, no cascade
        home_share = self.number(obj, "home_share", path, "unit")
        phases = self.phases(obj.get("phases"), _key(path, "phases"))
        phase_codes = {p.code for p in phases}
        roles: list[Role] = []
        seen: set[str] = set()
        for i, item in enumerate(self.sequence(obj.get("roles"), _key(path, "roles")) or []):
            role = self.role(item, _index(_key(path, "roles"), i), tier_codes, phase_codes)
            if role is None:
                continue
            if role.role in seen:
                self.error(
                    _key(_index(_key(path, "roles"), i), "role"),
                    DUPLICATE_ROLE,
                    f"role {role.role!r} is listed twice in the bundle",
                )
            seen.add(role.role)
            roles.append(role)
        assessment = None
        if obj.get("assessment") is not None:
            assessment = self.assessment(obj["assessment"], _key(path, "assessment"))
        care_management = obj.get("care_management") or None
        if care_management is not None and care_management not in CARE_MANAGEMENT_PROGRAMS:
            self.error(
                _key(path, "care_management"),
                INVALID_CHOICE,
                f"care_management is one of {', '.join(CARE_MANAGEMENT_PROGRAMS)} (or none)",
            )
            care_management = None
        return Bundle(
            name or "",
            period,
            tuple(tiers),
            home_share or Decimal(0),
            tuple(roles),
            assessment,
            care_management,
            tuple(phases),
        )

    def phases(self, value: object, path: str) -> list[Phase]:
        """A phased bundle's phases: codes unique, the first from month 1, each later one later."""
        phases: list[Phase] = []
        for i, item in enumerate(self.sequence(value, path, required=False) or []):
            item_path = _index(path, i)
            obj = self.mapping(item, item_path)
            if obj is None:
                continue
            code = self.text(obj, "code", item_path)
            name = self.text(obj, "name", item_path, required=False)
            start = self.integer(obj.get("from_month"), _key(item_path, "from_month"), minimum=1)
            if code is None or start is None:
                continue
            if any(p.code == code for p in phases):
                self.error(_key(item_path, "code"), DUPLICATE_PHASE, f"phase code {code!r} is used twice")
                continue
            previous = phases[-1].from_month if phases else 0
            if (i == 0 and start != 1) or start <= previous:
                self.error(
                    _key(item_path, "from_month"),
                    PHASE_ORDER,
                    "the first phase starts at month 1 and each later one after the one before it",
                )
            phases.append(Phase(code, name or code, start))
        return phases

    def period(self, value: object, path: str) -> Period:
        obj = self.mapping(value, path, required=False)
        if obj is None:
            return Period("monthly")
        kind = obj.get("type")
        if kind is None:
            self.error(_key(path, "type"), REQUIRED, "type is required")
            return Period("monthly")
        if kind not in ("monthly", "episode"):
            self.error(_key(path, "type"), INVALID_CHOICE, f"must be 'monthly' or 'episode', not {kind!r}")
            return Period("monthly")
        if kind == "monthly":
            return Period("monthly")
        if obj.get("days") is None:
            self.error(_key(path, "days"), REQUIRED, "an episode needs its length in days")
            return Period("episode", None)
        return Period("episode", self.integer(obj["days"], _key(path, "days"), minimum=1))

    def tiers(self, value: object, path: str) -> list[Tier]:
        tiers: list[Tier] = []
        seen: set[str] = set()
        for i, item in enumerate(self.sequence(value, path) or []):
            item_path = _index(path, i)
            obj = self.mapping(item, item_path)
            if obj is None:
                continue
            code = self.text(obj, "code", item_path)
            if code is None:
                continue
            if code in seen:
                self.error(_key(item_path, "code"), DUPLICATE_TIER, f"tier code {code!r} is used twice")
                continue
            seen.add(code)
            name = self.text(obj, "name", item_path, required=False)
            tiers.append(Tier(code, name or code))
        return tiers

    def role(
        self, value: object, path: str, tier_codes: set[str] | None, phase_codes: set[str] | None = None
    ) -> Role | None:
        obj = self.mapping(value, path)
        if obj is None:
            return None
        code = self.text(obj, "role", path)
        visit_minutes = self.number(obj, "visit_minutes", path, "non_negative")
        by_tier = self.efforts(obj.get("by_tier"), _key(path, "by_tier"), tier_codes)
        by_phase: dict[str, dict[str, RoleEffort]] = {}
        phases_path = _key(path, "by_phase")
        for phase, efforts in (self.mapping(obj.get("by_phase"), phases_path, required=False) or {}).items():
            phase_path = _key(phases_path, str(phase))
            if str(phase) not in (phase_codes or set()):
                self.error(phase_path, UNKNOWN_PHASE, f"phase {phase!r} is not one of the bundle's phases")
                continue
            by_phase[str(phase)] = self.efforts(efforts, phase_path, tier_codes)
        service_codes = None
        if obj.get("service_codes") is not None:
            service_codes = self.service_codes(obj["service_codes"], _key(path, "service_codes"))
        if code is None:
            return None
        bills_ffs = self.boolean(obj, "bills_ffs", path, default=code in BILLABLE_ROLES)
        return Role(code, visit_minutes or Decimal(0), by_tier, bills_ffs, service_codes, by_phase)

    def efforts(self, value: object, path: str, tier_codes: set[str] | None) -> dict[str, RoleEffort]:
        """A role's effort per tier (its ``by_tier``, or one phase's under ``by_phase``)."""
        by_tier: dict[str, RoleEffort] = {}
        for tier, effort in (self.mapping(value, path, required=False) or {}).items():
            tier_path = _key(path, str(tier))
            if tier_codes is not None and str(tier) not in tier_codes:
                self.error(tier_path, UNKNOWN_TIER, f"tier {tier!r} is not one of the bundle's tiers")
                continue
            effort_obj = self.mapping(effort, tier_path)
            if effort_obj is None:
                continue
            visits = self.number(effort_obj, "visits_per_mm", tier_path, "non_negative", default=Decimal(0))
            coordination = self.number(
                effort_obj, "coordination_minutes_per_mm", tier_path, "non_negative", default=Decimal(0)
            )
            by_tier[str(tier)] = RoleEffort(visits or Decimal(0), coordination or Decimal(0))
        return by_tier

    def service_code(self, value: object, path: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _SERVICE_CODE_RE.match(value):
            self.error(path, INVALID_SERVICE_CODE, f"must be a 5-character CPT/HCPCS code, not {value!r}")
            return None
        return value

    def service_codes(self, value: object, path: str) -> ServiceCodes | None:
        obj = self.mapping(value, path)
        if obj is None:
            return None
        codes = {
            key: self.service_code(obj.get(key), _key(path, key))
            for key in ("home_visit", "office_visit", "ccm_first", "ccm_additional")
        }
        units: dict[str, Decimal] = {}
        units_obj = self.mapping(obj.get("units_per_mm"), _key(path, "units_per_mm"), required=False) or {}
        for code, amount in units_obj.items():
            code_path = _key(_key(path, "units_per_mm"), str(code))
            if self.service_code(code, code_path) is None:
                continue
            number = self.decimal(amount, code_path, "non_negative")
            if number is not None:
                units[code] = number
        return ServiceCodes(units_per_mm=units, **codes)

    def assessment(self, value: object, path: str) -> Assessment | None:
        obj = self.mapping(value, path)
        if obj is None:
            return None
        roles: list[AssessmentRole] = []
        for i, item in enumerate(self.sequence(obj.get("roles"), _key(path, "roles")) or []):
            item_path = _index(_key(path, "roles"), i)
            role_obj = self.mapping(item, item_path)
            if role_obj is None:
                continue
            role = self.text(role_obj, "role", item_path)
            minutes = self.number(role_obj, "minutes", item_path, "non_negative")
            service_code = self.service_code(role_obj.get("service_code"), _key(item_path, "service_code"))
            if role is not None:
                roles.append(AssessmentRole(role, minutes or Decimal(0), service_code))
        return Assessment(tuple(roles), self.boolean(obj, "home", path, default=True))

    def markets(self, value: object, path: str) -> list[Market]:
        markets: list[Market] = []
        seen: set[str] = set()
        for i, item in enumerate(self.sequence(value, path) or []):
            item_path = _index(path, i)
            obj = self.mapping(item, item_path)
            if obj is None:
                continue
            code = self.text(obj, "code", item_path)
            travel = self.number(obj, "travel_minutes_per_visit", item_path, "non_negative")
            miles = self.number(obj, "miles_per_visit", item_path, "non_negative")
            name = self.text(obj, "name", item_path, required=False)
            locality = self.text(obj, "ffs_locality", item_path, required=False)
            if code is None:
                continue
            if code in seen:
                self.error(_key(item_path, "code"), DUPLICATE_MARKET, f"market code {code!r} is used twice")
                continue
            seen.add(code)
            markets.append(Market(code, travel or Decimal(0), miles or Decimal(0), name, locality))
        return markets

    def salaries(self, value: object, path: str, market_codes: set[str] | None) -> dict[str, Salary]:
        """Salaries by role; `market_codes` is None when the markets are unreadable (no cascade)."""
        salaries: dict[str, Salary] = {}
        for role, item in (self.mapping(value, path) or {}).items():
            role = str(role)
            role_path = _key(path, role)
            obj = self.mapping(item, role_path)
            if obj is None:
                self.unreadable_wages.add((role, None))
                continue
            errors_before = len(self.errors)
            default = self.number(obj, "default", role_path, "non_negative", default=None)
            if len(self.errors) > errors_before:
                self.unreadable_wages.add((role, None))
            by_market: dict[str, Decimal] = {}
            markets_path = _key(role_path, "markets")
            for market, amount in (
                self.mapping(obj.get("markets"), markets_path, required=False) or {}
            ).items():
                market_path = _key(markets_path, str(market))
                if market_codes is not None and market not in market_codes:
                    self.error(
                        market_path, UNKNOWN_MARKET, f"market {market!r} is not in assumptions.markets"
                    )
                    continue
                number = self.decimal(amount, market_path, "non_negative")
                if number is None:
                    self.unreadable_wages.add((role, str(market)))
                else:
                    by_market[market] = number
            salaries[role] = Salary(default, by_market)
        return salaries

    def ranges(
        self, value: object, path: str, points: Mapping[str, Decimal | None]
    ) -> dict[str, tuple[Decimal, Decimal]]:
        ranges: dict[str, tuple[Decimal, Decimal]] = {}
        for name, bounds in (self.mapping(value, path, required=False) or {}).items():
            range_path = _key(path, str(name))
            if name not in _ASSUMPTION_RULES:
                self.error(
                    range_path,
                    UNKNOWN_RANGE_ASSUMPTION,
                    f"{name!r} cannot carry a range; use one of: {', '.join(RANGEABLE)}",
                )
                continue
            if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
                self.error(range_path, WRONG_TYPE, "must be a list [low, high]")
                continue
            low = self.decimal(bounds[0], _index(range_path, 0), _ASSUMPTION_RULES[name])
            high = self.decimal(bounds[1], _index(range_path, 1), _ASSUMPTION_RULES[name])
            if low is None or high is None:
                continue
            if low > high:
                self.error(
                    range_path, RANGE_REVERSED, f"low {format(low, 'f')} is above high {format(high, 'f')}"
                )
                continue
            point = points.get(name)
            if point is not None and not low <= point <= high:
                self.error(
                    range_path,
                    RANGE_EXCLUDES_POINT,
                    f"the range must contain the point value {format(point, 'f')}",
                )
                continue
            ranges[name] = (low, high)
        return ranges

    def disenrollment(self, value: object, path: str) -> dict[str, tuple[Decimal, ...]]:
        obj = self.mapping(value, path, required=False)
        if obj is None:
            return {cause: (q,) for cause, q in DEFAULT_DISENROLLMENT.items()}
        result: dict[str, tuple[Decimal, ...]] = {}
        for cause, item in obj.items():
            cause_path = _key(path, str(cause))
            if isinstance(item, (list, tuple)):
                if not item:
                    self.error(cause_path, EMPTY, "a list of monthly probabilities must not be empty")
                    continue
                values = [self.decimal(q, _index(cause_path, i), "unit") for i, q in enumerate(item)]
                if all(v is not None for v in values):
                    result[str(cause)] = tuple(v for v in values if v is not None)
            else:
                q = self.decimal(item, cause_path, "unit")
                if q is not None:
                    result[str(cause)] = (q,)
        longest = max((len(v) for v in result.values()), default=0)
        for month in range(longest):
            total = sum((v[min(month, len(v) - 1)] for v in result.values()), Decimal(0))
            if total > 1:
                self.error(
                    path,
                    DISENROLLMENT_EXCEEDS_ONE,
                    f"disenrollment probabilities add up to {format(total, 'f')} in month {month + 1}; "
                    "they must not exceed 1",
                )
                break
        return result

    def assumptions(self, value: object, path: str, has_experience: bool) -> Assumptions | None:
        obj = self.mapping(value, path)
        if obj is None:
            return None
        markets = self.markets(obj.get("markets"), _key(path, "markets"))
        market_codes = {m.code for m in markets} if markets else None
        salaries = self.salaries(obj.get("salaries"), _key(path, "salaries"), market_codes)
        scalars: dict[str, Decimal | None] = {}
        for name in ("benefits_load", "productivity", "admin_load", "margin", "annual_trend"):
            scalars[name] = self.number(obj, name, path, _ASSUMPTION_RULES[name])
        defaults = {
            "mileage_rate": DEFAULT_MILEAGE_RATE,
            "supplies_pmpm": Decimal(0),
            "on_call_pmpm": Decimal(0),
            "technology_pmpm": Decimal(0),
        }
        for name, default in defaults.items():
            scalars[name] = self.number(obj, name, path, _ASSUMPTION_RULES[name], default=default)
        if has_experience:
            scalars["full_credibility_member_months"] = self.number(
                obj, "full_credibility_member_months", path, "positive"
            )
        else:
            scalars["full_credibility_member_months"] = self.number(
                obj, "full_credibility_member_months", path, "positive", default=None
            )
        admin, margin = scalars["admin_load"], scalars["margin"]
        if admin is not None and margin is not None and admin + margin >= 1:
            self.error(
                _key(path, "margin"),
                LOADS_TOO_HIGH,
                "admin_load + margin must be below 1 (they are shares of the rate)",
            )
        base = self.iso_date(obj, "base_period_midpoint", path)
        rating = self.iso_date(obj, "rating_period_midpoint", path)
        if base is not None and rating is not None and base > rating:
            self.error(
                _key(path, "rating_period_midpoint"),
                DATE_RANGE_REVERSED,
                "the rating period midpoint must not be before the base period midpoint",
            )
        ranges = self.ranges(obj.get("ranges"), _key(path, "ranges"), scalars)
        if admin is not None and margin is not None and ("admin_load" in ranges or "margin" in ranges):
            highest = ranges.get("admin_load", (admin, admin))[1] + ranges.get("margin", (margin, margin))[1]
            if highest >= 1:
                self.error(
                    _key(path, "ranges"),
                    LOADS_TOO_HIGH,
                    "the high ends of admin_load and margin must add up to less than 1",
                )
        horizon = DEFAULT_ENROLLMENT_HORIZON_MONTHS
        if obj.get("enrollment_horizon_months") is not None:
            horizon = (
                self.integer(
                    obj["enrollment_horizon_months"],
                    _key(path, "enrollment_horizon_months"),
                    minimum=1,
                    maximum=MAX_ENROLLMENT_HORIZON_MONTHS,
                )
                or horizon
            )
        lob_factors: dict[str, Decimal] = {}
        for lob, factor in (
            self.mapping(obj.get("lob_factors"), _key(path, "lob_factors"), required=False) or {}
        ).items():
            number = self.decimal(factor, _key(_key(path, "lob_factors"), str(lob)), "positive")
            if number is not None:
                lob_factors[str(lob)] = number
        other = {
            "conversion_rate": self.number(
                obj, "conversion_rate", path, "unit_open", default=DEFAULT_CONVERSION_RATE
            ),
            "vbp_bonus_share": self.number(
                obj, "vbp_bonus_share", path, "non_negative", default=DEFAULT_VBP_BONUS_SHARE
            ),
            "tcoc_baseline_pmpm": self.number(
                obj, "tcoc_baseline_pmpm", path, "non_negative", default=DEFAULT_TCOC_BASELINE_PMPM
            ),
            "tcoc_savings_rate": self.number(
                obj, "tcoc_savings_rate", path, "unit", default=DEFAULT_TCOC_SAVINGS_RATE
            ),
            "shared_savings_rate": self.number(
                obj, "shared_savings_rate", path, "unit", default=DEFAULT_SHARED_SAVINGS_RATE
            ),
            "ffs_conversion_factor": self.number(
                obj, "ffs_conversion_factor", path, "positive", default=DEFAULT_FFS_CONVERSION_FACTOR
            ),
        }
        return Assumptions(
            salaries=salaries,
            markets=tuple(markets),
            base_period_midpoint=base,  # type: ignore[arg-type]
            rating_period_midpoint=rating,  # type: ignore[arg-type]
            ranges=ranges,
            disenrollment=self.disenrollment(obj.get("disenrollment"), _key(path, "disenrollment")),
            enrollment_horizon_months=horizon,
            lob_factors=lob_factors,
            ffs_locality=self.text(obj, "ffs_locality", path, required=False),
            **scalars,  # type: ignore[arg-type]
            **other,  # type: ignore[arg-type]
        )

    def experience(self, value: object, path: str, tier_codes: set[str] | None) -> Experience | None:
        """Experience by tier; `tier_codes` is None when the bundle is unreadable (no cascade)."""
        obj = self.mapping(value, path, required=False)
        if obj is None:
            return None
        by_tier: dict[str, ExperienceCell] = {}
        tiers_path = _key(path, "by_tier")
        for tier, item in (self.mapping(obj.get("by_tier"), tiers_path) or {}).items():
            tier_path = _key(tiers_path, str(tier))
            if tier_codes is not None and str(tier) not in tier_codes:
                self.error(tier_path, UNKNOWN_TIER, f"tier {tier!r} is not one of the bundle's tiers")
                continue
            cell = self.mapping(item, tier_path)
            if cell is None:
                continue
            member_months = self.number(cell, "member_months", tier_path, "positive")
            cost = self.number(cell, "cost", tier_path, "non_negative")
            if member_months is not None and cost is not None:
                by_tier[str(tier)] = ExperienceCell(member_months, cost)
        return Experience(by_tier)

    def wages(self, bundle: Bundle, assumptions: Assumptions) -> None:
        """Every role the bundle or its assessment uses needs a salary in every market."""
        used = [r.role for r in bundle.roles]
        if bundle.assessment is not None:
            used += [r.role for r in bundle.assessment.roles if r.role not in used]
        for role in used:
            salary = assumptions.salaries.get(role)
            for market in assumptions.markets:
                if (role, None) in self.unreadable_wages or (role, market.code) in self.unreadable_wages:
                    continue
                if salary is None or salary.for_market(market.code) is None:
                    self.error(
                        f"$.assumptions.salaries.{role}.markets.{market.code}",
                        MARKET_WITHOUT_WAGE,
                        f"role {role!r} has no salary for market {market.code!r}: "
                        "give a default or a market entry",
                    )


def parse_pricing_file(data: Mapping[str, Any]) -> PricingFile:
    """Validate a pricing-file dict and return it as frozen dataclasses.

    Raises `PricingInputError` listing every problem found, not just the first, so a form or an
    API client can show them all in one round trip.
    """
    parser = _Parser()
    if not isinstance(data, Mapping):
        raise PricingInputError(
            [Problem.at_path("$", WRONG_TYPE, f"a pricing file must be an object, not {_type_name(data)}")]
        )
    fmt = data.get("format")
    if fmt is None:
        parser.error("$.format", REQUIRED, f"format is required ({FORMAT!r})")
    elif fmt != FORMAT:
        parser.error("$.format", FORMAT_UNSUPPORTED, f"format must be {FORMAT!r}, not {fmt!r}")
    bundle = parser.bundle(data.get("bundle"), "$.bundle")
    has_experience = data.get("experience") is not None
    assumptions = parser.assumptions(data.get("assumptions"), "$.assumptions", has_experience)
    tier_codes = set(bundle.tier_codes) if bundle is not None and bundle.tiers else None
    experience = parser.experience(data.get("experience"), "$.experience", tier_codes)
    if bundle is not None and assumptions is not None:
        parser.wages(bundle, assumptions)
    if parser.errors:
        raise PricingInputError(parser.errors)
    assert bundle is not None and assumptions is not None
    return PricingFile(bundle=bundle, assumptions=assumptions, experience=experience)


# --- export ----------------------------------------------------------------------------------


def _num(value: Decimal) -> str:
    return format(value, "f")


def _export_efforts(by_tier: dict[str, RoleEffort]) -> dict[str, Any]:
    return {
        tier: {
            "visits_per_mm": _num(e.visits_per_mm),
            "coordination_minutes_per_mm": _num(e.coordination_minutes_per_mm),
        }
        for tier, e in by_tier.items()
    }


def _export_role(role: Role) -> dict[str, Any]:
    out: dict[str, Any] = {
        "role": role.role,
        "visit_minutes": _num(role.visit_minutes),
        "by_tier": _export_efforts(role.by_tier),
        "bills_ffs": role.bills_ffs,
    }
    if role.by_phase:  # only a phased bundle's file has the key: an unphased one exports as it always did
        out["by_phase"] = {phase: _export_efforts(efforts) for phase, efforts in role.by_phase.items()}
    if role.service_codes is not None:
        sc = role.service_codes
        out["service_codes"] = {
            "home_visit": sc.home_visit,
            "office_visit": sc.office_visit,
            "ccm_first": sc.ccm_first,
            "ccm_additional": sc.ccm_additional,
            "units_per_mm": {code: _num(u) for code, u in sc.units_per_mm.items()},
        }
    return out


def _export(pf: PricingFile) -> dict[str, Any]:
    b, a = pf.bundle, pf.assumptions
    period: dict[str, Any] = {"type": b.period.type}
    if b.period.days is not None:
        period["days"] = b.period.days
    bundle: dict[str, Any] = {
        "name": b.name,
        "period": period,
        "tiers": [{"code": t.code, "name": t.name} for t in b.tiers],
        "home_share": _num(b.home_share),
        "roles": [_export_role(r) for r in b.roles],
    }
    if b.assessment is not None:
        roles = []
        for r in b.assessment.roles:
            item: dict[str, Any] = {"role": r.role, "minutes": _num(r.minutes)}
            if r.service_code is not None:
                item["service_code"] = r.service_code
            roles.append(item)
        bundle["assessment"] = {"roles": roles, "home": b.assessment.home}
    if b.care_management is not None:
        bundle["care_management"] = b.care_management
    if b.phases:
        bundle["phases"] = [{"code": p.code, "name": p.name, "from_month": p.from_month} for p in b.phases]
    markets = []
    for m in a.markets:
        market: dict[str, Any] = {
            "code": m.code,
            "travel_minutes_per_visit": _num(m.travel_minutes_per_visit),
            "miles_per_visit": _num(m.miles_per_visit),
        }
        if m.name is not None:
            market["name"] = m.name
        if m.ffs_locality is not None:
            market["ffs_locality"] = m.ffs_locality
        markets.append(market)
    salaries: dict[str, Any] = {}
    for role, s in a.salaries.items():
        entry: dict[str, Any] = {}
        if s.default is not None:
            entry["default"] = _num(s.default)
        if s.markets:
            entry["markets"] = {m: _num(v) for m, v in s.markets.items()}
        salaries[role] = entry
    assumptions: dict[str, Any] = {
        "salaries": salaries,
        "benefits_load": _num(a.benefits_load),
        "productivity": _num(a.productivity),
        "admin_load": _num(a.admin_load),
        "margin": _num(a.margin),
        "annual_trend": _num(a.annual_trend),
        "base_period_midpoint": a.base_period_midpoint.isoformat(),
        "rating_period_midpoint": a.rating_period_midpoint.isoformat(),
        "markets": markets,
        "mileage_rate": _num(a.mileage_rate),
        "supplies_pmpm": _num(a.supplies_pmpm),
        "on_call_pmpm": _num(a.on_call_pmpm),
        "technology_pmpm": _num(a.technology_pmpm),
        "ranges": {name: [_num(lo), _num(hi)] for name, (lo, hi) in a.ranges.items()},
        "conversion_rate": _num(a.conversion_rate),
        "disenrollment": {
            cause: _num(qs[0]) if len(qs) == 1 else [_num(q) for q in qs]
            for cause, qs in a.disenrollment.items()
        },
        "enrollment_horizon_months": a.enrollment_horizon_months,
        "lob_factors": {lob: _num(f) for lob, f in a.lob_factors.items()},
        "vbp_bonus_share": _num(a.vbp_bonus_share),
        "tcoc_baseline_pmpm": _num(a.tcoc_baseline_pmpm),
        "tcoc_savings_rate": _num(a.tcoc_savings_rate),
        "shared_savings_rate": _num(a.shared_savings_rate),
        "ffs_conversion_factor": _num(a.ffs_conversion_factor),
    }
    if a.full_credibility_member_months is not None:
        assumptions["full_credibility_member_months"] = _num(a.full_credibility_member_months)
    if a.ffs_locality is not None:
        assumptions["ffs_locality"] = a.ffs_locality
    out: dict[str, Any] = {"format": pf.format, "bundle": bundle, "assumptions": assumptions}
    if pf.experience is not None:
        out["experience"] = {
            "by_tier": {
                tier: {"member_months": _num(c.member_months), "cost": _num(c.cost)}
                for tier, c in pf.experience.by_tier.items()
            }
        }
    return out
