"""The lifecycles of assumption set versions and pricing runs (pricing.states): every declared transition
is reachable through the services; every undeclared one is refused with today's error (a finished run is
left as it is by the worker and the sweep) and never offered on the pages, which offer exactly the declared
actions the role may fire."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from core.errors import ConflictError
from pricing import services
from pricing.models import TERMINAL_STATUSES, AssumptionSetVersion, AssumptionSetVersionStatus, PricingRun
from pricing.models import PricingRunStatus as Run
from pricing.states import ASSUMPTION_SET_VERSION, PRICING_RUN
from pricing.tasks import run_pricing
from tests.factories import PASSWORD
from tests.pricing.conftest import scope_of

pytestmark = pytest.mark.django_db


def undeclared(machine, states) -> list[tuple[str, str]]:
    return [(s, a) for s in states for a in machine.actions if not machine.can_fire(a, s)]


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def html(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


# --- assumption set versions ---------------------------------------------------------------------

ASSUMPTION_REFUSALS = {  # as the API answered before the declaration existed
    "edit": ("no_draft", services.NO_DRAFT_MESSAGE),
    "publish": ("no_draft", services.NO_DRAFT_MESSAGE),
    "new_draft": ("not_published", "Start a new draft from a published version."),
}
ASSUMPTION_UNDECLARED = undeclared(ASSUMPTION_SET_VERSION, AssumptionSetVersionStatus.values)


def assumption_in_state(scope, status: str) -> AssumptionSetVersion:
    assumption_set = services.assumption_set_create(scope=scope, name=f"Set {status}")
    if status == AssumptionSetVersionStatus.PUBLISHED:
        return services.assumption_draft_publish(scope=scope, assumption_set=assumption_set)
    return assumption_set.versions.get()


def fire_on_assumptions(scope, action: str, version: AssumptionSetVersion):
    assumption_set = version.assumption_set
    return {
        "edit": lambda: services.assumption_draft_update(
            scope=scope, assumption_set=assumption_set, assumptions=version.assumptions
        ),
        "publish": lambda: services.assumption_draft_publish(scope=scope, assumption_set=assumption_set),
        "new_draft": lambda: services.assumption_version_new_draft(scope=scope, version=version),
    }[action]()


def offered_on_assumptions(client: Client, version: AssumptionSetVersion) -> set[str]:
    base = f"/pricing/assumptions/{version.assumption_set.public_id}/"
    label = version.number or "draft"
    page = html(client, f"{base}?version={label}")
    if version.is_draft:
        editor = client.get(f"{base}draft/")
        page += editor.content.decode() if editor.status_code == 200 else ""
    markers = {
        "edit": f'href="{base}draft/"',
        "publish": 'name="publish"',
        "new_draft": f'action="{base}versions/{label}/new-draft/"',
    }
    return {action for action, marker in markers.items() if marker in page}


def test_the_assumption_set_declaration_covers_every_status():
    assert set(ASSUMPTION_SET_VERSION.states) == set(AssumptionSetVersionStatus.values)


@pytest.mark.parametrize("status, action, target", ASSUMPTION_SET_VERSION.moves(), ids=lambda v: str(v))
def test_every_declared_assumption_transition_is_reachable_through_the_services(
    scope, status, action, target
):
    version = assumption_in_state(scope, status)
    fire_on_assumptions(scope, action, version)
    version.refresh_from_db()
    assert version.status == target
    if action == "new_draft":
        assert version.assumption_set.versions.get(status="draft").based_on_id == version.pk


@pytest.mark.parametrize(
    "status, action", ASSUMPTION_UNDECLARED, ids=[f"{s}-{a}" for s, a in ASSUMPTION_UNDECLARED]
)
def test_every_undeclared_assumption_transition_is_refused_and_not_offered(scope, analyst, status, action):
    version = assumption_in_state(scope, status)
    with pytest.raises(ConflictError) as caught:
        fire_on_assumptions(scope, action, version)
    assert (caught.value.code, caught.value.message) == ASSUMPTION_REFUSALS[action]
    version.refresh_from_db()
    assert version.status == status
    assert action not in offered_on_assumptions(logged_in(analyst), version)


@pytest.mark.parametrize("status", AssumptionSetVersionStatus.values)
def test_the_assumption_pages_offer_exactly_the_declared_actions_the_role_may_fire(
    scope, analyst, plan, member_of, status
):
    version = assumption_in_state(scope, status)
    expected = set(ASSUMPTION_SET_VERSION.actions_for(status, can=scope.can))
    assert expected
    assert offered_on_assumptions(logged_in(analyst), version) == expected
    auditor = member_of(plan, Role.AUDITOR)
    assert ASSUMPTION_SET_VERSION.actions_for(status, can=scope_of(auditor).can) == []
    assert offered_on_assumptions(logged_in(auditor), version) == set()


# --- pricing runs --------------------------------------------------------------------------------

RUN_UNDECLARED = undeclared(PRICING_RUN, Run.values)


def later() -> timezone.datetime:
    return timezone.now() + timedelta(hours=1)


def sweep() -> None:
    with mock.patch.object(run_pricing, "delay"):
        services.pricing_runs_requeue_stalled(now=later())


def running(run: PricingRun, **fields) -> PricingRun:
    """The row a worker leaves when it dies mid-way (only a worker can be caught in the act)."""
    PricingRun.objects.filter(pk=run.pk).update(
        status=Run.RUNNING, attempts=1, started_at=timezone.now(), **fields
    )
    return PricingRun.objects.get(pk=run.pk)


def lost(run: PricingRun) -> PricingRun:
    """A run no worker survives: every attempt used and no sign of life for longer than the sweep waits."""
    PricingRun.objects.filter(pk=run.pk).update(
        attempts=services.MAX_ATTEMPTS,
        created_at=timezone.now() - timedelta(hours=1),
        started_at=None,
        progress_log=[],
    )
    return PricingRun.objects.get(pk=run.pk)


@pytest.fixture
def run_in_state(start_run, scope):
    """run_in_state(status) -> a run in ``status`` through the services (running: as a dead worker left it)."""

    def make(status: str) -> PricingRun:
        run = start_run(markets=["URBAN"], options={"simulation_years": 1000})
        if status == Run.RUNNING:
            run = running(run)
        elif status == Run.SUCCEEDED:
            run = services.pricing_run_execute(run_id=run.pk)
        elif status == Run.CANCELLED:
            run = services.pricing_run_cancel(scope=scope, run=run)
        elif status == Run.FAILED:
            lost(run)
            sweep()
            run.refresh_from_db()
        assert run.status == status
        return run

    return make


def offered_on_run(client: Client, run: PricingRun, path: str = "") -> set[str]:
    page = html(client, f"/pricing/runs/{run.public_id}/{path}")
    return {"cancel"} if f'action="/pricing/runs/{run.public_id}/cancel/"' in page else set()


def messages(run: PricingRun) -> list[str]:
    return [entry["message"] for entry in run.progress_log]


# How each declared move is reached; what it leaves behind is checked after it.
REACH_RUN = {
    (Run.QUEUED, "start"): lambda scope, run: services.pricing_run_execute(run_id=run.pk),
    (Run.RUNNING, "restart"): lambda scope, run: services.pricing_run_execute(run_id=run.pk),
    (Run.RUNNING, "succeed"): lambda scope, run: services.pricing_run_execute(run_id=run.pk),
    (Run.QUEUED, "fail"): lambda scope, run: (lost(run), sweep()),
    (Run.RUNNING, "fail"): lambda scope, run: (lost(run), sweep()),
    (Run.QUEUED, "cancel"): lambda scope, run: services.pricing_run_cancel(scope=scope, run=run),
    (Run.RUNNING, "cancel"): lambda scope, run: services.pricing_run_cancel(scope=scope, run=run),
    (Run.QUEUED, "stop"): lambda scope, run: (
        PricingRun.objects.filter(pk=run.pk).update(cancel_requested=True),  # a cancel in flight
        services.pricing_run_execute(run_id=run.pk),
    ),
    (Run.RUNNING, "stop"): lambda scope, run: (
        services.pricing_run_cancel(scope=scope, run=run),
        services.pricing_run_execute(run_id=run.pk),
    ),
}


def test_every_declared_run_transition_has_a_way_to_reach_it():
    assert set(REACH_RUN) == {(status, action) for status, action, _ in PRICING_RUN.moves()}
    assert PRICING_RUN.final_states() == TERMINAL_STATUSES
    assert set(PRICING_RUN.states) == set(Run.values)


@pytest.mark.parametrize("status, action, target", PRICING_RUN.moves(), ids=lambda v: str(v))
def test_every_declared_run_transition_is_reachable_through_the_services(
    run_in_state, scope, status, action, target
):
    run = run_in_state(status)
    REACH_RUN[(status, action)](scope, run)
    run.refresh_from_db()
    if action == "start":  # then computed to the end: the move shows in the log it wrote
        assert "Started" in messages(run) and run.started_at is not None and run.status == Run.SUCCEEDED
    elif action == "restart":
        assert "Restarted after an interruption" in messages(run) and run.attempts == 2
    elif action == "cancel" and target == Run.RUNNING:
        assert run.status == Run.RUNNING and run.cancel_requested
        assert messages(run)[-1] == "Cancelling at the next step"
    else:
        assert run.status == target


@pytest.mark.parametrize("status, action", RUN_UNDECLARED, ids=[f"{s}-{a}" for s, a in RUN_UNDECLARED])
def test_every_undeclared_run_transition_is_refused_and_not_offered(
    run_in_state, scope, analyst, status, action
):
    run = run_in_state(status)
    with pytest.raises(ConflictError):
        PRICING_RUN.target(action, status)  # the services move a run only through the declaration
    if action == "cancel":
        with pytest.raises(ConflictError) as caught:
            services.pricing_run_cancel(scope=scope, run=run)
        assert (caught.value.code, caught.value.message) == ("run_finished", services.RUN_FINISHED_MESSAGE)
    if status in TERMINAL_STATUSES:  # neither the worker nor the sweep moves a finished run
        before = PricingRun.objects.values("status", "attempts", "progress_log", "finished_at").get(pk=run.pk)
        services.pricing_run_execute(run_id=run.pk)
        sweep()
        assert (
            PricingRun.objects.values("status", "attempts", "progress_log", "finished_at").get(pk=run.pk)
            == before
        )
    run.refresh_from_db()
    assert run.status == status
    assert action not in offered_on_run(logged_in(analyst), run)


@pytest.mark.parametrize("status", Run.values)
def test_the_run_page_offers_exactly_the_declared_actions_the_role_may_fire(
    run_in_state, scope, analyst, plan, member_of, status
):
    run = run_in_state(status)
    expected = set(PRICING_RUN.actions_for(status, can=scope.can))
    assert expected == ({"cancel"} if status in (Run.QUEUED, Run.RUNNING) else set())
    assert offered_on_run(logged_in(analyst), run) == expected
    assert offered_on_run(logged_in(analyst), run, "progress/") == expected  # the polled part of the page
    auditor = member_of(plan, Role.AUDITOR)
    assert PRICING_RUN.actions_for(status, can=scope_of(auditor).can) == []
    assert offered_on_run(logged_in(auditor), run) == set()
