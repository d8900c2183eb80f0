"""Pricing runs: start (202), compute, read; cancel; failure shows why; same inputs -> same hash and
numbers; results immutable; idempotent and retry-safe task; the interface contracts use."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from django.db import IntegrityError, InternalError, connection, transaction

from accounts.models import Role
from bundles import services as bundle_services
from core.errors import NotFoundError
from pricing import selectors, services
from pricing.engine import ENGINE_VERSION, PricingInputError, quote
from pricing.models import PricingRun
from pricing.tasks import run_pricing
from tests.factories import PayerFactory
from tests.pricing.conftest import scope_of

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/pricing/runs/"


def body_for(bundle_version, assumption_version, **extra):
    return {
        "bundle_id": str(bundle_version.bundle.public_id),
        "bundle_version": bundle_version.number,
        "assumption_set_id": str(assumption_version.assumption_set.public_id),
        "assumption_set_version": assumption_version.number,
        "options": {"simulation_years": 2000},
        **extra,
    }


def start(client, bundle_version, assumption_version, **extra):
    return client.post(RUNS, body_for(bundle_version, assumption_version, **extra), format="json")


def execute(run_id: str) -> PricingRun:
    run = PricingRun.objects.get(public_id=run_id)
    run_pricing.apply(args=[run.pk])  # the task, in this process
    return PricingRun.objects.get(pk=run.pk)


def test_run_lifecycle_through_the_api(
    analyst_api, bundle_version, assumption_version, experience, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = start(
            analyst_api,
            bundle_version,
            assumption_version,
            experience_id=str(experience.public_id),
            markets=["URBAN", "RURAL-N"],
        )
    assert response.status_code == 202, response.json()
    accepted = response.json()
    assert accepted["status"] == "queued" and accepted["progress"] == 0
    assert accepted["status_url"] == f"{RUNS}{accepted['id']}/" == response["Location"]
    assert len(callbacks) == 1  # enqueued once, after the commit
    queued = analyst_api.get(accepted["status_url"]).json()
    assert queued["status"] == "queued" and queued["result"] is None and "report" not in queued["links"]

    run = execute(accepted["id"])
    body = analyst_api.get(accepted["status_url"]).json()
    assert body["status"] == "succeeded" and body["progress"] == 100
    assert body["engine_version"] == ENGINE_VERSION and body["inputs_hash"] == run.inputs_hash
    assert [e["progress"] for e in body["progress_log"]] == sorted(
        e["progress"] for e in body["progress_log"]
    )
    result = body["result"]
    # every rate cell: 3 tiers x 2 markets x the bundle's 2 lines of business, each with its range
    cells = {(r["tier"], r["market"], r["lob"]) for r in result["quote"]["rates"]}
    assert cells == {
        (t, m, lob) for t in "123" for m in ("URBAN", "RURAL-N") for lob in ("medicaid", "medicare_advantage")
    }
    for rate in result["quote"]["rates"]:
        assert Decimal(rate["low"]) <= Decimal(rate["pmpm"]) <= Decimal(rate["high"])
        assert Decimal(rate["pmpm_without_assessment_fee"]) > Decimal(rate["pmpm"])
        assert rate["buildup"]["roles"]["np"]["minutes"]
    assert set(result["quote"]["assessment_fee"]) == {"URBAN", "RURAL-N"}
    assert result["enrollment"]["source"] == "experience"
    assert {(b["market"], b["lob"]) for b in result["budgets"]} == {
        (m, lob) for m in ("URBAN", "RURAL-N") for lob in ("medicaid", "medicare_advantage")
    }
    assert set(result["risk"]["by_market"]) == {"URBAN", "RURAL-N"}
    margin = result["risk"]["by_market"]["URBAN"]["summary"]["provider_margin"]
    assert set(margin) == {"mean", "p5", "p50", "p95", "probability_of_loss"}
    assert len(result["comparison"]["cells"]) == 3 * 2
    assert [r["tier"] for r in result["credibility"]] == ["1", "2", "3"]
    assert {r["tier"] for r in result["benchmarks"]["by_tier"]} == {"1", "2", "3"}
    assert body["links"]["report"].endswith("/report.pdf")


def test_an_idempotency_key_replays_the_first_run(
    analyst_api, bundle_version, assumption_version, django_capture_on_commit_callbacks
):
    body = body_for(bundle_version, assumption_version, markets=["URBAN"])
    with django_capture_on_commit_callbacks() as callbacks:
        first = analyst_api.post(RUNS, body, format="json", HTTP_IDEMPOTENCY_KEY="price-1")
        again = analyst_api.post(RUNS, body, format="json", HTTP_IDEMPOTENCY_KEY="price-1")
    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert PricingRun.objects.count() == 1 and len(callbacks) == 1  # created and queued once
    other = analyst_api.post(
        RUNS, dict(body, markets=["URBAN-E"]), format="json", HTTP_IDEMPOTENCY_KEY="price-1"
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert PricingRun.objects.count() == 1


def test_the_stored_inputs_reproduce_the_stored_rates(start_run, experience):
    run = execute(start_run(experience=experience).public_id)
    inputs = run.inputs
    assert inputs["pricing_file"]["format"] == "carebundle.pricing/1"
    assert inputs["pricing_file"]["experience"]["by_tier"]["1"] == {"member_months": "210", "cost": "56000.5"}
    assert inputs["references"]["bundle"]["content_hash"] == run.bundle_version.content_hash
    assert inputs["references"]["experience"]["file_sha256"] == experience.file_sha256
    again = quote(inputs["pricing_file"], markets=inputs["markets"], lobs=inputs["lobs"])
    assert again["rates"] == run.result["quote"]["rates"]


def test_same_inputs_give_the_same_hash_and_the_same_numbers(start_run, experience):
    first = execute(start_run(experience=experience).public_id)
    second = execute(start_run(experience=experience).public_id)
    assert first.pk != second.pk
    assert (first.inputs_hash, first.seed) == (second.inputs_hash, second.seed)
    assert first.result == second.result
    other_seed = start_run(experience=experience, seed=first.seed + 1)
    assert other_seed.inputs_hash != first.inputs_hash


def test_results_are_immutable(start_run):
    run = execute(start_run().public_id)
    run.result = {**run.result, "quote": {}}
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        run.save()
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        PricingRun.objects.filter(pk=run.pk).update(inputs={"changed": True})
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        PricingRun.objects.filter(pk=run.pk).update(status="failed")
    if connection.vendor == "postgresql":  # SQLite has no delete trigger (the test flush deletes rows)
        with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
            PricingRun.objects.filter(pk=run.pk).delete()
    assert PricingRun.objects.get(pk=run.pk).result["quote"]["rates"]


def test_the_task_is_idempotent_and_a_retry_after_a_crash_recomputes_once(start_run):
    run = execute(start_run().public_id)
    result, finished = run.result, run.finished_at
    again = execute(run.public_id)  # a duplicate message for a finished run does nothing
    assert (again.result, again.finished_at, again.attempts) == (result, finished, 1)
    # a worker died mid-run: the row says running; the redelivered message recomputes from the inputs
    crashed = start_run()
    PricingRun.objects.filter(pk=crashed.pk).update(status="running", attempts=1, progress=40)
    recovered = execute(crashed.public_id)
    assert recovered.status == "succeeded" and recovered.attempts == 2
    assert recovered.result == result
    assert "Restarted after an interruption" in [e["message"] for e in recovered.progress_log]


def test_cancel_a_queued_run_and_it_never_starts(analyst_api, start_run):
    run = start_run()
    response = analyst_api.post(f"{RUNS}{run.public_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    after = execute(run.public_id)
    assert after.status == "cancelled" and after.started_at is None and after.result is None
    assert analyst_api.post(f"{RUNS}{run.public_id}/cancel/").json()["code"] == "run_finished"


def test_cancel_a_running_run_stops_it_at_the_next_step(start_run, monkeypatch, scope):
    run = start_run()
    from pricing import compute

    real_quote = compute.quote

    def quote_then_cancel(*args, **kwargs):
        services.pricing_run_cancel(
            scope=scope, run=PricingRun.objects.get(pk=run.pk)
        )  # the user clicks cancel
        return real_quote(*args, **kwargs)

    monkeypatch.setattr(compute, "quote", quote_then_cancel)
    after = execute(run.public_id)
    assert after.status == "cancelled" and after.result is None and after.started_at is not None
    assert after.progress < 100 and after.cancel_requested


def test_a_failure_shows_why(analyst_api, start_run, monkeypatch):
    from pricing import compute

    def broken(*args, **kwargs):
        raise RuntimeError("the survival curve is empty")

    monkeypatch.setattr(compute, "simulate_contract_years", broken)
    run = execute(start_run().public_id)
    body = analyst_api.get(f"{RUNS}{run.public_id}/").json()
    assert body["status"] == "failed" and body["result"] is None
    assert body["error"]["code"] == "computation_failed"
    assert body["error"]["message"] == "The computation stopped: RuntimeError: the survival curve is empty"
    assert analyst_api.get(f"{RUNS}{run.public_id}/report.pdf").status_code == 404


def test_a_run_over_its_soft_time_limit_fails_with_the_reason(analyst_api, start_run, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from pricing import compute

    def out_of_time(*args, **kwargs):
        raise SoftTimeLimitExceeded()  # what Celery raises in the task at its soft time limit

    monkeypatch.setattr(compute, "simulate_contract_years", out_of_time)
    run = execute(start_run().public_id)
    body = analyst_api.get(f"{RUNS}{run.public_id}/").json()
    assert body["status"] == "failed" and body["result"] is None and body["finished_at"]
    assert body["error"]["code"] == "time_limit"
    assert body["error"]["message"] == (
        "The computation took longer than the limit of 30 minutes for a pricing run; "
        "price fewer markets or simulate fewer years."
    )


def test_inputs_the_engine_refuses_fail_with_every_error(analyst_api, start_run, monkeypatch):
    from pricing import compute

    def refuse(document):
        raise PricingInputError(
            [{"path": "$.assumptions.productivity", "code": "out_of_range", "message": "no"}]
        )

    monkeypatch.setattr(compute, "validate_document", refuse)
    run = execute(start_run().public_id)
    assert run.status == "failed" and run.error["code"] == "invalid_inputs"
    assert run.error["details"]["errors"][0]["path"] == "$.assumptions.productivity"


def test_bad_run_parameters_are_refused_with_their_fields(analyst_api, bundle_version, assumption_version):
    response = start(
        analyst_api,
        bundle_version,
        assumption_version,
        markets=["URBAN", "MARS"],
        lobs=["dental"],
        options={"simulation_years": 10, "tier_mix": {"9": 1}, "enrollees_per_year": -1, "colour": 1},
        seed=-5,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_run"
    paths = {(e["path"], e["code"]) for e in response.json()["details"]["errors"]}
    assert paths >= {
        ("markets[1]", "unknown_market"),
        ("lobs[0]", "unknown_line_of_business"),
        ("options.simulation_years", "out_of_range"),
        ("options.tier_mix.9", "unknown_tier"),
        ("options.enrollees_per_year", "out_of_range"),
        ("options.colour", "unknown_option"),
        ("seed", "out_of_range"),
    }
    assert not PricingRun.objects.exists()


def test_a_market_without_a_wage_is_refused_with_its_path(analyst_api, scope, bundle_version):
    assumption_set = services.assumption_set_create(scope=scope, name="No navigator wage")
    draft = assumption_set.versions.get()
    assumptions = copy.deepcopy(draft.assumptions)
    del assumptions["salaries"]["chw"]
    services.assumption_draft_update(scope=scope, assumption_set=assumption_set, assumptions=assumptions)
    version = services.assumption_draft_publish(scope=scope, assumption_set=assumption_set)
    response = start(analyst_api, bundle_version, version, markets=["URBAN"])
    assert response.status_code == 400
    assert {
        "path": "$.assumptions.salaries.chw.markets.URBAN",
        "code": "market_without_wage",
        "message": "role 'chw' has no salary for market 'URBAN': give a default or a market entry",
    } in response.json()["details"]["errors"]


def test_only_published_versions_are_priced(analyst_api, scope, bundle_version, assumption_version):
    draft_set = services.assumption_set_create(scope=scope, name="Unpublished")
    response = analyst_api.post(
        RUNS,
        {
            **body_for(bundle_version, assumption_version),
            "assumption_set_id": str(draft_set.public_id),
            "assumption_set_version": None,
        },
        format="json",
    )
    assert response.status_code == 400  # null is not a version number
    response = analyst_api.post(
        RUNS,
        {
            k: v
            for k, v in body_for(bundle_version, assumption_version).items()
            if k != "assumption_set_version"
        }
        | {"assumption_set_id": str(draft_set.public_id)},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "assumptions_not_published"
    bundle_services.version_retire(scope=scope, version=bundle_version)
    response = start(analyst_api, bundle_version, assumption_version)
    assert response.status_code == 409 and response.json()["code"] == "bundle_version_not_published"


def test_an_episode_bundle_is_priced_per_episode_without_a_risk_simulation(start_run, episode_version):
    run = execute(start_run(bundle_version=episode_version, markets=["URBAN"]).public_id)
    assert run.status == "succeeded", run.error
    rate = run.result["quote"]["rates"][0]
    assert Decimal(rate["episode_rate"]) > Decimal(rate["pmpm"])
    assert run.result["risk"]["modelled"] is False


def test_rate_table_for_contracts(start_run, scope, bundle_version, member_of, plan):
    queued = start_run()
    with pytest.raises(NotFoundError):
        selectors.pricing_run_rate_table(scope=scope, run_id=queued.public_id)
    run = execute(start_run().public_id)
    table = selectors.pricing_run_rate_table(scope=scope, run_id=str(run.public_id))
    assert table["run_id"] == str(run.public_id) and table["bundle_version_id"] == bundle_version.pk
    assert len(table["rates"]) == 3 * 2 * 2
    first = table["rates"][0]
    assert set(first) == {"tier", "market", "lob", "pmpm", "low", "high"}
    assert isinstance(first["pmpm"], Decimal) and first["low"] <= first["pmpm"] <= first["high"]
    assert table["assessment_fees"] == {
        m: Decimal(f) for m, f in run.result["quote"]["assessment_fee"].items()
    }
    assert list(selectors.succeeded_runs_for_bundle_version(scope=scope, bundle_version=bundle_version)) == [
        run
    ]
    contracts_manager = scope_of(member_of(plan, Role.CONTRACT_MANAGER))
    assert selectors.pricing_run_rate_table(scope=contracts_manager, run_id=run.public_id)["rates"]
    stranger = scope_of(member_of(PayerFactory(), Role.ANALYST))
    with pytest.raises(NotFoundError):
        selectors.pricing_run_rate_table(scope=stranger, run_id=run.public_id)
    assert not selectors.succeeded_runs_for_bundle_version(
        scope=stranger, bundle_version=bundle_version
    ).exists()


def test_run_inputs_download_is_the_complete_document(analyst_api, start_run):
    run = start_run()
    body = analyst_api.get(f"{RUNS}{run.public_id}/inputs/").json()
    assert body["inputs_hash"] == run.inputs_hash
    assert set(body) >= {"pricing_file", "markets", "lobs", "seed", "options", "engine_version", "references"}


def test_list_query_count_is_constant(analyst_api, start_run, django_assert_max_num_queries):
    for _ in range(5):
        start_run()
    with django_assert_max_num_queries(6):
        response = analyst_api.get(RUNS)
    assert response.json()["count"] == 5
    assert analyst_api.get(f"{RUNS}?status=queued").json()["count"] == 5
