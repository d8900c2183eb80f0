"""Reads of contract performance: aggregates in SQL, math in ``performance.measures``.

The cohort of a contract is the members on its current accepted rosters (enrollment's
``MemberMonth`` rows of current roster versions); :func:`member_month_rows` is the one place
performance reads them. Utilisation rows are the payer's (``superseded=False``), joined to the
cohort by member and month: *enrolled* months are the months a member has a member-month row,
*baseline* months are the months with utilisation in the contract's baseline window (its shared
savings terms' ``baseline_months``, 12 when they name none) before the member's first enrolled
month.

The shared-savings baseline PMPM is, per the contract's ``baseline_method``, the same members'
TCOC PMPM in those baseline months (``pre_enrollment``), the contract's benchmark trended from
its midpoint to the period's midpoint (``trended_benchmark``, ``measures.trended_benchmark_pmpm``)
or the actual PMPM less the effect estimated against a comparison group (``comparison_group``,
``performance.comparison``). Avoided events always use the members' own pre-enrollment event rates.

Conventions the page, the API and the report share:

- rates per 1,000 use the contract's member-months (its proration rule);
- TCOC PMPM (actual and baseline) divides by whole months (a month's TCOC is for the whole
  month): enrolled months with a member-month row, baseline months with a utilisation row;
- hospice transitions and days enrolled come from roster disenrollments (reason ``hospice``),
  deaths and their place from the utilisation file, new enrollees from the first enrolled month;
- ``assessment_within_n_days_rate`` needs referral dates, which no file carries yet: it is
  reported with a denominator of 0 (not scored).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Q, QuerySet, Sum
from django.utils import timezone

from accounts.tenancy import Scope, get_scoped_or_404, scoped
from claims import selectors as claims_selectors
from claims.classify import SERVICE_CATEGORIES
from claims.completion import completed
from contracts import rules as contract_rules
from contracts import selectors as contract_selectors
from contracts.models import Contract, ContractVersion
from contracts.rules import QUALITY_MEASURES
from core.domain.money import round_half_up, to_cents
from core.domain.months import INVALID_PERIOD_MESSAGE, Period, parse_period, shift_month
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, NotFoundError, uuid_or_404
from enrollment.models import Assessment, MemberMonth, RosterEntry, RosterSubmission
from performance import measures as m
from performance.comparison import ContractCohort, comparison_group
from performance.matching import Estimate, comparison_baseline_pmpm
from performance.models import EventKind, PatientStory, UnitCost, UtilizationRow, UtilizationUpload
from performance.suppression import suppress_small_counts

ZERO = Decimal(0)
BASELINE_MONTHS = contract_rules.DEFAULT_BASELINE_MONTHS  # when the contract names no baseline window
COUNT_FIELDS = ("ed_visits", "inpatient_admissions", "icu_admissions", "discharges", "readmissions_30d")
EVENT_FIELDS = {
    EventKind.ED_VISIT: "ed_visits",
    EventKind.INPATIENT_ADMISSION: "inpatient_admissions",
    EventKind.ICU_ADMISSION: "icu_admissions",
    EventKind.READMISSION: "readmissions_30d",
}
UTILIZATION_MEASURES = {
    "ed_visits_per_1000": "ed_visits",
    "inpatient_admissions_per_1000": "inpatient_admissions",
    "icu_admissions_per_1000": "icu_admissions",
}


# --- the one read of enrollment ----------------------------------------------------------------


def member_month_rows(contract: Contract) -> QuerySet[MemberMonth]:
    """Member-months of ``contract`` from its current accepted roster versions (enrollment's data)."""
    return MemberMonth.objects.filter(contract=contract, submission__is_current=True)


def roster_disenrollments(contract: Contract, start: date, end: date) -> list[dict]:
    """Disenrollments (end inside [start, end)) on the contract's current rosters, one per member and end."""
    entries = (
        RosterEntry.objects.filter(
            submission__contract=contract,
            submission__is_current=True,
            enrollment_end__gte=start,
            enrollment_end__lt=end,
        )
        .exclude(disenrollment_reason="")
        .values("member_id", "enrollment_end", "disenrollment_reason")
        .annotate(first_start=Min("enrollment_start"))
        .order_by("member_id", "enrollment_end")
    )
    firsts = dict(
        RosterEntry.objects.filter(
            submission__contract=contract,
            submission__is_current=True,
            member_id__in=[e["member_id"] for e in entries],
        )
        .values("member_id")
        .annotate(first=Min("enrollment_start"))
        .values_list("member_id", "first")
    )
    seen, out = set(), []
    for e in entries:
        if e["member_id"] in seen:
            continue
        seen.add(e["member_id"])
        out.append({**e, "first_start": firsts.get(e["member_id"], e["first_start"])})
    return out


# --- contracts and periods ----------------------------------------------------------------------


def contract_for_performance(*, scope: Scope, contract_id: Any) -> Contract:
    scope.require("performance.view")
    return contract_selectors.contract_get(scope=scope, contract_id=contract_id)


def performance_contracts(*, scope: Scope) -> QuerySet[Contract]:
    scope.require("performance.view")
    return contract_selectors.contract_list(scope=scope).filter(current_version__activated_at__isnull=False)


def contract_start(contract: Contract) -> date | None:
    first = (
        ContractVersion.objects.filter(contract=contract)
        .order_by("number")
        .values_list("effective_start", flat=True)
        .first()
    )
    return first


def period_of(contract: Contract, code: str | None) -> Period:
    start = contract_start(contract)
    if not code:
        latest = member_month_rows(contract).order_by("-month").values_list("month", flat=True).first()
        anchor = latest or start or timezone.localdate()
        return parse_period(f"{anchor.year}", contract_start=start)
    try:
        return parse_period(code, contract_start=start)
    except ValueError as exc:
        raise ApplicationError(
            INVALID_PERIOD_MESSAGE, code="invalid_period", details={"period": code}
        ) from exc


def terms_version(contract: Contract, period: Period) -> ContractVersion | None:
    """The version in force on the period's last month (its quality and savings terms apply)."""
    return (
        contract_selectors.version_in_force(contract=contract, on=shift_month(period.end, -1))
        or contract_selectors.version_in_force(contract=contract, on=period.start)
        or contract.current_version
    )


# --- aggregation ---------------------------------------------------------------------------------


@dataclass
class MonthData:
    member_months: Decimal = ZERO
    months: int = 0
    members: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_FIELDS, 0))
    tcoc: Decimal = ZERO
    satisfaction_sum: Decimal = ZERO
    satisfaction_squares: Decimal = ZERO
    satisfaction_n: int = 0
    disenrolled: int = 0
    hospice: int = 0
    hospice_days: list[int] = field(default_factory=list)
    deaths: int = 0
    deaths_home: int = 0
    new_enrollees: int = 0
    acp_within_60: int = 0
    referral_days: list[int] = field(default_factory=list)  # assessment date - referral date, per assessment


def _utilization(contract: Contract) -> QuerySet[UtilizationRow]:
    return UtilizationRow.objects.filter(payer_id=contract.payer_id, superseded=False)


def _decimal(value: Any, places: int = 2) -> Decimal:
    """A SUM as a Decimal (SQLite returns floats for decimal columns; PostgreSQL Decimals)."""
    if value is None:
        return ZERO
    return round_half_up(Decimal(str(value)), places)


def _as_date(value: Any) -> date:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _enrolled_sums(contract: Contract, start: date, end: date, *, by: str = "month") -> list[dict]:
    """Utilisation of the enrolled member-months of [start, end), summed per month (or member) in SQL.

    Driven from the contract's member-months (a few thousand rows), joined to the payer's current
    utilisation rows through the (payer, member_id, month) index: never a scan of the payer's rows.
    """
    key = {"month": "mm.month", "member": "mm.member_id"}[by]
    quote = connection.ops.quote_name
    # Table names are the models' own and every value is a parameter.
    sql = (
        f"SELECT {key}, SUM(u.ed_visits), SUM(u.inpatient_admissions), SUM(u.icu_admissions), SUM(u.discharges), "  # noqa: S608
        "SUM(u.readmissions_30d), SUM(u.tcoc_amount), SUM(u.satisfaction_score), "
        "SUM(u.satisfaction_score * u.satisfaction_score), COUNT(u.satisfaction_score), MIN(u.death_date), "
        "MIN(u.acp_documented_date) "
        f"FROM {quote(MemberMonth._meta.db_table)} mm "
        f"JOIN {quote(RosterSubmission._meta.db_table)} s ON s.id = mm.submission_id "
        f"JOIN {quote(UtilizationRow._meta.db_table)} u ON u.member_id = mm.member_id AND u.month = mm.month "
        "WHERE mm.contract_id = %s AND s.is_current = %s AND mm.month >= %s AND mm.month < %s "
        f"AND u.payer_id = %s AND u.superseded = %s GROUP BY {key}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [contract.pk, True, start, end, contract.payer_id, False])
        rows = cursor.fetchall()
    out = []
    for k, ed, ip, icu, dis, readm, tcoc, sat, sat2, sat_n, death, acp in rows:
        out.append(
            {
                by: _as_date(k) if by == "month" else k,
                "ed_visits": ed,
                "inpatient_admissions": ip,
                "icu_admissions": icu,
                "discharges": dis,
                "readmissions_30d": readm,
                "tcoc": _decimal(tcoc),
                "sat": _decimal(sat, 4),
                "sat2": _decimal(sat2, 4),
                "sat_n": int(sat_n or 0),
                "death": _as_date(death) if death else None,
                "acp": _as_date(acp) if acp else None,
            }
        )
    return out


ID_CHUNK = 900  # member ids per IN (...) list: under SQLite's oldest variable limit, fine for PostgreSQL


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)]


@dataclass(frozen=True)
class Cohort:
    """The contract's members (current rosters): each one's first enrolled month, and who is in a period.

    One GROUP BY over the contract's member-months serves the new enrollees, the baseline cohort
    and the member count (it replaces three scans of the same rows).
    """

    start: date
    end: date
    first: dict[str, date]  # every member of the contract: first enrolled month (ever)
    inside: frozenset[str]  # members with a member-month in [start, end)


def cohort(contract: Contract, start: date, end: date) -> Cohort:
    rows = (
        member_month_rows(contract)
        .order_by()
        .values("member_id")
        .annotate(first=Min("month"), inside=Count("id", filter=Q(month__gte=start, month__lt=end)))
        .values_list("member_id", "first", "inside")
    )
    first, inside = {}, set()
    for member_id, first_month, n in rows:
        first[member_id] = _as_date(first_month)
        if n:
            inside.add(member_id)
    return Cohort(start, end, first, frozenset(inside))


def month_data(
    contract: Contract, start: date, end: date, members: Cohort | None = None
) -> dict[date, MonthData]:
    """Every aggregate the measures need, per month of [start, end), in a handful of queries."""
    if members is None or (members.start, members.end) != (start, end):
        members = cohort(contract, start, end)
    data: dict[date, MonthData] = {}
    month = start
    while month < end:
        data[month] = MonthData()
        month = shift_month(month, 1)
    mm = member_month_rows(contract).filter(month__gte=start, month__lt=end)
    for row in (
        mm.values("month")
        .annotate(mm=Sum("member_months"), n=Count("id"), members=Count("member_id", distinct=True))
        .order_by("month")
    ):
        d = data[row["month"]]
        d.member_months, d.months, d.members = row["mm"] or ZERO, row["n"], row["members"]
    for row in _enrolled_sums(contract, start, end):
        d = data[row["month"]]
        d.counts = {f: int(row[f] or 0) for f in COUNT_FIELDS}
        d.tcoc = row["tcoc"]
        d.satisfaction_sum, d.satisfaction_squares = row["sat"], row["sat2"]
        d.satisfaction_n = row["sat_n"]
    for e in roster_disenrollments(contract, start, end):
        d = data[e["enrollment_end"].replace(day=1)]
        d.disenrolled += 1
        if e["disenrollment_reason"] == "hospice":
            d.hospice += 1
            d.hospice_days.append((e["enrollment_end"] - e["first_start"]).days + 1)
    for ids in _chunks(sorted(members.first)):  # deaths of the contract's members (one group per member)
        deaths = (
            _utilization(contract)
            .filter(death_date__gte=start, death_date__lt=end, member_id__in=ids)
            .order_by()
            .values("member_id")
            .annotate(died=Min("death_date"), home=Count("id", filter=Q(death_place="home")))
        )
        for row in deaths:
            d = data[_as_date(row["died"]).replace(day=1)]
            d.deaths += 1
            d.deaths_home += 1 if row["home"] else 0
    first_of = {member_id: first for member_id, first in members.first.items() if start <= first < end}
    for ids in _chunks(sorted(first_of)):
        starts = dict(
            RosterEntry.objects.filter(
                submission__contract=contract, submission__is_current=True, member_id__in=ids
            )
            .order_by()
            .values("member_id")
            .annotate(s=Min("enrollment_start"))
            .values_list("member_id", "s")
        )
        acps = dict(
            _utilization(contract)
            .filter(member_id__in=ids, acp_documented_date__isnull=False)
            .order_by()
            .values("member_id")
            .annotate(a=Min("acp_documented_date"))
            .values_list("member_id", "a")
        )
        for member_id in ids:
            first = first_of[member_id]
            d = data[first]
            d.new_enrollees += 1
            began = starts.get(member_id, first)
            acp = acps.get(member_id)
            if acp is not None and acp <= began + timedelta(days=60):
                d.acp_within_60 += 1
    # Assessments with a referral date (the assessments file's optional column), by assessment month.
    referred = Assessment.objects.filter(
        contract=contract,
        submission__is_current=True,
        referral_date__isnull=False,
        assessment_date__gte=start,
        assessment_date__lt=end,
    ).values_list("assessment_date", "referral_date")
    for assessed, referral in referred:
        data[assessed.replace(day=1)].referral_days.append((assessed - referral).days)
    return data


def measure_data(
    months: list[MonthData], *, n_days: int = m.DEFAULT_REFERRAL_DAYS
) -> dict[str, m.MeasureData]:
    """The period's data for every measure code, from its months (``n_days``: the N of
    ``assessment_within_n_days_rate``)."""

    def total(attr):
        return sum((getattr(d, attr) for d in months), 0)

    mm = sum((d.member_months for d in months), ZERO)
    counts = {f: sum(d.counts[f] for d in months) for f in COUNT_FIELDS}
    days = [x for d in months for x in d.hospice_days]
    median = m.median(days)
    return {
        "ed_visits_per_1000": m.MeasureData(Decimal(counts["ed_visits"]), mm),
        "inpatient_admissions_per_1000": m.MeasureData(Decimal(counts["inpatient_admissions"]), mm),
        "icu_admissions_per_1000": m.MeasureData(Decimal(counts["icu_admissions"]), mm),
        "readmission_30d_rate": m.MeasureData(
            Decimal(counts["readmissions_30d"]), Decimal(counts["discharges"])
        ),
        "hospice_transition_rate": m.MeasureData(Decimal(total("hospice")), Decimal(total("disenrolled"))),
        "median_days_before_hospice": m.MeasureData(
            Decimal(str(median)) if median is not None else ZERO, Decimal(len(days))
        ),
        "death_at_home_rate": m.MeasureData(Decimal(total("deaths_home")), Decimal(total("deaths"))),
        "acp_within_60d_rate": m.MeasureData(
            Decimal(total("acp_within_60")), Decimal(total("new_enrollees"))
        ),
        "assessment_within_n_days_rate": m.assessment_within_n_days(
            (x for d in months for x in d.referral_days), n_days
        ),
        "satisfaction_score": m.MeasureData(
            sum((d.satisfaction_sum for d in months), ZERO),
            Decimal(total("satisfaction_n")),
            sum((d.satisfaction_squares for d in months), ZERO),
        ),
    }


def term_data(term: dict, months: list[MonthData]) -> m.MeasureData:
    """The data of one quality term's measure over ``months`` (with the term's own N where it has one)."""
    return measure_data(months, n_days=int(term.get("n_days") or m.DEFAULT_REFERRAL_DAYS))[term["measure"]]


def baseline(
    contract: Contract,
    start: date,
    end: date,
    members: Cohort | None = None,
    *,
    months: int = BASELINE_MONTHS,
) -> dict[str, Any]:
    """Pre-enrollment utilisation of the members enrolled in [start, end): up to ``months`` months each
    (the contract's ``baseline_months``; 12 by default).

    Each member's window ``[first - months, first)`` is a row of a ``VALUES`` list joined to the
    payer's current rows through the (payer, member_id, month) index: one probe per member, and a
    plan that stays cheap whatever the table statistics say (a long ``OR`` of ``IN`` lists costs
    more to plan than to run).
    """
    if members is None or (members.start, members.end) != (start, end):
        members = cohort(contract, start, end)
    counts = dict.fromkeys(EVENT_FIELDS, 0)
    windows = [
        (member_id, shift_month(members.first[member_id], -months), members.first[member_id])
        for member_id in sorted(members.inside)
    ]
    if not windows:
        return {"months": 0, "tcoc": ZERO, "counts": counts, "pmpm": None}
    quote = connection.ops.quote_name
    per_chunk = max(1, ((connection.features.max_query_params or 30000) - 2) // 3)
    found, tcoc = 0, ZERO
    with connection.cursor() as cursor:
        for i in range(0, len(windows), per_chunk):
            chunk = windows[i : i + per_chunk]
            # Table and column names are the models' own and every value is a parameter.
            sql = (
                f"WITH c (member_id, lo, hi) AS (VALUES {', '.join(['(%s, %s, %s)'] * len(chunk))}) "  # noqa: S608
                "SELECT COUNT(u.id), SUM(u.tcoc_amount), "
                + ", ".join(f"SUM(u.{quote(f)})" for f in EVENT_FIELDS.values())
                + f" FROM c JOIN {quote(UtilizationRow._meta.db_table)} u ON u.member_id = c.member_id "
                "AND u.month >= c.lo AND u.month < c.hi WHERE u.payer_id = %s AND u.superseded = %s"
            )
            cursor.execute(sql, [v for window in chunk for v in window] + [contract.payer_id, False])
            n, amount, *events = cursor.fetchone()
            found += n or 0
            tcoc += _decimal(amount)
            for kind, value in zip(EVENT_FIELDS, events, strict=True):
                counts[kind] += int(value or 0)
    return {
        "months": found,
        "tcoc": tcoc,
        "counts": counts,
        "pmpm": to_cents(tcoc / found) if found else None,
    }


def savings_baseline(
    terms: dict[str, Any], period: Period, own_pmpm: Decimal | None, comparison_pmpm: Decimal | None = None
) -> dict[str, Any]:
    """Which baseline PMPM the shared savings compare with, per the terms, and how it was reached.

    ``pmpm`` is the members' own pre-enrollment PMPM (``own_pmpm``) for ``pre_enrollment`` (and for
    contracts without shared savings terms), the trended benchmark for ``trended_benchmark``, the
    comparison group's baseline (``comparison_pmpm``) for ``comparison_group``; a trended benchmark
    without its figures (terms written before they were required) has no baseline, nor has a
    comparison group without claims or matches.
    """
    method = terms.get("baseline_method") or "pre_enrollment"
    if method == "comparison_group":
        return {"method": method, "pmpm": comparison_pmpm, "benchmark": None}
    if method != "trended_benchmark":
        return {"method": "pre_enrollment", "pmpm": own_pmpm, "benchmark": None}
    if not contract_rules.has_benchmark(terms):
        return {"method": method, "pmpm": None, "benchmark": None}
    midpoint = date.fromisoformat(str(terms["benchmark_midpoint"]))
    target = m.period_midpoint(period.start, period.end)
    trended = m.trended_benchmark_pmpm(terms["benchmark_pmpm"], midpoint, terms["annual_trend"], target)
    benchmark = {
        "pmpm": _fmt(to_cents(Decimal(str(terms["benchmark_pmpm"])))),
        "midpoint": midpoint.isoformat(),
        "annual_trend": str(terms["annual_trend"]),
        "period_midpoint": target.isoformat(),
        "days": (target - midpoint).days,
        "trended_pmpm": _fmt(trended),
    }
    return {"method": method, "pmpm": trended, "benchmark": benchmark}


def withheld(contract: Contract, period: Period) -> tuple[Decimal, Decimal]:
    """(withheld, member-month payments) posted on the payments ledger for the period's service months."""
    try:
        from payments.models import MEMBER_PAYMENT_KINDS, LedgerEntry, LineKind
    except ImportError:  # payments not installed: nothing was withheld
        return ZERO, ZERO
    sums = LedgerEntry.objects.filter(
        contract=contract, service_month__gte=period.start, service_month__lt=period.end
    ).aggregate(
        # the withhold adjustments too: a settlement returns what is held, after retro changes
        withheld=Sum("amount", filter=Q(kind__in=[LineKind.WITHHOLD, LineKind.WITHHOLD_ADJUSTMENT])),
        base=Sum("amount", filter=Q(kind__in=[*MEMBER_PAYMENT_KINDS, LineKind.RETRO_ADJUSTMENT])),
    )
    return -(sums["withheld"] or ZERO), sums["base"] or ZERO


def unit_costs(payer) -> dict[str, Decimal]:
    return dict(UnitCost.objects.filter(payer=payer).values_list("kind", "cost"))


# --- the performance of a contract for a period ------------------------------------------------


def _fmt(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def compute_performance(contract: Contract, period: Period, *, series: bool = True) -> dict[str, Any]:
    """Everything the page, API and report show for ``contract`` over ``period`` (plain data)."""
    version = terms_version(contract, period)
    quality_terms = list(version.quality_terms or []) if version else []
    savings_terms = dict(version.shared_savings_terms or {}) if version else {}
    members = cohort(contract, period.start, period.end)
    months = month_data(contract, period.start, period.end, members)
    window = list(months.values())
    results = [
        m.evaluate_measure(term, term_data(term, window))
        for term in quality_terms
        if term.get("measure") in m.MEASURE_UNITS
    ]
    composite = m.composite_score(results)
    held, base_payments = withheld(contract, period)
    money = m.quality_money(
        composite,
        withheld=held,
        base_payments=base_payments,
        bonus_terms=(version.quality_bonus or None) if version else None,
    )
    enrolled_months = sum(d.months for d in months.values())
    member_months = sum((d.member_months for d in months.values()), ZERO)
    tcoc = sum((d.tcoc for d in months.values()), ZERO)
    actual_pmpm = to_cents(tcoc / enrolled_months) if enrolled_months else None
    window_months = contract_rules.baseline_months(savings_terms)
    base = baseline(contract, period.start, period.end, members, months=window_months)
    compared = comparison_group(
        ContractCohort(contract, members.first, members.inside, window_months), period
    )
    comparison_pmpm = None if compared is None else comparison_baseline_pmpm(actual_pmpm, compared)
    against = savings_baseline(savings_terms, period, base["pmpm"], comparison_pmpm)
    savings = m.shared_savings(
        savings_terms,
        baseline_pmpm=against["pmpm"],
        actual_pmpm=actual_pmpm,
        member_months=Decimal(enrolled_months),
        composite=composite,
    )
    actual_counts = {kind: sum(d.counts[f] for d in months.values()) for kind, f in EVENT_FIELDS.items()}
    avoided = m.avoided_events(
        baseline_counts=base["counts"],
        baseline_mm=Decimal(base["months"]),
        actual_counts=actual_counts,
        actual_mm=Decimal(enrolled_months),
        unit_costs=unit_costs(contract.payer_id),
    )
    story = PatientStory.objects.filter(contract=contract, period=period.code).first()
    measure_rows = []
    n_days = {t["measure"]: t.get("n_days") for t in quality_terms}
    for result in results:
        meta = QUALITY_MEASURES[result.code]
        row = {k: _fmt(v) for k, v in result.__dict__.items()}
        name = (
            meta.name.replace("N days", f"{n_days[result.code]} days")
            if n_days.get(result.code)
            else meta.name
        )
        row.update(name=name, denominator_label=meta.denominator)
        measure_rows.append(row)
    out: dict[str, Any] = {
        "contract": {
            "id": str(contract.public_id),
            "number": contract.number,
            "payer": contract.payer.legal_name,
            "provider": contract.provider.legal_name,
            "terms_version": version.number if version else None,
        },
        "period": {
            "code": period.code,
            "kind": period.kind,
            "label": period.label,
            "start": period.start.isoformat(),
            "end": shift_month(period.end, -1).isoformat(),
        },
        "member_months": _fmt(round_half_up(member_months, 2)),
        "enrolled_months": enrolled_months,
        "members": len(members.inside),
        "measures": measure_rows,
        "composite_score": _fmt(composite),
        "withhold": {k: _fmt(v) for k, v in money.__dict__.items()},
        "shared_savings": _savings_out(savings, against),
        # months, tcoc_pmpm and events: the members' own pre-enrollment history (its window in
        # window_months); method, benchmark and savings_pmpm: the baseline the shared savings compare.
        "baseline": {
            "months": base["months"],
            "tcoc_pmpm": _fmt(base["pmpm"]),
            "events": {k: v for k, v in base["counts"].items()},
            "method": against["method"],
            "window_months": window_months,
            "benchmark": against["benchmark"],
            "savings_pmpm": _fmt(against["pmpm"]),
            "actual_pmpm": _fmt(actual_pmpm),
        },
        "avoided_events": {
            "events": [{k: _fmt(v) for k, v in e.__dict__.items()} for e in avoided.events],
            "total": _fmt(avoided.total),
        },
        "story": None
        if story is None
        else {"title": story.title, "text": story.text, "updated_at": story.updated_at.isoformat()},
    }
    out["comparison_group"] = _comparison_out(compared, comparison_pmpm, window_months)
    out["claims_completion"] = claims_completion(contract, period, members.inside)
    out["run_out"] = run_out(savings_terms, period)
    if series:
        out["series"] = _series(contract, period, months, quality_terms, base)
    return out


def run_out(savings_terms: dict[str, Any], period: Period) -> dict[str, Any]:
    """When the period may be settled under its shared savings terms: its run-out in months, the first
    day after it (``settles_from``), and the claims completion it needs (None: none set)."""
    months = savings_terms.get("runout_months") or 0
    return {
        "months": months,
        "settles_from": shift_month(period.end, months).isoformat(),
        "completion_threshold": savings_terms.get("completion_threshold") or None,
        "text": contract_rules.describe_runout(savings_terms).strip(),
    }


def claims_completion(contract: Contract, period: Period, members: Iterable[str]) -> dict[str, Any] | None:
    """How complete the plan's claims for these members in ``period`` are, by service category and in
    all: paid so far, the completed estimate with its 95% range, valued at the plan's latest
    completion run (claims/completion.py). None when the plan has sent no claims."""
    run, book = claims_selectors.latest_completion(contract.payer_id)
    if run is None:
        return None
    cells = claims_selectors.paid_cells(
        contract.payer_id, member_ids=members, months=(period.start, period.end)
    )
    paid: dict[tuple[str, date], Decimal] = {}
    for (category, month, _), amount in cells.items():
        paid[(category, month)] = paid.get((category, month), Decimal("0.00")) + amount

    def row(label: str, part: dict) -> dict[str, Any]:
        c = completed(part, book)
        return {
            "category": label,
            "paid": _fmt(c.paid),
            "completed": _fmt(c.completed),
            "low": _fmt(c.low),
            "high": _fmt(c.high),
            "completion": _fmt(c.completion),
            "fitted": c.fitted,
        }

    categories = [
        row(category, {k: v for k, v in paid.items() if k[0] == category})
        for category in SERVICE_CATEGORIES
        if any(k[0] == category for k in paid)
    ]
    return {
        "valued_at": run.valued_at.isoformat() if run.valued_at else None,
        "total": row("total", paid),
        "categories": categories,
    }


def _comparison_out(
    estimate: Estimate | None, baseline_pmpm: Decimal | None, window_months: int
) -> dict[str, Any] | None:
    """The comparison group's figures as the page and the API show them (savings: the opposite of the
    effect, with its interval the other way round)."""
    if estimate is None:
        return None
    out = {k: _fmt(v) for k, v in estimate.__dict__.items()}
    out.update(
        window_months=window_months,
        savings_pmpm=_fmt(estimate.savings_pmpm),
        savings_low=_fmt(None if estimate.ci_high is None else -estimate.ci_high),
        savings_high=_fmt(None if estimate.ci_low is None else -estimate.ci_low),
        baseline_pmpm=_fmt(baseline_pmpm),
    )
    return out


NO_COMPARISON_REASON = (
    "The contract compares with a comparison group, and none could be matched: the plan has sent no "
    "claims, or no eligible member who did not enroll resembles the enrolled ones."
)
NO_BENCHMARK_REASON = (
    "The contract names a trended benchmark without its benchmark PMPM, midpoint and trend: "
    "nothing to compare."
)


def _savings_out(savings: m.SharedSavings | None, against: dict[str, Any]) -> dict[str, Any] | None:
    if savings is None:
        return None
    out = {k: _fmt(v) for k, v in savings.__dict__.items()}
    out["baseline_method"] = against["method"]
    if against["method"] == "trended_benchmark" and against["benchmark"] is None:
        out["reason"] = NO_BENCHMARK_REASON
    if against["method"] == "comparison_group" and against["pmpm"] is None:
        out["reason"] = NO_COMPARISON_REASON
    return out


def _series(
    contract: Contract,
    period: Period,
    months: dict[date, MonthData],
    quality_terms: list[dict],
    base: dict[str, Any],
) -> dict[str, Any]:
    """Monthly points for the charts; a one-month period is charted over the 12 months up to it."""
    if len(months) < 3:
        start = shift_month(period.end, -12)
        months = month_data(contract, start, period.end)
    enrollment = [
        {"month": k.isoformat(), "member_months": _fmt(d.member_months), "members": d.members}
        for k, d in months.items()
    ]
    measures = []
    for term in quality_terms:
        points = []
        for k, d in months.items():
            data = term_data(term, [d])
            result = m.evaluate_measure(term, data)
            points.append(
                {
                    "month": k.isoformat(),
                    "rate": _fmt(result.rate),
                    "ci_low": _fmt(result.ci_low),
                    "ci_high": _fmt(result.ci_high),
                }
            )
        measures.append(
            {
                "measure": term["measure"],
                "name": QUALITY_MEASURES[term["measure"]].name,
                "unit": m.MEASURE_UNITS[term["measure"]][0],
                "target": term.get("target"),
                "direction": term.get("direction"),
                "points": points,
            }
        )
    after_mm = sum((d.member_months for d in months.values()), ZERO)

    def per_1000(count, mm):
        return _fmt(round_half_up(Decimal(count) * 1000 / Decimal(mm), 1)) if mm else None

    before_after = [
        {
            "label": "ED visits",
            "before": per_1000(base["counts"][EventKind.ED_VISIT], base["months"]),
            "after": per_1000(sum(d.counts["ed_visits"] for d in months.values()), after_mm),
        },
        {
            "label": "Inpatient admissions",
            "before": per_1000(base["counts"][EventKind.INPATIENT_ADMISSION], base["months"]),
            "after": per_1000(sum(d.counts["inpatient_admissions"] for d in months.values()), after_mm),
        },
    ]
    return {"enrollment": enrollment, "measures": measures, "before_after": before_after}


def contract_performance(*, scope: Scope, contract: Contract, period: str | None) -> dict[str, Any]:
    """The period's performance as this user may read it: the plan's in full; a provider's with small
    counts hidden (performance/suppression.py), since they are the plan's data about people."""
    scope.require("performance.view")
    data = compute_performance(contract, period_of(contract, period))
    if scope.is_payer:
        data["suppression"] = None
        return data
    return suppress_small_counts(data, settings.SMALL_COUNT_SUPPRESSION)


# --- drill-down ----------------------------------------------------------------------------------


def member_breakdown(*, scope: Scope, contract: Contract, period: Period, measure: str = "") -> list[dict]:
    """The members behind the period's numbers (the contract's own cohort only), one row each."""
    scope.require("performance.view")
    if measure and measure not in QUALITY_MEASURES:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    mm = (
        member_month_rows(contract)
        .filter(month__gte=period.start, month__lt=period.end)
        .values("member_id")
        .annotate(mm=Sum("member_months"), months=Count("id"))
        .order_by("member_id")
    )
    util = {r["member"]: r for r in _enrolled_sums(contract, period.start, period.end, by="member")}
    rows = []
    for r in mm:
        u = util.get(r["member_id"], {})
        rows.append(
            {
                "member_id": r["member_id"],
                "member_months": _fmt(r["mm"]),
                "months": r["months"],
                **{f: int(u.get(f) or 0) for f in COUNT_FIELDS},
                "tcoc_amount": _fmt(u.get("tcoc") or ZERO),
                "death_date": _fmt(u.get("death")),
                "acp_documented_date": _fmt(u.get("acp")),
            }
        )
    field_for = {**UTILIZATION_MEASURES, "readmission_30d_rate": "discharges"}
    if measure in field_for:
        rows = [r for r in rows if r[field_for[measure]]]
    return rows


# --- uploads, unit costs, stories ---------------------------------------------------------------


def upload_list(*, scope: Scope) -> QuerySet[UtilizationUpload]:
    scope.require("performance.upload")
    return scoped(UtilizationUpload.objects.all(), scope)


def upload_get(*, scope: Scope, upload_id: Any) -> UtilizationUpload:
    uuid_or_404(upload_id)
    upload = get_scoped_or_404(UtilizationUpload.objects.all(), scope, public_id=upload_id)  # 404 before 403
    scope.require("performance.upload")
    return upload


def unit_cost_table(*, scope: Scope) -> list[dict]:
    scope.require("performance.view")
    if not scope.is_payer:
        return []
    costs = unit_costs(scope.organization)
    return [
        {"kind": kind, "label": label, "cost": _fmt(costs.get(kind))} for kind, label in EventKind.choices
    ]
