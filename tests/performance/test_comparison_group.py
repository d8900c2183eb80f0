"""The comparison group on a contract's performance: who is a candidate, the match and the difference
in differences from the database, the baseline it gives shared savings, and what a provider sees.

The cohort (conftest): P1-P4 enrolled all of 2026-Q1 at TCOC 3,000 PMPM, 4,000 in October to
December 2025. Here the plan's 834 lists them and eight members who never enrolled (C1-C8), all born
1940-05-17 (85+ in January 2026), Medicaid, in URBAN; the plan's claims give everyone a cancer
diagnosis in November 2025. C1-C8 cost 4,000 before and 3,600 in the quarter: the program's effect is
(3,000 - 4,000) - (3,600 - 4,000) = -600 PMPM, where the members' own history claims -1,000.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from claims import services as claims_services
from claims.extract import write_claims_csv
from contracts.models import ContractVersion
from enrollment import services as enrollment_services
from performance import matching
from tests.claims.lines import line
from tests.enrollment.conftest import make_834

from .conftest import SAVINGS, D, cohort_utilization, scope_of, urow, utilization_csv

pytestmark = pytest.mark.django_db

TREATED = ("P1", "P2", "P3", "P4")
CONTROLS = tuple(f"C{i}" for i in range(1, 9))
PRE = (D(2025, 10, 1), D(2025, 11, 1), D(2025, 12, 1))
QUARTER = (D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1))
QUERIES = 40  # the whole performance request, comparison group included


def eligibility(plan, plan_analyst, members, *, county="URBAN"):
    rows = [(m, f"LAST{m}", "ANA", "19400517", D(2025, 1, 1), None, "HMO", county) for m in members]
    enrollment_services.eligibility_file_load(
        scope=scope_of(plan_analyst, plan),
        file=SimpleUploadedFile("eligibility.834", make_834(rows)),
        run_inline=True,
    )


def claims(plan, plan_analyst, members, dx=("C3490",)):
    lines = [
        line(
            member_id=m,
            claim_id=f"{m}-NOV",
            diagnosis_codes=dx,
            service_from=D(2025, 11, 5),
            service_to=D(2025, 11, 5),
            paid_date=D(2025, 11, 25),
        )
        for m in members
    ]
    upload = claims_services.claims_upload(
        scope=scope_of(plan_analyst, plan),
        data=write_claims_csv(lines).encode(),
        filename="c.csv",
        run_inline=True,
    )
    assert upload.status == "accepted", upload.errors[:3]


def utilisation(analyst_api, controls, *, post="3600.00"):
    """After the claims: a utilisation file's rows supersede the rows derived from claims. C1 and C2
    were admitted every month before, as P1 was (the others went to the ED once a month)."""
    rows = cohort_utilization()
    rows += [
        urow(m, month, ed=1, ip=int(m in ("C1", "C2")), tcoc="4000.00") for m in controls for month in PRE
    ]
    rows += [urow(m, month, tcoc=post) for m in controls for month in QUARTER]
    response = analyst_api.post(
        "/api/v1/performance/uploads/",
        {"file": SimpleUploadedFile("utilization.csv", utilization_csv(rows))},
        format="multipart",
    )
    assert response.status_code == 201, response.json()


@pytest.fixture
def compared(cohort, plan, plan_analyst, analyst_api):
    eligibility(plan, plan_analyst, TREATED + CONTROLS)
    claims(plan, plan_analyst, TREATED + CONTROLS)
    utilisation(analyst_api, CONTROLS)
    return cohort


def quarter(api, contract):
    response = api.get(f"/api/v1/performance/contracts/{contract.number}/", {"period": "2026-Q1"})
    assert response.status_code == 200, response.json()
    return response.json()


def test_the_difference_in_differences_against_members_who_did_not_enroll(compared, analyst_api):
    group = quarter(analyst_api, compared)["comparison_group"]
    # P1 with C1 and C2 (admitted like it); P2-P4 with the nearest three of the others, C3-C5.
    assert (group["treated"], group["matched"], group["controls"], group["unmatched"]) == (4, 4, 5, {})
    assert group["member_months"] == 12 and group["window_months"] == 12
    assert (group["treated_pre_pmpm"], group["treated_post_pmpm"]) == ("4000.00", "3000.00")
    assert (group["control_pre_pmpm"], group["control_post_pmpm"]) == ("4000.00", "3600.00")
    assert (group["effect_pmpm"], group["savings_pmpm"]) == ("-600.00", "600.00")
    assert (group["ci_low"], group["ci_high"]) == ("-600.00", "-600.00")
    assert (group["savings_low"], group["savings_high"]) == ("600.00", "600.00")
    assert group["baseline_pmpm"] == "3600.00"  # the actual 3,000 plus the estimated savings


def test_a_contract_on_the_comparison_group_shares_savings_against_it(compared, analyst_api):
    before = quarter(analyst_api, compared)
    assert before["shared_savings"]["baseline_pmpm"] == "4000.00"  # pre-enrollment: 1,000 PMPM saved
    ContractVersion.objects.filter(contract=compared).update(
        shared_savings_terms={**SAVINGS, "baseline_method": "comparison_group"}
    )
    after = quarter(analyst_api, compared)
    savings = after["shared_savings"]
    assert savings["baseline_method"] == "comparison_group"
    assert (savings["baseline_pmpm"], savings["actual_pmpm"]) == ("3600.00", "3000.00")
    assert savings["gross_savings"] == "7200.00"  # 600 x 12 enrolled months
    assert (
        after["baseline"]["method"] == "comparison_group" and after["baseline"]["savings_pmpm"] == "3600.00"
    )
    assert after["baseline"]["tcoc_pmpm"] == "4000.00"  # the members' own history, shown beside it


def test_who_is_a_candidate(cohort, plan, plan_analyst, analyst_api, provider_scope):
    """Only members eligible on a bundle's line in the period, never on a roster, in the stratum, with a
    diagnosis of an included group: of C5-C8 only C5 is one."""
    eligibility(plan, plan_analyst, TREATED + ("C5",))
    enrollment_services.eligibility_file_load(
        scope=scope_of(plan_analyst, plan),
        file=SimpleUploadedFile(
            "more.834",
            make_834(
                [
                    (
                        "C6",
                        "LASTC6",
                        "ANA",
                        "19400517",
                        D(2025, 1, 1),
                        None,
                        "HMO",
                        "RURAL-N",
                    ),  # another market
                    ("C7", "LASTC7", "ANA", "19400517", D(2025, 1, 1), None, "HMO", "URBAN"),  # dementia only
                    (
                        "C8",
                        "LASTC8",
                        "ANA",
                        "19400517",
                        D(2025, 1, 1),
                        D(2025, 12, 31),
                        "HMO",
                        "URBAN",
                    ),  # left
                ],
                full=False,
            ),
        ),
        run_inline=True,
    )
    claims(plan, plan_analyst, TREATED + ("C5", "C6", "C8"))
    claims(plan, plan_analyst, ("C7",), dx=("G3100",))
    utilisation(analyst_api, ("C5", "C6", "C7", "C8"))
    group = quarter(analyst_api, cohort)["comparison_group"]
    # P2-P4 with C5; P1, admitted every month before, resembles nobody left.
    assert (group["matched"], group["controls"], group["unmatched"]) == (3, 1, {matching.NO_MATCH: 1})


def test_without_claims_there_is_no_comparison_group(cohort, analyst_api):
    utilisation(analyst_api, ())
    data = quarter(analyst_api, cohort)
    assert data["comparison_group"] is None
    ContractVersion.objects.filter(contract=cohort).update(
        shared_savings_terms={**SAVINGS, "baseline_method": "comparison_group"}
    )
    savings = quarter(analyst_api, cohort)["shared_savings"]
    assert savings["baseline_pmpm"] is None and Decimal(savings["gross_savings"]) == 0
    assert "comparison group" in savings["reason"]


def test_enrolled_members_without_a_history_or_a_diagnosis_are_counted_apart(
    cohort, plan, plan_analyst, analyst_api
):
    eligibility(plan, plan_analyst, TREATED + CONTROLS)
    claims(plan, plan_analyst, ("P1", "P2", *CONTROLS))  # P3 and P4 have no claims: no condition group
    utilisation(analyst_api, CONTROLS)
    group = quarter(analyst_api, cohort)["comparison_group"]
    assert (group["treated"], group["matched"]) == (4, 2)
    assert group["unmatched"] == {matching.NO_CONDITION: 2}


def test_a_provider_never_sees_members_who_did_not_enroll(compared, provider_api, analyst_api):
    seen = quarter(provider_api, compared)
    text = json.dumps(seen)
    assert not any(f'"{m}"' in text for m in CONTROLS)
    group = seen["comparison_group"]
    # Counts of people from 1 to 10 are hidden, and with few controls their cost too.
    assert (group["treated"], group["matched"], group["controls"]) == (None, None, None)
    assert (group["control_pre_pmpm"], group["control_post_pmpm"]) == (None, None)
    assert group["savings_pmpm"] == "600.00"  # what decides money stays
    assert seen["suppression"]["applied"] is True
    rows = provider_api.get(
        f"/api/v1/performance/contracts/{compared.number}/members/", {"period": "2026-Q1"}
    ).json()
    listed = {r["member_id"] for r in (rows["results"] if isinstance(rows, dict) else rows)}
    assert listed <= set(TREATED)
    assert quarter(analyst_api, compared)["comparison_group"]["controls"] == 5  # the plan sees its own data


def test_the_page_shows_the_baselines_side_by_side(compared, client, plan_analyst):
    client.force_login(plan_analyst)
    page = client.get(f"/performance/contracts/{compared.number}/", {"period": "2026-Q1"}).content.decode()
    assert "Comparison group" in page and "Baselines" in page
    assert "600.00" in page and "3,600.00" in page
    assert "4 of 4 enrolled members matched with 5 members who did not enroll" in page


def test_query_count_does_not_grow_with_the_comparison_group(
    cohort, plan, plan_analyst, analyst_api, django_assert_max_num_queries
):
    eligibility(plan, plan_analyst, TREATED + CONTROLS)
    claims(plan, plan_analyst, TREATED + CONTROLS)
    utilisation(analyst_api, CONTROLS)
    with django_assert_max_num_queries(QUERIES):
        quarter(analyst_api, cohort)
    more = tuple(f"K{i}" for i in range(40))
    eligibility(plan, plan_analyst, TREATED + CONTROLS + more)
    claims(plan, plan_analyst, more)
    utilisation(analyst_api, CONTROLS + more)
    with django_assert_max_num_queries(QUERIES):
        quarter(analyst_api, cohort)
    assert Decimal(quarter(analyst_api, cohort)["comparison_group"]["savings_pmpm"]) == Decimal("600.00")


def test_the_comparison_is_kept_until_its_data_changes(compared, analyst_api, django_assert_max_num_queries):
    first = quarter(analyst_api, compared)["comparison_group"]
    with django_assert_max_num_queries(QUERIES - 10):  # the pool is not read again
        assert quarter(analyst_api, compared)["comparison_group"] == first
    # A new utilisation file is new data: the comparison is computed again from it.
    utilisation(analyst_api, CONTROLS, post="3800.00")
    again = quarter(analyst_api, compared)["comparison_group"]
    assert (again["control_post_pmpm"], again["savings_pmpm"]) == ("3800.00", "800.00")
