"""Due days: the e-mail reminder a few days before a missing roster is due, lateness after it, and the
beat entries that run both every day."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core import mail

from accounts.models import Role
from enrollment import calc, services, tasks
from enrollment.models import RosterMonth
from tests.enrollment.conftest import MONTH, roster_file, roster_row

pytestmark = pytest.mark.django_db


def test_beat_runs_the_reminders_and_the_lateness_daily():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["enrollment-roster-reminders"]["task"] == tasks.send_roster_reminders.name
    assert schedule["enrollment-mark-late"]["task"] == tasks.mark_late_rosters.name
    assert schedule["enrollment-mark-late"]["schedule"] == 60 * 60 * 24


def test_due_date_is_the_contracts_day_of_the_following_month():
    assert services.due_date_for(dt.date(2026, 1, 1), 10) == dt.date(2026, 2, 10)
    assert services.due_date_for(dt.date(2026, 1, 1), 31) == dt.date(2026, 2, 28)


def test_providers_are_reminded_a_few_days_before_a_missing_roster_is_due(
    contract, provider, member_of, provider_admin
):
    provider_admin.email = "admin@program.example"
    provider_admin.save()
    submitter = member_of(provider, Role.SUBMITTER)
    submitter.email = "submitter@program.example"
    submitter.save()
    auditor = member_of(provider, Role.AUDITOR)
    auditor.email = "auditor@program.example"
    auditor.save()
    due = services.due_date_for(MONTH, 10)  # the 10th of this month
    assert services.roster_reminders_send(today=due - dt.timedelta(days=5)) == []
    sent = services.roster_reminders_send(today=due - dt.timedelta(days=3))
    assert sent == [f"{contract.number} {MONTH:%Y-%m}"]
    (message,) = mail.outbox
    assert sorted(message.to) == ["admin@program.example", "submitter@program.example"]
    assert contract.number in message.subject and f"{MONTH:%B %Y}" in message.body
    assert services.roster_reminders_send(today=due - dt.timedelta(days=2)) == []  # once a month
    assert len(mail.outbox) == 1
    assert RosterMonth.objects.get(contract=contract, month=MONTH).reminder_sent_at is not None


def test_no_reminder_when_the_roster_is_in(contract, provider_scope, provider_admin):
    provider_admin.email = "admin@program.example"
    provider_admin.save()
    services.roster_submit(
        scope=provider_scope, contract=contract, month=MONTH, file=roster_file([roster_row("M1")])
    )
    assert services.roster_reminders_send(today=services.due_date_for(MONTH, 10) - dt.timedelta(days=1)) == []
    assert mail.outbox == []


def test_months_past_their_due_day_without_an_accepted_roster_are_marked_late(contract, provider_scope):
    due = services.due_date_for(MONTH, 10)
    label = f"{contract.number} {MONTH:%Y-%m}"
    assert label not in services.roster_months_mark_late(today=due)  # on the due day it is not late yet
    assert RosterMonth.objects.get(
        contract=contract, month=calc.add_months(MONTH, -1)
    ).late  # earlier: missing
    marked = services.roster_months_mark_late(today=due + dt.timedelta(days=1))
    assert label in marked
    assert RosterMonth.objects.get(contract=contract, month=MONTH).late is True
    assert services.roster_months_mark_late(today=due + dt.timedelta(days=2)) == []  # idempotent


def test_a_roster_sent_after_the_due_day_is_late_and_one_sent_before_is_not(contract, provider_scope):
    due = services.due_date_for(MONTH, 10)
    on_time = services.roster_submit(
        scope=provider_scope, contract=contract, month=MONTH, file=roster_file([roster_row("M1")]), today=due
    )
    late = services.roster_submit(
        scope=provider_scope,
        contract=contract,
        month=calc.add_months(MONTH, -1),
        file=roster_file([roster_row("M1")]),
        today=due,
    )
    assert (on_time.late, on_time.due_date) == (False, due)
    assert late.late is True
    marked = services.roster_months_mark_late(today=due + dt.timedelta(days=1))
    assert f"{contract.number} {MONTH:%Y-%m}" not in marked
    assert (
        f"{contract.number} {calc.add_months(MONTH, -1):%Y-%m}" in marked
    )  # accepted, but after its due day
