"""seed_demo's enrollment step: the plan's eligibility file and three months of rosters per provider."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from enrollment import calc
from enrollment.models import Assessment, EligibilityFile, RosterSubmission

pytestmark = pytest.mark.django_db


def test_demo_seeds_eligibility_rosters_and_assessments_once(settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    counts = (EligibilityFile.objects.count(), RosterSubmission.objects.count(), Assessment.objects.count())
    assert EligibilityFile.objects.get().status == "accepted"
    first_month = calc.add_months(timezone.localdate().replace(day=1), -3)
    if first_month.year < timezone.localdate().year:  # the demo contracts start on January 1st
        return
    current = RosterSubmission.objects.filter(is_current=True)
    assert current.count() == 6  # 3 months x 2 providers
    assert RosterSubmission.objects.filter(status="rejected").count() == 1
    assert all(20 <= s.member_count <= 40 for s in current)
    assert RosterSubmission.objects.filter(diff__added=1).exists()  # the resubmission that adds a member
    assert Assessment.objects.filter(payable=False, reason="second_in_lookback").count() == 2
    entries = {e.disenrollment_reason for s in current for e in s.entries.all()}
    assert {"death", "hospice"} <= entries
    assert any(
        s.entries.values("member_id").distinct().count() < s.entries.count() for s in current
    )  # tier change
    call_command("seed_demo", verbosity=0)
    assert (
        EligibilityFile.objects.count(),
        RosterSubmission.objects.count(),
        Assessment.objects.count(),
    ) == counts
