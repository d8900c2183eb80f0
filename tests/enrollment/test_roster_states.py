"""The roster submission lifecycle (enrollment.states.ROSTER_SUBMISSION): every declared transition is
reachable through the services; a finished submission is never moved again; no page offers a person
any transition (a correction is a new submission)."""

from __future__ import annotations

import pytest
from django.test import Client

from core.errors import ConflictError
from enrollment import processing, services
from enrollment.models import ProcessingStatus, RosterSubmission
from enrollment.states import ROSTER_SUBMISSION
from tests.enrollment.conftest import MONTH, roster_file, roster_row
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

UNDECLARED = [
    (status, action)
    for status in ProcessingStatus.values
    for action in ROSTER_SUBMISSION.actions
    if not ROSTER_SUBMISSION.can_fire(action, status)
]


class WorkerKilled(BaseException):
    """A worker dying mid-way: nothing catches it."""


@pytest.fixture
def in_state(contract, provider_scope):
    """in_state(status) -> a submission in ``status`` through the services (queued, then processed)."""

    def make(status: str) -> RosterSubmission:
        bad = status == ProcessingStatus.REJECTED
        rows = [roster_row("M001"), roster_row("M002", tier="9" if bad else "2")]
        submission = services.roster_submit(
            scope=provider_scope, contract=contract, month=MONTH, file=roster_file(rows), run_inline=False
        )
        if status != ProcessingStatus.PROCESSING:
            submission = services.roster_process(submission_id=submission.pk)
        assert submission.status == status
        return submission

    return make


def fire(action: str, submission: RosterSubmission, monkeypatch) -> None:
    """The platform's way to ``action``: the worker processes the submission."""
    if action == "process":  # taken up, then the worker dies before anything is stored
        monkeypatch.setattr(processing, "read_and_check", _dies)
        with pytest.raises(WorkerKilled):
            services.roster_process(submission_id=submission.pk)
    elif action == "reject":  # a file that cannot be processed at all (a file with errors: see in_state)
        monkeypatch.setattr(processing, "read_and_check", _breaks)
        services.roster_process(submission_id=submission.pk)
    else:
        services.roster_process(submission_id=submission.pk)


def _dies(*args, **kwargs):
    raise WorkerKilled


def _breaks(*args, **kwargs):
    raise ValueError("unreadable")


def test_the_declaration_covers_every_status_and_offers_people_nothing():
    assert set(ROSTER_SUBMISSION.states) == set(ProcessingStatus.values)
    assert ROSTER_SUBMISSION.final_states() == {ProcessingStatus.ACCEPTED, ProcessingStatus.REJECTED}
    for status in ProcessingStatus.values:
        assert ROSTER_SUBMISSION.actions_for(status, can=lambda permission: True) == []


@pytest.mark.parametrize("status, action, target", ROSTER_SUBMISSION.moves(), ids=lambda v: str(v))
def test_every_declared_transition_is_reachable_through_the_services(
    in_state, monkeypatch, status, action, target
):
    submission = in_state(status)
    fire(action, submission, monkeypatch)
    submission.refresh_from_db()
    assert submission.status == target
    assert submission.attempts == 1


@pytest.mark.parametrize("status, action", UNDECLARED, ids=[f"{s}-{a}" for s, a in UNDECLARED])
def test_every_undeclared_transition_is_refused_and_leaves_the_submission_as_it_is(
    in_state, monkeypatch, status, action
):
    submission = in_state(status)
    before = RosterSubmission.objects.values("status", "attempts", "progress_log", "error_count").get(
        pk=submission.pk
    )
    services.roster_process(submission_id=submission.pk)
    monkeypatch.setattr(processing, "read_and_check", _breaks)
    services.roster_process(submission_id=submission.pk)
    after = RosterSubmission.objects.values("status", "attempts", "progress_log", "error_count").get(
        pk=submission.pk
    )
    assert after == before
    with pytest.raises(ConflictError):
        ROSTER_SUBMISSION.target(action, status)


@pytest.mark.parametrize("status", ProcessingStatus.values)
def test_no_page_offers_a_transition_of_a_submission(in_state, provider_admin, plan_analyst, status):
    submission = in_state(status)
    for user in (provider_admin, plan_analyst):
        client = Client()
        assert client.login(username=user.username, password=PASSWORD)
        page = client.get(f"/rosters/{submission.public_id}/")
        assert page.status_code == 200
        assert f'action="/rosters/{submission.public_id}/' not in page.content.decode()
