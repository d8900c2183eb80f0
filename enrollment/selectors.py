"""Reads of enrollment, scoped to the user's organisation, and the two reads payments builds on.

A provider sees its own contracts' submissions; the plan sees every provider's submissions on its
contracts (both through ``RosterSubmission.tenant_filter``). Eligibility files are the plan's own.

For the payments engine (not scoped: the caller already holds a contract it may see):

- :func:`payable_member_months` and :func:`payable_assessments` read the **current** accepted
  version of a contract's roster for a month;
- :func:`current_submission` is that version itself (or ``None``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from urllib.parse import urlencode

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.urls import reverse
from django.utils import timezone

from accounts.tenancy import Scope, get_scoped_or_404, scoped
from bundles.phases import Phase, phase_cutoffs
from contracts.models import Contract
from contracts.selectors import activated_versions, contract_get, in_force_among
from core.domain import codes
from core.domain.months import shift_month
from core.errors import uuid_or_404
from core.worklist import WorkItem
from enrollment import schedule
from enrollment.models import (
    Assessment,
    EligibilityFile,
    ExitStatus,
    MemberExit,
    MemberMonth,
    ProcessingStatus,
    RosterEntry,
    RosterMonth,
    RosterSubmission,
    Severity,
    SubmissionIssue,
)
from enrollment.processing import ELIGIBILITY_MISMATCH

HEAVY_FIELDS = ("summary", "diff", "progress_log")


def contract_for_rosters(*, scope: Scope, contract_id) -> Contract:
    """A contract the scope's organisation is party to (UUID or number), else 404."""
    scope.require("roster.view")
    return contract_get(scope=scope, contract_id=contract_id)


def submission_list(
    *,
    scope: Scope,
    contract: Contract | None = None,
    month: date | None = None,
    status: str = "",
    late: bool | None = None,
    current_only: bool = False,
) -> QuerySet[RosterSubmission]:
    """Submissions newest month first, with their contract's parties, in a constant number of queries."""
    scope.require("roster.view")
    submissions = scoped(
        RosterSubmission.objects.select_related(
            "contract__payer", "contract__provider", "submitted_by"
        ).defer(*HEAVY_FIELDS),
        scope,
    )
    if contract is not None:
        submissions = submissions.filter(contract=contract)
    if month is not None:
        submissions = submissions.filter(month=month)
    if status:
        submissions = submissions.filter(status=status)
    if late is not None:
        submissions = submissions.filter(late=late)
    if current_only:
        submissions = submissions.filter(is_current=True)
    return submissions.order_by("-month", "contract__number", "-version")


def submission_get(*, scope: Scope, public_id) -> RosterSubmission:
    """Another organisation's submission and a missing one are both 404 (looked up before the role)."""
    submission = get_scoped_or_404(
        RosterSubmission.objects.select_related(
            "contract__payer", "contract__provider", "submitted_by", "previous"
        ),
        scope,
        public_id=uuid_or_404(public_id),
    )
    scope.require("roster.view")
    return submission


def submission_status_get(*, scope: Scope, public_id) -> RosterSubmission:
    """The submission without its member data (what a progress bar polls)."""
    submission = get_scoped_or_404(
        RosterSubmission.objects.only(
            "public_id",
            "status",
            "progress",
            "progress_message",
            "contract_id",
            "month",
            "version",
            "error_count",
            "warning_count",
            "member_count",
        ),
        scope,
        public_id=uuid_or_404(public_id),
    )
    scope.require("roster.view")
    return submission


def versions_of(*, submission: RosterSubmission) -> QuerySet[RosterSubmission]:
    """Every version of the submission's contract and month, newest first."""
    return (
        RosterSubmission.objects.filter(contract_id=submission.contract_id, month=submission.month)
        .select_related("submitted_by")
        .defer(*HEAVY_FIELDS)
        .order_by("-version")
    )


def issue_list(*, submission: RosterSubmission, severity: str = "") -> QuerySet[SubmissionIssue]:
    issues = SubmissionIssue.objects.filter(submission=submission)
    if severity:
        issues = issues.filter(severity=severity)
    return issues.order_by("severity", "source", "row", "pk")


def shows_plan_detail(*, scope: Scope, submission: RosterSubmission) -> bool:
    """Whether ``scope`` reads the issues' ``plan_detail`` (what the plan holds about its members): the
    plan of the submission's contract does; the provider who sent it never does."""
    return scope.organization.pk == submission.contract.payer_id


def errors_of(submission: RosterSubmission) -> QuerySet[SubmissionIssue]:
    return issue_list(submission=submission, severity=Severity.ERROR)


def warnings_of(submission: RosterSubmission) -> QuerySet[SubmissionIssue]:
    return issue_list(submission=submission, severity=Severity.WARNING)


def entry_list(*, submission: RosterSubmission, search: str = "") -> QuerySet[RosterEntry]:
    """The accepted roster rows (PHI: the caller records the access), each with the member's recorded
    ``date_of_death`` (``None`` when none is recorded)."""
    deaths = MemberExit.objects.filter(
        payer_id=submission.contract.payer_id,
        member_id=OuterRef("member_id"),
        reason=codes.DEATH,
        status=ExitStatus.RECORDED,
    ).values("exit_date")[:1]
    entries = RosterEntry.objects.filter(submission=submission).annotate(date_of_death=Subquery(deaths))
    if search:
        entries = entries.filter(Q(member_id__icontains=search) | Q(last_name__icontains=search))
    return entries.order_by("member_id", "tier_start", "row")


def exits_reported(*, submission: RosterSubmission) -> QuerySet[MemberExit]:
    """The deaths and hospice transfers a roster reported (a hospice transfer once per bundle of the
    contract)."""
    return MemberExit.objects.filter(submission=submission).order_by("member_id", "pk")


def member_month_list(*, submission: RosterSubmission) -> QuerySet[MemberMonth]:
    return MemberMonth.objects.filter(submission=submission).order_by("member_id")


def assessment_search(
    *,
    scope: Scope,
    contract: Contract | None = None,
    month: date | None = None,
    payable: bool | None = None,
    member_id: str = "",
) -> QuerySet[Assessment]:
    """The initial assessments of the rosters in force (the current accepted version of each contract
    and month) across the contracts the organisation is party to, newest first, each payable or not
    with its reason; with the contract and the roster in the same query."""
    scope.require("roster.view")
    assessments = scoped(
        Assessment.objects.filter(submission__is_current=True).select_related(
            "contract__provider", "contract__payer", "submission"
        ),
        scope,
    )
    if contract is not None:
        assessments = assessments.filter(contract=contract)
    if month is not None:
        assessments = assessments.filter(submission__month=month)
    if payable is not None:
        assessments = assessments.filter(payable=payable)
    if member_id:
        assessments = assessments.filter(member_id__iexact=member_id.strip())
    return assessments.order_by("-assessment_date", "contract__number", "member_id", "pk")


def assessment_list(*, submission: RosterSubmission, payable: bool | None = None) -> QuerySet[Assessment]:
    assessments = Assessment.objects.filter(submission=submission)
    if payable is not None:
        assessments = assessments.filter(payable=payable)
    return assessments.order_by("assessment_date", "row")


def roster_month_list(*, scope: Scope, late: bool | None = None) -> QuerySet[RosterMonth]:
    """Contract months with a roster or a due date passed (lateness), newest first."""
    scope.require("roster.view")
    months = scoped(RosterMonth.objects.select_related("contract__payer", "contract__provider"), scope)
    if late is not None:
        months = months.filter(late=late)
    return months.order_by("-month", "contract__number")


def submittable_contracts(*, scope: Scope) -> QuerySet[Contract]:
    """The provider's contracts a roster can be sent for (in force at some time: activated), with their
    activated versions (``contract.activated``) for :func:`roster_months_allowed`."""
    scope.require("roster.submit")
    return (
        Contract.objects.filter(provider=scope.organization, current_version__activated_at__isnull=False)
        .select_related("payer", "current_version__bundle_version__bundle")
        .prefetch_related(activated_versions())
        .order_by("number")
    )


def roster_months_allowed(contract: Contract, today: date) -> tuple[date, date] | None:
    """The earliest and latest month a roster can be sent for now (the checks of
    ``services.roster_submit``): inside the retro window of the terms in force today, not before the
    contract began, not in the future, not after it ended. ``None``: no month is open any more.
    Reads ``contract.activated`` (:func:`submittable_contracts`)."""
    versions = contract.activated
    latest = schedule.latest_month(today)
    current = in_force_among(versions, latest) or max(versions, key=lambda v: v.number, default=None)
    if current is None:
        return None
    earliest = max(
        schedule.earliest_month(today, current.retro_window_months), min(v.effective_start for v in versions)
    )
    ends = [v.period_end for v in versions if v.period_end is not None]
    if len(ends) == len(versions) and ends:
        latest = min(latest, shift_month(max(ends), -1))
    return (earliest, latest) if earliest <= latest else None


# --- eligibility ---------------------------------------------------------------------------------


def eligibility_file_list(*, scope: Scope) -> QuerySet[EligibilityFile]:
    scope.require("eligibility.view")
    return scoped(
        EligibilityFile.objects.select_related("uploaded_by").defer("acknowledgement", "ack_999"), scope
    )


def eligibility_file_get(*, scope: Scope, public_id) -> EligibilityFile:
    """Another organisation's file and a missing one are both 404 (looked up before the role)."""
    record = get_scoped_or_404(
        EligibilityFile.objects.select_related("uploaded_by", "payer"),
        scope,
        public_id=uuid_or_404(public_id),
    )
    scope.require("eligibility.view")
    return record


# --- for payments (not scoped) -------------------------------------------------------------------


def current_submission(*, contract: Contract, month: date) -> RosterSubmission | None:
    """The accepted version of ``contract``'s roster for ``month`` that payment uses, or ``None``."""
    return (
        RosterSubmission.objects.filter(
            contract=contract, month=month.replace(day=1), is_current=True, status=ProcessingStatus.ACCEPTED
        )
        .defer(*HEAVY_FIELDS)
        .first()
    )


def _phase(month: date, phases: Sequence[Phase]) -> Case | Value:
    """The member's phase of enrollment in ``month`` as an SQL expression over ``enrollment_began`` (the
    start of the member's latest enrollment in the month's roster): bundles/phases.py's rule, as dates."""
    if not phases:
        return Value("")
    whens = [
        When(enrollment_began__lt=cutoff, then=Value(code)) for code, cutoff in phase_cutoffs(phases, month)
    ]
    return Case(*whens, default=Value(phases[0].code), output_field=CharField())


def payable_member_months(*, contract: Contract, month: date, phases: Sequence[Phase] = ()) -> QuerySet:
    """Member-months of the current accepted roster of ``contract`` for ``month`` (its first day).

    Returns a lazy queryset of dicts, one per member, ordered by ``member_id``::

        {"member_id": str, "tier": str, "market": str, "lob": str, "phase": str,
         "member_months": Decimal (6 places, 0 <= x <= 1), "days_enrolled": int,
         "submission_id": int, "version": int}

    ``phases``: the phases of enrollment of the terms in force (``ContractTerms.phases``); each member's
    ``phase`` is then the one reached by the months since its enrollment began (bundles/phases.py), else ''.

    The rate cell of a line is ``(tier, market, lob)`` of the terms in force on the month's first
    day (``contracts.selectors.terms_in_force``); a member line is ``member_months x PMPM`` rounded
    half-up to the cent. A ``0.000000`` line means the member was enrolled but earns nothing that
    month under the proration rule (kept so a retroactive recomputation can say so). Empty when the
    month has no accepted roster. Iterate it (``.iterator()`` for large contracts).
    """
    month = month.replace(day=1)
    rows = MemberMonth.objects.filter(contract=contract, month=month, submission__is_current=True)
    if phases:  # a re-enrollment after a gap starts again: the latest start the roster gives the member
        rows = rows.annotate(
            enrollment_began=Subquery(
                RosterEntry.objects.filter(
                    submission=OuterRef("submission_id"),
                    member_id=OuterRef("member_id"),
                    enrollment_start__lt=shift_month(month, 1),
                )
                .order_by("-enrollment_start")
                .values("enrollment_start")[:1]
            )
        )
    return rows.order_by("member_id").values(
        "member_id",
        "tier",
        "market",
        "lob",
        "member_months",
        "days_enrolled",
        "submission_id",
        version=F("submission__version"),
        phase=_phase(month, phases),
    )


def episode_list(*, contract: Contract, through: date, days: int) -> list[dict]:
    """The episodes of an episode contract (of ``days`` days) known to its current accepted rosters up
    to ``through``'s month.

    One dict per episode, ordered by member and first roster month::

        {"member_id": str, "start": date, "first_month": date, "tier": str, "market": str, "lob": str,
         "last_day": date | None}

    The rate cell is the member's on the first roster listing the episode (the case rate is fixed when
    it starts: the tier of its first tier period). A later roster whose start falls inside the
    episode's days corrects its start (the latest roster stands), as its end gives ``last_day`` (None
    while a row is open); a start after the episode's last day is the member's next episode."""
    rows = (
        RosterEntry.objects.filter(
            submission__contract=contract, submission__is_current=True, submission__month__lte=through
        )
        .order_by("member_id", "submission__month", "tier_start", "row")
        .values_list("member_id", "enrollment_start", "enrollment_end", "tier", "market", "submission__month")
    )
    lobs = {
        (member_id, month): lob
        for member_id, month, lob in MemberMonth.objects.filter(
            contract=contract, submission__is_current=True, month__lte=through
        ).values_list("member_id", "month", "lob")
    }
    length = timedelta(days=days)
    found: list[dict] = []
    latest: dict[str, list[dict]] = defaultdict(list)  # per member, its episodes so far
    for member_id, start, end, tier, market, month in rows:
        episode = next(
            (e for e in latest[member_id] if start < e["start"] + length and e["start"] < start + length),
            None,
        )
        if episode is None:
            episode = {
                "member_id": member_id,
                "start": start,
                "first_month": month,
                "tier": tier,
                "market": market,
                "lob": lobs.get((member_id, month), ""),
                "last_day": end,
                "month": month,
            }
            latest[member_id].append(episode)
            found.append(episode)
        elif month > episode["month"]:  # a later roster: its start and end stand
            episode.update(start=start, last_day=end, month=month)
        elif episode["last_day"] is not None:  # another tier period of the same roster
            episode["last_day"] = None if end is None else max(end, episode["last_day"])
    return [{k: v for k, v in e.items() if k != "month"} for e in found]


def payable_assessments(*, contract: Contract, month: date) -> QuerySet:
    """Initial assessments sent with the current accepted roster of ``contract`` for ``month`` whose
    fee is payable (once per member per provider in the look-back window).

    Returns a lazy queryset of dicts ordered by date, then row::

        {"member_id": str, "assessment_date": date, "market": str, "outcome": str,
         "assessor_role": str, "submission_id": int, "row": int}

    The fee is the contract's ``assessment_fees[market]`` of the terms in force on the month's first
    day. Assessments flagged ``second_in_lookback`` are left out (see :func:`assessment_list`).
    """
    return (
        Assessment.objects.filter(
            contract=contract,
            submission__month=month.replace(day=1),
            submission__is_current=True,
            payable=True,
        )
        .order_by("assessment_date", "row")
        .values("member_id", "assessment_date", "market", "outcome", "assessor_role", "submission_id", "row")
    )


# --- the workspace's worklist ----------------------------------------------------------------------


def _upload_url(contract: Contract, month: date) -> str:
    query = urlencode({"contract": str(contract.public_id), "month": f"{month:%Y-%m}"})
    return f"{reverse('roster-list')}?{query}#submit-h"


def _rosters_due(scope: Scope, today: date) -> list[WorkItem]:
    """Each month of the provider's contracts, up to last month and inside the retro window, whose
    roster is missing (due or late) or whose latest version was rejected. Two queries."""
    contracts = list(
        Contract.objects.filter(provider=scope.organization, current_version__activated_at__isnull=False)
        .select_related("payer")
        .prefetch_related(activated_versions())
        .order_by("number")
    )
    window = max((v.retro_window_months for c in contracts for v in c.activated), default=0)
    oldest = schedule.earliest_month(today, window)
    latest: dict[tuple[int, date], dict] = {}
    settled: set[tuple[int, date]] = set()  # accepted (in force) or being processed
    for row in (
        RosterSubmission.objects.filter(contract__in=contracts, month__gte=oldest)
        .order_by("version")
        .values("contract_id", "month", "version", "status", "public_id", "is_current", "error_count")
    ):
        key = (row["contract_id"], row["month"])
        latest[key] = row
        if row["is_current"] or row["status"] == ProcessingStatus.PROCESSING:
            settled.add(key)
    items = []
    for contract in contracts:
        month = shift_month(today.replace(day=1), -1)
        while month >= oldest:
            version = in_force_among(contract.activated, month)
            if version is None or month < schedule.earliest_month(today, version.retro_window_months):
                month = shift_month(month, -1)
                continue
            due = schedule.due_date_for(month, version.roster_due_day)
            last = latest.get((contract.pk, month))
            title = f"{month:%B %Y} roster, {contract.number} with {contract.payer.display_name}"
            if last is not None and last["status"] == ProcessingStatus.REJECTED:
                holds = " The accepted version still holds." if (contract.pk, month) in settled else ""
                items.append(
                    WorkItem(
                        kind="roster_rejected",
                        title=title,
                        detail=f"Version {last['version']} was rejected with {last['error_count']} "
                        f"error{'s' if last['error_count'] != 1 else ''}: correct the file and send it "
                        f"again.{holds}",
                        url=reverse("roster-detail", kwargs={"submission_id": last["public_id"]}),
                        due=due,
                        urgent=today > due and (contract.pk, month) not in settled,
                    )
                )
            elif (contract.pk, month) not in settled:
                late = today > due
                items.append(
                    WorkItem(
                        kind="roster_late" if late else "roster_due",
                        title=title,
                        detail=f"{'Was due' if late else 'Due'} {due:%A %B} {due.day}: no roster has been sent.",
                        url=_upload_url(contract, month),
                        due=due,
                        urgent=late,
                    )
                )
            month = shift_month(month, -1)
    return items


def _eligibility_mismatches(scope: Scope, today: date) -> list[WorkItem]:
    """The in-force rosters of the last three months whose members disagree with the plan's 834. One query."""
    rows = (
        scoped(SubmissionIssue.objects.all(), scope)
        .filter(
            code=ELIGIBILITY_MISMATCH,
            submission__is_current=True,
            submission__month__gte=shift_month(today.replace(day=1), -3),
        )
        .values(
            "submission__public_id",
            "submission__month",
            "submission__contract__number",
            "submission__contract__provider__short_name",
            "submission__contract__provider__legal_name",
        )
        .annotate(count=Count("pk"))
        .order_by("submission__month", "submission__contract__number")
    )
    return [
        WorkItem(
            kind="eligibility_mismatch",
            title=f"{row['submission__month']:%B %Y} roster, {row['submission__contract__number']} "
            f"with {row['submission__contract__provider__short_name'] or row['submission__contract__provider__legal_name']}",
            detail=f"{row['count']} member{'s' if row['count'] != 1 else ''} disagree with the plan's "
            "eligibility file: check them against the 834.",
            url=reverse("roster-detail", kwargs={"submission_id": row["submission__public_id"]}),
        )
        for row in rows
    ]


def roster_work(*, scope: Scope, today: date | None = None) -> list[WorkItem]:
    """The provider's rosters due, late or to correct; the plan's eligibility mismatches."""
    today = today or timezone.localdate()
    items = []
    if scope.can("roster.submit"):
        items += _rosters_due(scope, today)
    if scope.can("eligibility.load"):
        items += _eligibility_mismatches(scope, today)
    return items


def enrolled_by_month(*, scope: Scope, since: date) -> dict[date, dict]:
    """Per month from ``since``, across the organisation's contracts: the members on the rosters in force
    and their member-months (the workspace's portfolio). One query."""
    scope.require("roster.view")
    rows = (
        scoped(MemberMonth.objects.filter(month__gte=since, submission__is_current=True), scope)
        .values("month")
        .annotate(members=Count("pk"), member_months=Sum("member_months"))
        .order_by("month")
    )
    return {row["month"]: {"members": row["members"], "member_months": row["member_months"]} for row in rows}
