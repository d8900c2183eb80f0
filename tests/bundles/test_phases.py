"""Phases of enrollment as pure data: bundles/phases.py and the phase checks of bundles/definition.py.

No database: these run under mutation testing (-p no:django), so each comparison's edge is tested.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bundles import phases as p
from bundles.definition import DEFAULT_REQUIRED_ROLES, empty_definition, publish_problems, validate

PHASES = [
    {"code": "initial", "name": "Months 1-2", "from_month": 1},
    {"code": "ongoing", "name": "Month 3 on", "from_month": 3},
]
THREE = (p.Phase("a", "A", 1), p.Phase("b", "B", 3), p.Phase("c", "C", 7))


def effort(visits: str, coordination: str) -> dict[str, str]:
    return {"visits_per_mm": visits, "coordination_minutes_per_mm": coordination}


def monthly(**extra) -> dict:
    """A small valid monthly definition (two tiers, every required role with effort)."""
    d = empty_definition("Phased", tiers=2)
    d["markets"] = ["URBAN"]
    d["roles"] = [
        {"role": role, "visit_minutes": "60", "by_tier": {"1": effort("1", "10"), "2": effort("2", "20")}}
        for role in ("np", "rn", "lcsw", "chaplain")
    ]
    d["assessment"] = {"roles": [{"role": "np", "minutes": "60"}], "home": True}
    d["phases"] = copy.deepcopy(PHASES)
    d.update(extra)
    return d


def problems_of(d: dict) -> list[tuple[str, str]]:
    return [(problem.path, problem.code) for problem in validate(d)[1]]


# --- phases() ------------------------------------------------------------------------------


def test_phases_reads_the_definitions_phases_in_order():
    d = {
        "phases": [{"code": "initial", "name": "Months 1-2", "from_month": "1"}, {"code": 7, "from_month": 3}]
    }
    assert p.phases(d) == (p.Phase("initial", "Months 1-2", 1), p.Phase("7", "7", 3))
    assert p.phases({"phases": [{"code": "x", "name": "", "from_month": 2}]}) == (p.Phase("x", "x", 2),)


@pytest.mark.parametrize("d", [{}, {"phases": None}, {"phases": []}])
def test_a_bundle_without_phases_has_none(d):
    assert p.phases(d) == ()


def test_a_phase_is_a_frozen_slotted_value():
    phase = p.Phase("a", "A", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        phase.code = "b"  # type: ignore[misc]
    assert not hasattr(phase, "__dict__")


# --- phase_of() ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("months", "code"),
    [(1, "a"), (2, "a"), (3, "b"), (6, "b"), (7, "c"), (8, "c"), (24, "c")],
)
def test_phase_of_at_every_boundary(months, code):
    assert p.phase_of(months, THREE) == code


@pytest.mark.parametrize("months", [0, -1])
def test_phase_of_needs_a_month_of_enrollment(months):
    with pytest.raises(ValueError, match="at least one month"):
        p.phase_of(months, THREE)


def test_phase_of_without_phases_is_empty():
    assert p.phase_of(1, ()) == ""
    assert p.phase_of(5, ()) == ""


def test_phase_of_before_any_phase_is_empty():
    # validation makes the first phase start at month 1; the function alone says no phase
    assert p.phase_of(1, (p.Phase("late", "Late", 2),)) == ""


@given(
    starts=st.lists(st.integers(min_value=2, max_value=p.MAX_PHASE_START), max_size=6, unique=True).map(
        lambda later: [1, *sorted(later)]
    ),
    months=st.integers(min_value=1, max_value=60),
)
def test_phase_of_is_the_latest_phase_started(starts, months):
    bundle_phases = tuple(p.Phase(f"p{start}", f"From {start}", start) for start in starts)
    expected = max((ph for ph in bundle_phases if ph.from_month <= months), key=lambda ph: ph.from_month)
    assert p.phase_of(months, bundle_phases) == expected.code


# --- months_enrolled() and phase_cutoffs() -------------------------------------------------------

MAY = dt.date(2026, 5, 1)


@pytest.mark.parametrize(
    ("began", "count"),
    [
        (dt.date(2026, 5, 1), 1),  # the month enrollment began is month 1...
        (dt.date(2026, 5, 31), 1),  # ...whatever its day
        (dt.date(2026, 4, 30), 2),
        (dt.date(2026, 4, 1), 2),
        (dt.date(2026, 3, 31), 3),
        (dt.date(2025, 12, 15), 6),  # across a year
        (dt.date(2024, 5, 1), 25),
    ],
)
def test_months_enrolled_counts_the_paid_month_and_every_month_since_enrollment_began(began, count):
    assert p.months_enrolled(began, MAY) == count


def test_phase_cutoffs_name_the_day_before_which_enrollment_began_for_each_later_phase():
    # a: month 1, b: from month 3, c: from month 7 -> c if begun before Dec 1 (Nov or earlier is month 7+),
    # b if begun before Apr 1 (March or earlier is month 3+); latest phase first
    assert p.phase_cutoffs(THREE, MAY) == [("c", dt.date(2025, 12, 1)), ("b", dt.date(2026, 4, 1))]
    assert p.phase_cutoffs(THREE[:1], MAY) == []
    assert p.phase_cutoffs((), MAY) == []
    assert p.phase_cutoffs((p.Phase("a", "A", 1), p.Phase("b", "B", 2)), MAY) == [("b", dt.date(2026, 5, 1))]


def phase_by_cutoffs(bundle_phases, began: dt.date, month: dt.date) -> str:
    """What the database does with the cut-offs (enrollment.selectors.payable_member_months)."""
    for code, cutoff in p.phase_cutoffs(bundle_phases, month):
        if began < cutoff:
            return code
    return bundle_phases[0].code


@given(
    starts=st.lists(st.integers(min_value=2, max_value=p.MAX_PHASE_START), max_size=5, unique=True).map(
        lambda later: [1, *sorted(later)]
    ),
    began=st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2026, 5, 31)),
    month=st.dates(min_value=dt.date(2026, 5, 1), max_value=dt.date(2027, 12, 31)).map(
        lambda d: d.replace(day=1)
    ),
)
def test_the_cutoffs_pick_the_phase_the_months_enrolled_pick(starts, began, month):
    bundle_phases = tuple(p.Phase(f"p{start}", f"From {start}", start) for start in starts)
    assert phase_by_cutoffs(bundle_phases, began, month) == p.phase_of(
        p.months_enrolled(began, month), bundle_phases
    )


def test_max_phase_start_is_two_years():
    assert p.MAX_PHASE_START == 24


# --- phase_definition() --------------------------------------------------------------------


def phased() -> dict:
    return {
        "name": "Phased",
        "tiers": [{"code": "1"}, {"code": "2"}],
        "phases": copy.deepcopy(PHASES),
        "roles": [
            {
                "role": "rn",
                "visit_minutes": "60",
                "by_tier": {"1": effort("1", "30"), "2": effort("2", "45")},
                "by_phase": {"initial": {"1": effort("4", "60")}},
            },
            {"role": "lcsw", "visit_minutes": "60", "by_tier": {"1": effort("0.5", "20")}},
            {"role": "chw", "visit_minutes": "45", "by_phase": {"initial": {"2": effort("1", "5")}}},
        ],
    }


def test_a_phases_effort_replaces_the_tiers_and_other_tiers_inherit():
    d = phased()
    before = copy.deepcopy(d)
    priced = p.phase_definition(d, "initial")
    rn, lcsw, chw = priced["roles"]
    assert rn["by_tier"] == {"1": effort("4", "60"), "2": effort("2", "45")}
    assert lcsw["by_tier"] == {"1": effort("0.5", "20")}
    assert chw["by_tier"] == {"2": effort("1", "5")}  # a role with no base effort
    assert "phases" not in priced and all("by_phase" not in role for role in priced["roles"])
    assert priced["name"] == "Phased" and priced["tiers"] == d["tiers"]
    assert d == before  # the definition itself is left as it was


def test_a_phase_with_no_effort_of_its_own_is_the_base_effort():
    priced = p.phase_definition(phased(), "ongoing")
    assert [r["by_tier"] for r in priced["roles"]] == [
        {"1": effort("1", "30"), "2": effort("2", "45")},
        {"1": effort("0.5", "20")},
        {},
    ]


def test_phase_definition_without_roles():
    assert p.phase_definition({"phases": PHASES}, "ongoing") == {}


@pytest.mark.parametrize("code", ["late", "", "Initial"])
def test_phase_definition_of_an_unknown_phase_raises(code):
    with pytest.raises(KeyError):
        p.phase_definition(phased(), code)


# --- validation of phases ------------------------------------------------------------------


def test_a_valid_phased_definition_has_no_problems_and_is_normalised():
    d = monthly(phases=[{"code": " initial ", "name": "Months 1-2", "from_month": "1"}, {**PHASES[1]}])
    d["roles"][1]["by_phase"] = {"initial": {"1": {"visits_per_mm": 4}}}
    normalized, problems = validate(d)
    assert problems == []
    assert normalized["phases"] == PHASES
    assert normalized["roles"][1]["by_phase"] == {"initial": {"1": effort("4", "0")}}


@pytest.mark.parametrize("empty", [None, []])
def test_no_phases_drops_the_key(empty):
    normalized, problems = validate(monthly(phases=empty))
    assert problems == [] and "phases" not in normalized


@pytest.mark.parametrize("empty", [None, {}])
def test_an_empty_by_phase_is_dropped(empty):
    d = monthly()
    d["roles"][0]["by_phase"] = empty
    normalized, problems = validate(d)
    assert problems == [] and "by_phase" not in normalized["roles"][0]


@pytest.mark.parametrize("value", [{}, "initial", {"code": "initial"}])
def test_phases_not_a_list(value):
    assert problems_of(monthly(phases=value)) == [("$.phases", "not_a_list")]


def test_an_episode_bundle_has_no_phases():
    d = monthly(period={"type": "episode", "days": 90})
    assert problems_of(d) == [("$.phases", "phases_not_for_episodes")]


@pytest.mark.parametrize(("count", "found"), [(1, [("$.phases", "one_phase")]), (2, []), (3, [])])
def test_phases_are_two_or_more(count, found):
    three = [*PHASES, {"code": "late", "name": "Late", "from_month": 7}]
    assert problems_of(monthly(phases=three[:count])) == found


def test_a_phase_is_an_object():
    assert problems_of(monthly(phases=[PHASES[0], "ongoing"])) == [("$.phases[1]", "not_an_object")]


@pytest.mark.parametrize("code", ["", None, "Initial", "a b", "a" * 17, "é", "a.b"])
def test_an_invalid_phase_code(code):
    phases = [PHASES[0], {**PHASES[1], "code": code}]
    assert problems_of(monthly(phases=phases)) == [("$.phases[1].code", "invalid_code")]


@pytest.mark.parametrize("code", ["a" * 16, "a-b_1", "9", " ongoing "])
def test_a_valid_phase_code(code):
    normalized, problems = validate(monthly(phases=[PHASES[0], {**PHASES[1], "code": code}]))
    assert problems == [] and normalized["phases"][1]["code"] == code.strip()


def test_a_duplicate_phase_code():
    phases = [PHASES[0], {**PHASES[1], "code": " initial"}]
    assert problems_of(monthly(phases=phases)) == [("$.phases[1].code", "duplicate")]
    (problem,) = validate(monthly(phases=phases))[1]
    assert problem.message == "Phase code 'initial' is used twice."


def test_a_definition_without_the_phases_key():
    d = monthly()
    del d["phases"]
    normalized, problems = validate(d)
    assert problems == [] and "phases" not in normalized


def test_the_phases_after_one_not_an_object_are_checked_against_month_0():
    # the first phase is no object: the next is checked on its own, from month 1 on
    phases = ["initial", {**PHASES[1], "from_month": 1}, {"code": "", "name": "Late", "from_month": 4}]
    assert problems_of(monthly(phases=phases)) == [
        ("$.phases[0]", "not_an_object"),
        ("$.phases[2].code", "invalid_code"),
    ]


def test_a_phase_with_no_code_has_no_effort_reported_as_unknown():
    # its code is the problem; the effort under that (empty) code is not a second one
    d = monthly(phases=[{k: v for k, v in PHASES[0].items() if k != "code"}, PHASES[1]])
    d["roles"][0]["by_phase"] = {"": {"1": effort("1", "1")}}
    assert problems_of(d) == [("$.phases[0].code", "invalid_code")]


@pytest.mark.parametrize("name", [None, "", "  ", 5])
def test_a_phase_needs_a_name(name):
    phase = {**PHASES[1], "name": name}
    if name is None:
        del phase["name"]
    assert problems_of(monthly(phases=[PHASES[0], phase])) == [("$.phases[1].name", "required")]


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (25, "too_large"),
        ("2.5", "not_an_integer"),
        ("x", "not_a_number"),
        (None, "required"),
        ("", "required"),
        (True, "not_a_number"),
    ],
)
def test_a_phase_start_out_of_range_or_not_a_whole_month(start, code):
    phases = [PHASES[0], {**PHASES[1], "from_month": start}]
    assert problems_of(monthly(phases=phases)) == [("$.phases[1].from_month", code)]


@pytest.mark.parametrize("start", [0, -1])
def test_a_phase_start_before_month_1(start):
    phases = [PHASES[0], {**PHASES[1], "from_month": start}]
    assert problems_of(monthly(phases=phases)) == [
        ("$.phases[1].from_month", "too_small"),
        ("$.phases[1].from_month", "phase_order"),  # and so not after the phase before it
    ]


@pytest.mark.parametrize("start", [2, 24, "24", "3.0"])
def test_a_phase_may_start_up_to_month_24(start):
    normalized, problems = validate(monthly(phases=[PHASES[0], {**PHASES[1], "from_month": start}]))
    assert problems == [] and normalized["phases"][1]["from_month"] == int(float(start))


@pytest.mark.parametrize("start", [2, 3, 24])
def test_the_first_phase_starts_at_month_1(start):
    phases = [
        {**PHASES[0], "from_month": start},
        {**PHASES[1], "from_month": 25 if start == 24 else start + 1},
    ]
    found = problems_of(monthly(phases=phases))
    assert ("$.phases[0].from_month", "first_phase_start") in found


def test_a_first_phase_from_month_1_is_right():
    assert problems_of(monthly(phases=[{**PHASES[0], "from_month": 1}, {**PHASES[1], "from_month": 2}])) == []


@pytest.mark.parametrize(
    ("second", "third", "found"),
    [
        (3, 3, [("$.phases[2].from_month", "phase_order")]),
        (3, 2, [("$.phases[2].from_month", "phase_order")]),
        (3, 4, []),
        (1, 4, [("$.phases[1].from_month", "phase_order")]),
        (5, 4, [("$.phases[2].from_month", "phase_order")]),
    ],
)
def test_each_phase_starts_after_the_one_before(second, third, found):
    phases = [
        PHASES[0],
        {**PHASES[1], "from_month": second},
        {"code": "late", "name": "Late", "from_month": third},
    ]
    assert problems_of(monthly(phases=phases)) == found


def test_the_order_message_names_the_month_before():
    phases = [PHASES[0], {**PHASES[1], "from_month": 5}, {"code": "late", "name": "Late", "from_month": 4}]
    (problem,) = validate(monthly(phases=phases))[1]
    assert "(month 5)" in problem.message


def test_a_first_phase_starting_late_still_orders_the_next():
    phases = [{**PHASES[0], "from_month": 3}, {**PHASES[1], "from_month": 3}]
    assert problems_of(monthly(phases=phases)) == [
        ("$.phases[0].from_month", "first_phase_start"),
        ("$.phases[1].from_month", "phase_order"),
    ]


@pytest.mark.parametrize(("late", "found"), [(2, []), (1, [("$.phases[2].from_month", "phase_order")])])
def test_a_start_not_a_whole_month_is_not_ordered(late, found):
    # 2.5 is already wrong; the phase after it is ordered against the last whole start (month 1)
    phases = [
        PHASES[0],
        {**PHASES[1], "from_month": "2.5"},
        {"code": "late", "name": "Late", "from_month": late},
    ]
    assert problems_of(monthly(phases=phases)) == [("$.phases[1].from_month", "not_an_integer"), *found]


def test_every_phase_problem_is_reported_at_once():
    phases = [{"code": "X", "from_month": 2}, {"code": "X", "name": "Two", "from_month": 30}]
    assert problems_of(monthly(phases=phases, period={"type": "episode", "days": 30})) == [
        ("$.phases", "phases_not_for_episodes"),
        ("$.phases[0].code", "invalid_code"),
        ("$.phases[0].name", "required"),
        ("$.phases[0].from_month", "first_phase_start"),
        ("$.phases[1].code", "invalid_code"),
        ("$.phases[1].from_month", "too_large"),
    ]


# --- effort per phase ----------------------------------------------------------------------


def test_effort_for_an_unknown_phase():
    d = monthly()
    d["roles"][1]["by_phase"] = {"initial": {"1": effort("4", "60")}, "later": {"1": effort("1", "1")}}
    assert problems_of(d) == [("$.roles[1].by_phase.later", "unknown_phase")]


def test_effort_by_phase_without_phases_names_an_unknown_phase():
    d = monthly(phases=None)
    d["roles"][0]["by_phase"] = {"initial": {"1": effort("4", "60")}}
    assert problems_of(d) == [("$.roles[0].by_phase.initial", "unknown_phase")]


def test_a_phases_effort_is_checked_like_a_tiers():
    d = monthly()
    d["roles"][0]["by_phase"] = {"initial": {"1": effort("-1", "60"), "9": effort("1", "1")}}
    d["roles"][1]["by_phase"] = "initial"
    d["roles"][2]["by_phase"] = {"ongoing": ["1"]}
    assert problems_of(d) == [
        ("$.roles[0].by_phase.initial.1.visits_per_mm", "negative"),
        ("$.roles[0].by_phase.initial.9", "unknown_tier"),
        ("$.roles[1].by_phase", "not_an_object"),
        ("$.roles[2].by_phase.ongoing", "not_an_object"),
    ]


# --- publishing ----------------------------------------------------------------------------

NAMES = {
    "np": "Nurse practitioner",
    "rn": "Registered nurse",
    "lcsw": "Social worker",
    "chaplain": "Chaplain",
}


def publish(d: dict) -> list[tuple[str, str, str]]:
    return [
        (x.path, x.code, x.message)
        for x in publish_problems(d, required_roles=DEFAULT_REQUIRED_ROLES, role_names=NAMES)
    ]


def test_a_phased_definition_with_every_role_publishes():
    d = monthly()
    d["roles"][1]["by_phase"] = {"initial": {"1": effort("4", "60")}}
    assert publish(d) == []


def test_a_phase_that_removes_a_required_roles_effort_names_the_phase():
    d = monthly()
    d["roles"][3]["by_phase"] = {"ongoing": {"2": effort("0", "0")}}
    assert publish(d) == [
        ("$.tiers[1]", "missing_required_role", "Tier 2 has no effort from a Chaplain in phase Month 3 on.")
    ]


def test_a_phase_that_gives_a_missing_role_effort_does_not_fill_the_base():
    d = monthly()
    d["roles"][3]["by_tier"].pop("1")
    d["roles"][3]["by_phase"] = {"initial": {"1": effort("1", "0")}}
    assert publish(d) == [
        ("$.tiers[0]", "missing_required_role", "Tier 1 has no effort from a Chaplain."),
        ("$.tiers[0]", "missing_required_role", "Tier 1 has no effort from a Chaplain in phase Month 3 on."),
    ]
