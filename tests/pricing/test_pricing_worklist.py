"""A pricing run with no sign of life for STALLED_AFTER is on the plan analyst's worklist (issue 16),
a fresh one is not, nor is any run of another plan's, nor for a role that cannot run pricing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from pricing.models import PricingRun
from pricing.selectors import STALLED_AFTER, stalled_run_work
from tests.factories import PayerFactory
from tests.fixtures.contracts import scope_of

pytestmark = pytest.mark.django_db


def test_a_run_quiet_for_the_threshold_is_listed_with_a_link_and_a_fresh_one_is_not(start_run, scope):
    now = timezone.now() + timedelta(hours=1)
    quiet, fresh = start_run(), start_run(seed=7)
    PricingRun.objects.filter(pk=quiet.pk).update(created_at=now - STALLED_AFTER, progress_log=[])
    PricingRun.objects.filter(pk=fresh.pk).update(
        created_at=now - STALLED_AFTER + timedelta(seconds=1), progress_log=[]
    )
    items = stalled_run_work(scope=scope, now=now)
    assert [(i.kind, i.url, i.urgent) for i in items] == [
        ("pricing_run_stalled", f"/pricing/runs/{quiet.public_id}/", True)
    ]
    PricingRun.objects.filter(pk=quiet.pk).update(status="cancelled")
    assert stalled_run_work(scope=scope, now=now) == []


def test_only_the_plans_own_runs_and_only_for_a_role_that_runs_pricing(start_run, scope, member_of):
    now = timezone.now() + timedelta(hours=1)
    start_run()
    PricingRun.objects.update(created_at=now - timedelta(hours=2), progress_log=[])
    other_plan = PayerFactory()
    other = scope_of(member_of(other_plan, Role.ANALYST), other_plan)
    auditor = scope_of(member_of(scope.organization, Role.AUDITOR), scope.organization)
    assert stalled_run_work(scope=other, now=now) == []
    assert stalled_run_work(scope=auditor, now=now) == []
    assert len(stalled_run_work(scope=scope, now=now)) == 1
