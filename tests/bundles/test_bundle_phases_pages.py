"""Phases of enrollment in the bundle pages: the editor's phases section, the effort grid per phase,
and the version page's phases."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.tenancy import resolve_scope
from bundles import services
from bundles.demo import episode_definition
from bundles.models import BundleVersion
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PHASES = [
    {"code": "initial", "name": "Months 1-2", "from_month": 1},
    {"code": "ongoing", "name": "Month 3 on", "from_month": 3},
]


@pytest.fixture
def client(analyst):
    client = Client()
    assert client.login(username=analyst.username, password=PASSWORD)
    return client


@pytest.fixture
def draft_bundle(analyst, complete_definition):
    return services.bundle_create(scope=resolve_scope(analyst), definition=complete_definition)


@pytest.fixture
def phased_bundle(analyst, complete_definition):
    complete_definition["phases"] = PHASES
    # the RN visits the first two months twice as often in tier 1
    complete_definition["roles"][2]["by_phase"] = {
        "initial": {"1": {"visits_per_mm": "2", "coordination_minutes_per_mm": "60"}}
    }
    return services.bundle_create(scope=resolve_scope(analyst), definition=complete_definition)


def draft_of(bundle) -> dict:
    return BundleVersion.objects.get(bundle=bundle, status="draft").definition


def phases_form(phases: list[dict], **extra) -> dict:
    return {
        "old_code": [p["code"] for p in phases],
        "code": [p["code"] for p in phases],
        "name": [p["name"] for p in phases],
        "from_month": [str(p["from_month"]) for p in phases],
        **extra,
    }


def test_the_editor_has_a_phases_section_and_splitting_starts_two_phases(client, draft_bundle):
    url = f"/bundles/{draft_bundle.public_id}/draft/"
    page = client.get(url).content.decode()
    assert "Phases of enrollment" in page and "Split enrollment into phases" in page
    assert 'data-testid="grid-phases"' not in page  # no phase switch without phases
    response = client.post(url + "phases/", {"action": "split"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="editor-phases"' in body and "<html" not in body
    # the grid follows, out of band, with its phase switch
    assert 'id="grid-editor"' in body and 'hx-swap-oob="true"' in body and "Months 1-2" in body
    assert draft_of(draft_bundle)["phases"] == PHASES


def test_add_edit_and_remove_a_phase(client, phased_bundle):
    url = f"/bundles/{phased_bundle.public_id}/draft/phases/"
    response = client.post(
        url,
        phases_form(PHASES, action="add", new_code="late", new_name="Month 7 on", new_from_month="7"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert [p["code"] for p in draft_of(phased_bundle)["phases"]] == ["initial", "ongoing", "late"]
    assert draft_of(phased_bundle)["phases"][2] == {"code": "late", "name": "Month 7 on", "from_month": 7}

    # edit: rename a phase (its effort follows the new code) and move a start
    edited = [
        {"code": "first", "name": "Months 1-3", "from_month": 1},
        {"code": "ongoing", "name": "Month 4 on", "from_month": 4},
        {"code": "late", "name": "Month 7 on", "from_month": 7},
    ]
    form = phases_form(edited)
    form["old_code"] = ["initial", "ongoing", "late"]
    assert client.post(url, form, HTTP_HX_REQUEST="true").status_code == 200
    d = draft_of(phased_bundle)
    assert d["phases"] == edited
    assert d["roles"][2]["by_phase"] == {
        "first": {"1": {"visits_per_mm": "2", "coordination_minutes_per_mm": "60"}}
    }

    # remove a phase: its effort goes with it
    response = client.post(url, {**phases_form(edited), "remove": "first"}, HTTP_HX_REQUEST="true")
    # what is left starts at month 4: an error, shown in place, nothing saved
    assert response.status_code == 422
    assert "The first phase starts at month 1." in response.content.decode()
    assert draft_of(phased_bundle)["phases"] == edited
    response = client.post(url, {**phases_form(edited), "remove": "late"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert [p["code"] for p in draft_of(phased_bundle)["phases"]] == ["first", "ongoing"]


def test_removing_a_phase_removes_its_effort(client, phased_bundle):
    url = f"/bundles/{phased_bundle.public_id}/draft/phases/"
    three = [*PHASES, {"code": "late", "name": "Month 7 on", "from_month": 7}]
    client.post(url, phases_form(PHASES, action="add", new_code="late", new_name="Late", new_from_month="7"))
    assert client.post(url, {**phases_form(three), "remove": "initial"}).status_code == 400  # ongoing from 3
    client.post(url, {**phases_form(three), "remove": "ongoing"})
    d = draft_of(phased_bundle)
    assert [p["code"] for p in d["phases"]] == ["initial", "late"]
    assert d["roles"][2]["by_phase"]["initial"]["1"]["visits_per_mm"] == "2"


def test_turning_phases_off_removes_them_and_every_phase_effort(client, phased_bundle):
    url = f"/bundles/{phased_bundle.public_id}/draft/phases/"
    page = client.get(f"/bundles/{phased_bundle.public_id}/draft/").content.decode()
    assert 'data-confirm="Turn phases off?' in page
    response = client.post(url, {"action": "off"})
    assert response.status_code == 302
    d = draft_of(phased_bundle)
    assert "phases" not in d and all("by_phase" not in r for r in d["roles"])
    assert d["roles"][2]["by_tier"]["1"] == {"visits_per_mm": "1", "coordination_minutes_per_mm": "30"}


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"from_month": ["1", "0"]}, "$.phases[1].from_month", "Must be at least 1."),
        (
            {"code": ["initial", "initial"]},
            "$.phases[1].code",
            "Phase code &#x27;initial&#x27; is used twice.",
        ),
        ({"from_month": ["1", "1"]}, "$.phases[1].from_month", "A phase starts after the one before it"),
        ({"name": ["Months 1-2", " "]}, "$.phases[1].name", "Each phase needs a name."),
        ({"from_month": ["1", "x"]}, "$.phases[1].from_month", "is not a number"),
    ],
)
def test_an_invalid_phase_shows_its_error_in_place_and_saves_nothing(
    client, phased_bundle, change, path, message
):
    before = draft_of(phased_bundle)
    response = client.post(
        f"/bundles/{phased_bundle.public_id}/draft/phases/",
        {**phases_form(PHASES), **change},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert path in body and message in body and 'aria-invalid="true"' in body
    assert 'id="grid-editor"' not in body  # the grid stays as it was saved
    assert draft_of(phased_bundle) == before


def test_a_phase_added_alone_asks_for_a_second(client, draft_bundle):
    response = client.post(
        f"/bundles/{draft_bundle.public_id}/draft/phases/",
        {"action": "add", "new_code": "initial", "new_name": "First", "new_from_month": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert (
        response.status_code == 422 and "Phases split enrollment in two or more" in response.content.decode()
    )
    assert "phases" not in draft_of(draft_bundle)


def test_phases_on_an_episode_bundle_show_the_validation_error(client, analyst):
    bundle = services.bundle_create(scope=resolve_scope(analyst), definition=episode_definition())
    response = client.post(
        f"/bundles/{bundle.public_id}/draft/phases/", {"action": "split"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "An episode bundle pays one case rate: no phases." in body and "$.phases" in body
    assert "phases" not in draft_of(bundle)


def test_the_grid_switches_to_a_phase_and_shows_inherited_cells(client, phased_bundle):
    url = f"/bundles/{phased_bundle.public_id}/draft/"
    page = client.get(url).content.decode()
    assert 'data-testid="grid-phases"' in page and "Base effort" in page
    assert 'id="v-rn-1"' in page and 'id="v-initial-rn-1"' not in page
    grid = client.get(url + "?phase=initial", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="grid-editor")
    body = grid.content.decode()
    assert grid.status_code == 200 and "<html" not in body and 'id="grid-editor"' in body
    # the phase's own effort, editable
    assert re.search(r'<td id="td-v-initial-rn-1"><input id="v-initial-rn-1" name="value" value="2"', body)
    # a tier the phase leaves alone: empty, the base effort as its placeholder
    assert re.search(
        r'<td id="td-v-initial-rn-2" class="inherited"><input id="v-initial-rn-2" name="value" value=""[^>]*'
        r'aria-label="Registered nurse tier 2 visits per member-month in phase initial '
        r'\(inherits 2 from the base effort\)" placeholder="2"',
        body,
    )
    # totals are the phase's: tier 1 RN goes from 1x60+30 to 2x60+60 minutes
    base_total = client.get(url).content.decode()
    assert _total(body, "1") - _total(base_total, "1") == pytest.approx(90)
    # an unknown phase shows the base effort
    assert 'id="v-rn-1"' in client.get(url + "?phase=nope").content.decode()


def _total(page: str, tier: str) -> float:
    return float(re.search(rf'data-testid="total-{tier}">([\d.]+)<', page).group(1))


def test_editing_a_phase_cell_writes_by_phase_and_leaves_by_tier_alone(client, phased_bundle):
    url = f"/bundles/{phased_bundle.public_id}/draft/cell/"
    before = draft_of(phased_bundle)
    response = client.post(
        url,
        {"role": "lcsw", "tier": "2", "phase": "ongoing", "field": "visits_per_mm", "value": "0.5"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="td-v-ongoing-lcsw-2"' in body and 'value="0.5"' in body and 'class="inherited"' not in body
    assert 'hx-swap-oob="true"' in body
    d = draft_of(phased_bundle)
    lcsw = d["roles"][3]
    # the field not edited starts from the base effort
    assert lcsw["by_phase"] == {
        "ongoing": {"2": {"visits_per_mm": "0.5", "coordination_minutes_per_mm": "30"}}
    }
    assert [r["by_tier"] for r in d["roles"]] == [r["by_tier"] for r in before["roles"]]
    # a second edit changes that field only
    client.post(
        url,
        {
            "role": "lcsw",
            "tier": "2",
            "phase": "ongoing",
            "field": "coordination_minutes_per_mm",
            "value": "10",
        },
    )
    assert draft_of(phased_bundle)["roles"][3]["by_phase"]["ongoing"]["2"] == {
        "visits_per_mm": "0.5",
        "coordination_minutes_per_mm": "10",
    }


def test_clearing_a_phase_cell_removes_the_override(client, phased_bundle):
    url = f"/bundles/{phased_bundle.public_id}/draft/cell/"
    response = client.post(
        url,
        {"role": "rn", "tier": "1", "phase": "initial", "field": "visits_per_mm", "value": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="inherited"' in body and 'placeholder="1"' in body
    rn = draft_of(phased_bundle)["roles"][2]
    assert "by_phase" not in rn and rn["by_tier"]["1"]["visits_per_mm"] == "1"


def test_a_bad_phase_cell_shows_its_error_in_place_and_saves_nothing(client, phased_bundle):
    before = draft_of(phased_bundle)
    response = client.post(
        f"/bundles/{phased_bundle.public_id}/draft/cell/",
        {"role": "rn", "tier": "1", "phase": "initial", "field": "visits_per_mm", "value": "-1"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert 'id="v-initial-rn-1"' in body and 'aria-invalid="true"' in body and "Must be at least 0." in body
    assert draft_of(phased_bundle) == before


def test_removing_a_tier_removes_it_from_each_phase(client, phased_bundle):
    d = draft_of(phased_bundle)
    tiers = d["tiers"]
    client.post(
        f"/bundles/{phased_bundle.public_id}/draft/tiers/",
        {
            "code": [t["code"] for t in tiers],
            "name": [t["name"] for t in tiers],
            "description": [t["description"] for t in tiers],
            "remove": "1",
        },
    )
    assert "by_phase" not in draft_of(phased_bundle)["roles"][2]


def test_the_version_page_shows_each_phase_and_its_minutes(client, analyst, phased_bundle):
    services.draft_publish(scope=resolve_scope(analyst), bundle=phased_bundle)
    page = client.get(f"/bundles/{phased_bundle.public_id}/v/1/").content.decode()
    assert "Phases of enrollment" in page and 'data-testid="phases"' in page
    assert re.search(
        r"<td>Months 1-2</td><td><code>initial</code></td><td class=\"num\">1</td><td class=\"num\">2</td>",
        page,
    )
    assert re.search(
        r"<td>Month 3 on</td><td><code>ongoing</code></td><td class=\"num\">3</td><td class=\"num\">on</td>",
        page,
    )
    assert "Minutes per member-month in phase Months 1-2" in page
    base, initial, ongoing = (_total(page, t) for t in ("1", "initial-1", "ongoing-1"))
    assert initial - base == pytest.approx(90) and ongoing == base
    assert _total(page, "initial-2") == _total(page, "2")


def test_the_version_page_has_no_phases_section_without_phases(client, draft_bundle):
    page = client.get(f"/bundles/{draft_bundle.public_id}/v/draft/").content.decode()
    assert "Phases of enrollment" not in page


def test_the_version_page_with_phases_needs_no_more_queries(
    client, analyst, draft_bundle, phased_bundle, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as unphased:
        client.get(f"/bundles/{draft_bundle.public_id}/v/draft/")
    with django_assert_num_queries(len(unphased.captured_queries)):
        response = client.get(f"/bundles/{phased_bundle.public_id}/v/draft/")
    assert "Phases of enrollment" in response.content.decode()


def test_the_diff_describes_a_phase_change(client, analyst, phased_bundle):
    services.draft_publish(scope=resolve_scope(analyst), bundle=phased_bundle)
    client.post(f"/bundles/{phased_bundle.public_id}/v/1/new-draft/")
    client.post(
        f"/bundles/{phased_bundle.public_id}/draft/cell/",
        {"role": "rn", "tier": "1", "phase": "initial", "field": "visits_per_mm", "value": "3"},
    )
    page = client.get(f"/bundles/{phased_bundle.public_id}/v/draft/diff/").content.decode()
    assert "Registered nurse visits per member-month, Tier 1, in phase Months 1-2" in page
