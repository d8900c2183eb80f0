"""Phased rates in payments (issue 17, point 6): a contract on a phased bundle pays each member the rate of
the phase its months since enrollment began reach, on hand-made rosters.

The bundle has two phases: "initial" (months 1 and 2) and "ongoing" (month 3 on). The month enrollment
began is month 1 whatever its day; a change of tier keeps the count; a new enrollment after a gap starts
it again; a death ends the month prorated at the phase's rate; a later roster that moves the enrollment's
start moves the month to another phase and the next run pays the difference.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from bundles import services as bundle_services
from bundles.demo import home_based_definition
from bundles.phases import months_enrolled, phase_cutoffs, phase_of, phases
from contracts import services as contract_services
from contracts.selectors import terms_in_force
from enrollment import selectors as enrollment
from payments import statements
from payments.models import PaymentDetail
from tests.fixtures.contracts import accept_by_both, contract_terms, scope_of
from tests.payments.conftest import FEE, member, pay, submit_roster
from tests.payments.test_payments_web import client_for

pytestmark = pytest.mark.django_db
D = dt.date
M = Decimal
DEC25 = D(2025, 12, 1)
JAN, FEB, MAR, APR, MAY = (D(2026, m, 1) for m in range(1, 6))
PHASES = [
    {"code": "initial", "name": "Months 1-2", "from_month": 1},
    {"code": "ongoing", "name": "Month 3 on", "from_month": 3},
]
RATES = {
    "initial": {"1": M("500.00"), "2": M("650.00"), "3": M("800.00")},
    "ongoing": {"1": M("300.00"), "2": M("450.00"), "3": M("612.35")},
}


@pytest.fixture
def phased_version(plan, plan_analyst):
    scope = scope_of(plan_analyst, plan)
    definition = home_based_definition()
    definition["name"] = "Home-based, phased"
    definition["phases"] = PHASES
    rn = next(role for role in definition["roles"] if role["role"] == "rn")
    rn["by_phase"] = {"initial": {"1": {"visits_per_mm": "4", "coordination_minutes_per_mm": "90"}}}
    bundle = bundle_services.bundle_create(scope=scope, definition=definition)
    return bundle_services.draft_publish(scope=scope, bundle=bundle)


@pytest.fixture
def phased_contract(plan_scope, provider, provider_scope, phased_version):
    contract = contract_services.contract_create(
        scope=plan_scope,
        provider=provider,
        bundle_version=phased_version,
        terms=contract_terms(effective_start=D(2025, 1, 1), markets=["URBAN"], proration_rule="daily"),
        rates=[
            {
                "tier": tier,
                "market": "URBAN",
                "lob": "medicaid",
                "phase": phase,
                "pmpm": str(pmpm),
                "reason": "Agreed",
            }
            for phase, by_tier in RATES.items()
            for tier, pmpm in by_tier.items()
        ],
        assessment_fees={"URBAN": str(FEE)},
    )
    return accept_by_both(contract, plan_scope=plan_scope, provider_scope=provider_scope)


def paid(contract, month: dt.date) -> dict[str, tuple[str, str, Decimal]]:
    """Per member: (tier, phase, amount) of the month's member-month details of approved runs."""
    rows = PaymentDetail.objects.filter(
        line__run__contract=contract,
        line__run__status="approved",
        line__service_month=month,
        line__kind="member_months",
    ).values_list("member_id", "tier", "phase", "amount")
    return {member_id: (tier, phase, M(amount)) for member_id, tier, phase, amount in rows}


def test_the_terms_carry_the_phases_and_a_rate_per_phase(phased_contract):
    terms = terms_in_force(contract=phased_contract, on=JAN)
    assert [p.code for p in terms.phases] == ["initial", "ongoing"]
    assert len(terms.rates) == 6
    assert {cell.phase for cell in terms.rates} == {"initial", "ongoing"}


def test_members_are_paid_the_rate_of_their_phase_month_by_month(
    phased_contract, provider_scope, analyst_scope
):
    contract = phased_contract
    new = member("NEW01", start=D(2026, 1, 20))  # began on the 20th: January is month 1
    long_enrolled = member("OLD01", start=D(2025, 6, 1))  # began before the platform's first roster
    tier_change = member("TIER1", start=JAN, tier="2", tier_start=FEB)
    back_after_gap = member("GAP01", start=MAR)
    dies = member("DIES1", start=FEB, end=D(2026, 3, 20), reason="death")
    rosters = {
        JAN: [
            new,
            long_enrolled,
            member("TIER1", start=JAN),
            member("GAP01", start=JAN, end=D(2026, 1, 31), reason="moved"),
        ],
        FEB: [new, long_enrolled, tier_change, member("DIES1", start=FEB)],
        MAR: [new, long_enrolled, tier_change, back_after_gap, dies],
        APR: [new, long_enrolled, tier_change, back_after_gap],
        MAY: [new, long_enrolled, tier_change, back_after_gap],
    }
    for month, rows in rosters.items():
        submit_roster(provider_scope=provider_scope, contract=contract, month=month, rows=rows)
        pay(scope=analyst_scope, contract=contract, month=month)
    jan11 = (M(12) / M(31) * RATES["initial"]["1"]).quantize(M("0.01"))  # 20-31 January, daily proration
    assert paid(contract, JAN) == {
        "NEW01": ("1", "initial", jan11),
        "OLD01": ("1", "ongoing", M("300.00")),
        "TIER1": ("1", "initial", M("500.00")),
        "GAP01": ("1", "initial", M("500.00")),
    }
    assert paid(contract, FEB) == {
        "NEW01": ("1", "initial", M("500.00")),
        "OLD01": ("1", "ongoing", M("300.00")),
        "TIER1": ("2", "initial", M("650.00")),  # a new tier, the same enrollment: still month 2
        "DIES1": ("1", "initial", M("500.00")),
    }
    dies_mar = (M(20) / M(31) * RATES["initial"]["1"]).quantize(M("0.01"))
    assert paid(contract, MAR) == {
        "NEW01": ("1", "ongoing", M("300.00")),  # month 3
        "OLD01": ("1", "ongoing", M("300.00")),
        "TIER1": ("2", "ongoing", M("450.00")),
        "GAP01": ("1", "initial", M("500.00")),  # enrolled again after February's gap: month 1 again
        "DIES1": ("1", "initial", dies_mar),  # month 2, to the day of death
    }
    assert paid(contract, APR)["GAP01"] == ("1", "initial", M("500.00"))
    assert paid(contract, MAY)["GAP01"] == ("1", "ongoing", M("300.00"))
    assert "DIES1" not in paid(contract, APR)


def test_the_run_has_a_line_per_rate_cell_and_phase_and_the_statement_says_the_phase(
    phased_contract, provider_scope, analyst_scope, api_for, plan_analyst
):
    submit_roster(
        provider_scope=provider_scope,
        contract=phased_contract,
        month=JAN,
        rows=[member("A1", start=JAN), member("A2", start=D(2025, 6, 1)), member("A3", start=D(2025, 6, 1))],
    )
    run = pay(scope=analyst_scope, contract=phased_contract, month=JAN)
    lines = {
        (line.tier, line.phase): (line.count, line.rate, line.amount, line.description)
        for line in run.lines.filter(kind="member_months")
    }
    assert lines == {
        ("1", "initial"): (1, M("500.0000"), M("500.00"), "Tier 1, URBAN, Medicaid, Months 1-2"),
        ("1", "ongoing"): (2, M("300.0000"), M("600.00"), "Tier 1, URBAN, Medicaid, Month 3 on"),
    }
    api = api_for(plan_analyst)
    body = api.get(f"/api/v1/payment-runs/{run.public_id}/").json()
    assert sorted((x["rate_cell"], x["phase"]) for x in body["lines"] if x["kind"] == "member_months") == [
        ("1/URBAN/medicaid/initial", "initial"),
        ("1/URBAN/medicaid/ongoing", "ongoing"),
    ]
    statement = render_to_string("payments/statement_pdf.html", statements.statement_context(run))
    assert (
        "<th>Phase</th>" in statement and "<td>Initial</td>" in statement and "<td>Ongoing</td>" in statement
    )
    page = client_for(plan_analyst).get(f"/payments/runs/{run.public_id}/").content.decode()
    assert "Tier 1 · URBAN · Medicaid · Initial" in page
    csv_text = api.get(f"/api/v1/payment-runs/{run.public_id}/statement.csv").content.decode()
    header, *rows = csv_text.splitlines()
    assert header.endswith(",reference,phase")
    assert any(
        row.startswith(f"{phased_contract.number},2026-01,1,member_months,2026-01,A1,")
        and row.endswith(",initial")
        for row in rows
    )


def test_a_later_roster_that_moves_the_enrollment_start_moves_the_month_to_its_phase(
    phased_contract, provider_scope, analyst_scope
):
    submit_roster(
        provider_scope=provider_scope, contract=phased_contract, month=JAN, rows=[member("R1", start=JAN)]
    )
    pay(scope=analyst_scope, contract=phased_contract, month=JAN)
    submit_roster(
        provider_scope=provider_scope, contract=phased_contract, month=FEB, rows=[member("R1", start=JAN)]
    )
    pay(scope=analyst_scope, contract=phased_contract, month=FEB)
    assert paid(phased_contract, FEB)["R1"] == ("1", "initial", M("500.00"))
    # the provider finds the member had begun in November: February is month 4, ongoing
    submit_roster(
        provider_scope=provider_scope,
        contract=phased_contract,
        month=FEB,
        rows=[member("R1", start=D(2025, 11, 1))],
        today=D(2026, 3, 5),
    )
    submit_roster(
        provider_scope=provider_scope,
        contract=phased_contract,
        month=MAR,
        rows=[member("R1", start=D(2025, 11, 1))],
    )
    run = pay(scope=analyst_scope, contract=phased_contract, month=MAR)
    retro = run.lines.get(kind="retro_adjustment", service_month=FEB)
    assert retro.amount == M("-200.00")  # 300.00 ongoing - 500.00 initial paid
    detail = retro.details.get()
    assert (detail.member_id, detail.tier, detail.phase) == ("R1", "1", "ongoing")
    assert paid(phased_contract, MAR)["R1"] == ("1", "ongoing", M("300.00"))


def test_an_unphased_contract_pays_and_writes_no_phase(contract, provider_scope, analyst_scope):
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("U1")])
    run = pay(scope=analyst_scope, contract=contract, month=JAN)
    assert statements.statement_context(run)["phased"] is False
    assert set(run.lines.values_list("phase", flat=True)) == {""}
    assert set(PaymentDetail.objects.filter(line__run=run).values_list("phase", flat=True)) == {""}


def test_the_database_picks_the_phase_the_pure_rule_picks(phased_contract, provider_scope):
    """Every day an enrollment could have begun in the year before May: the SQL cut-offs agree with
    phase_of(months_enrolled(...)) (the rule the property tests pin), at each month's edges."""
    starts = [
        D(2025, 5, 1),
        D(2026, 2, 28),
        D(2026, 3, 1),
        D(2026, 3, 31),
        D(2026, 4, 1),
        D(2026, 5, 1),
        D(2026, 5, 31),
    ]
    rows = [member(f"S{i}", start=start) for i, start in enumerate(starts)]
    submit_roster(provider_scope=provider_scope, contract=phased_contract, month=MAY, rows=rows)
    bundle_phases = phases({"phases": PHASES})
    got = {
        row["member_id"]: row["phase"]
        for row in enrollment.payable_member_months(contract=phased_contract, month=MAY, phases=bundle_phases)
    }
    assert got == {
        f"S{i}": phase_of(months_enrolled(start, MAY), bundle_phases) for i, start in enumerate(starts)
    }
    assert got == {
        "S0": "ongoing",
        "S1": "ongoing",
        "S2": "ongoing",
        "S3": "ongoing",
        "S4": "initial",
        "S5": "initial",
        "S6": "initial",
    }
    assert phase_cutoffs(bundle_phases, MAY) == [("ongoing", APR)]
