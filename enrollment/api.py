"""Enrollment API: submit a month's roster (202, processed in the background), read its verdict,
rows, member-months and assessments; load the plan's 834 and read its acknowledgement.

Every view that returns member data records the access (``core.audit.record_access``).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView, ScopedMixin
from core.api import ErrorSerializer
from core.audit import record_access
from core.errors import ApplicationError, NotFoundError, month_from_input
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.uploads import upload_limit
from enrollment import selectors, services
from enrollment.models import (
    Assessment,
    EligibilityFile,
    RosterEntry,
    RosterSubmission,
    SubmissionIssue,
)
from enrollment.processing import ISSUES_INLINE_MAX
from enrollment.serializers import (
    AcknowledgementSerializer,
    AssessmentListSerializer,
    AssessmentSerializer,
    EligibilityAcceptedSerializer,
    EligibilityFileDetailSerializer,
    EligibilityFileSerializer,
    EligibilityUploadSerializer,
    IssueSerializer,
    RosterAcceptedSerializer,
    RosterDetailSerializer,
    RosterEntrySerializer,
    RosterSubmissionSerializer,
    RosterSubmitSerializer,
)

ORG = [ORGANIZATION_PARAMETER]
REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="The month cannot take a roster (outside the contract, in "
    "the future or older than the retro window), or a field is "
    "missing.",
)
NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="No such object among those your organisation may see."
)
LIST_FILTERS = [
    OpenApiParameter("month", str, description="YYYY-MM"),
    OpenApiParameter("status", str, description="processing, accepted or rejected"),
    OpenApiParameter("late", OpenApiTypes.BOOL),
    OpenApiParameter("current", OpenApiTypes.BOOL, description="Only the versions in force for payment"),
]


def _flag(value: str | None) -> bool | None:
    if value in (None, ""):
        return None
    return value.lower() in {"1", "true", "yes"}


def _month(value: str | None):
    return month_from_input(value) if value else None


def _list_params(request) -> dict:
    params = request.query_params
    return {
        "month": _month(params.get("month")),
        "status": params.get("status", ""),
        "late": _flag(params.get("late")),
        "current_only": bool(_flag(params.get("current"))),
    }


class ContractRosterListApi(ScopedMixin, generics.ListAPIView):
    """A contract's roster submissions (every version of every month). POST submits a month's roster."""

    queryset = RosterSubmission.objects.none()
    serializer_class = RosterSubmissionSerializer
    parser_classes = [MultiPartParser, FormParser]
    filter_backends: list = []

    def get_queryset(self):
        contract = selectors.contract_for_rosters(scope=self.scope, contract_id=self.kwargs["contract_id"])
        return selectors.submission_list(scope=self.scope, contract=contract, **_list_params(self.request))

    @extend_schema(parameters=[*ORG, *LIST_FILTERS])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": RosterSubmitSerializer},
        responses={202: RosterAcceptedSerializer, 400: REFUSED, 404: NOT_FOUND},
        parameters=[*ORG, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, contract_id):
        """Submit the month's roster (and optionally its initial assessments) as CSV, XLSX or JSON.

        Answers 202 at once with the new version's id, status and `status_url`; a resubmission is a new
        version that replaces the previous one for payment once accepted."""
        contract = selectors.contract_for_rosters(scope=self.scope, contract_id=contract_id)
        serializer = RosterSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        submission = services.roster_submit(
            scope=self.scope,
            contract=contract,
            month=data["month"],
            file=data["file"],
            assessments_file=data.get("assessments"),
        )
        body = RosterAcceptedSerializer(submission).data
        response = Response(body, status=status.HTTP_202_ACCEPTED)
        response["Location"] = body["status_url"]
        return response


class RosterListApi(ScopedMixin, generics.ListAPIView):
    """Every roster submission your organisation may see (the plan: every provider's), newest month first."""

    queryset = RosterSubmission.objects.none()
    serializer_class = RosterSubmissionSerializer
    filter_backends: list = []

    def get_queryset(self):
        contract = None
        if self.request.query_params.get("contract"):
            contract = selectors.contract_for_rosters(
                scope=self.scope, contract_id=self.request.query_params["contract"]
            )
        return selectors.submission_list(scope=self.scope, contract=contract, **_list_params(self.request))

    @extend_schema(
        parameters=[
            *ORG,
            OpenApiParameter("contract", str, description="Contract id or number"),
            *LIST_FILTERS,
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RosterDetailApi(ScopedAPIView):
    @extend_schema(responses={200: RosterDetailSerializer, 404: NOT_FOUND}, parameters=ORG)
    def get(self, request, submission_id):
        """A submission: `status` (processing, accepted, rejected), `progress`, `counts`, `errors` and
        `warnings` (row, column, code, message) and the member-months per rate cell."""
        submission = selectors.submission_get(scope=self.scope, public_id=submission_id)
        record_access(
            scope=self.scope,
            action="roster.view",
            object_type="roster_submission",
            object_id=submission.public_id,
            detail=f"{submission.contract.number} {submission.month_label} v{submission.version}",
            request=request,
        )
        context = {
            "errors": list(selectors.errors_of(submission)[:ISSUES_INLINE_MAX]),
            "warnings": list(selectors.warnings_of(submission)[:ISSUES_INLINE_MAX]),
            "plan_detail": selectors.shows_plan_detail(scope=self.scope, submission=submission),
            "member_exits": list(selectors.exits_reported(submission=submission)),
        }
        return Response(RosterDetailSerializer(submission, context=context).data)


class _SubmissionChildListApi(ScopedMixin, generics.ListAPIView):
    """Base of the paginated lists under one submission (each records the access)."""

    filter_backends: list = []
    access_action = "roster.view"
    object_type = "roster_submission"

    def submission(self) -> RosterSubmission:
        if not hasattr(self, "_submission"):
            self._submission = selectors.submission_get(
                scope=self.scope, public_id=self.kwargs["submission_id"]
            )
            record_access(
                scope=self.scope,
                action=self.access_action,
                object_type=self.object_type,
                object_id=self._submission.public_id,
                detail=self.__class__.__name__,
                request=self.request,
            )
        return self._submission


class RosterIssueListApi(_SubmissionChildListApi):
    """Every error and warning of a submission, in row order (errors first)."""

    queryset = SubmissionIssue.objects.none()
    serializer_class = IssueSerializer

    def get_queryset(self):
        return selectors.issue_list(
            submission=self.submission(), severity=self.request.query_params.get("severity", "")
        )

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no request, no submission
            return context
        context["plan_detail"] = selectors.shows_plan_detail(scope=self.scope, submission=self.submission())
        return context

    @extend_schema(parameters=[*ORG, OpenApiParameter("severity", str, enum=["error", "warning"])])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RosterMemberListApi(_SubmissionChildListApi):
    """The accepted roster's rows (member data)."""

    queryset = RosterEntry.objects.none()
    serializer_class = RosterEntrySerializer

    def get_queryset(self):
        return selectors.entry_list(
            submission=self.submission(), search=self.request.query_params.get("search", "")
        )

    @extend_schema(parameters=[*ORG, OpenApiParameter("search", str, description="Member id or last name")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RosterAssessmentListApi(_SubmissionChildListApi):
    """The initial assessments sent with the roster, each payable or not (with the reason)."""

    queryset = Assessment.objects.none()
    serializer_class = AssessmentSerializer

    def get_queryset(self):
        return selectors.assessment_list(
            submission=self.submission(), payable=_flag(self.request.query_params.get("payable"))
        )

    @extend_schema(parameters=[*ORG, OpenApiParameter("payable", OpenApiTypes.BOOL)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def assessment_query(scope, params) -> QuerySet[Assessment]:
    """The assessments a page or the API asks for: ``contract`` (id or number), ``month`` (YYYY-MM of
    the roster), ``payable`` (true/false) and ``member`` (a member id). Page and API read the same."""
    contract = None
    if params.get("contract"):
        contract = selectors.contract_for_rosters(scope=scope, contract_id=params["contract"])
    return selectors.assessment_search(
        scope=scope,
        contract=contract,
        month=_month(params.get("month")),
        payable=_flag(params.get("payable")),
        member_id=params.get("member", ""),
    )


def record_assessments_access(scope, params, request) -> None:
    """Assessments carry names and birth dates: each read of the list is in the access log."""
    shown = ", ".join(f"{k} {params[k]}" for k in ("contract", "month", "payable", "member") if params.get(k))
    record_access(
        scope=scope,
        action="assessment.list",
        object_type="assessments",
        object_id=params.get("contract") or "all",
        detail=shown or "all contracts",
        request=request,
    )


class AssessmentListApi(ScopedMixin, generics.ListAPIView):
    """Every initial assessment of the rosters in force across your contracts, newest first: whether its
    fee is payable, and if not why (`reason`, `message`)."""

    queryset = Assessment.objects.none()
    serializer_class = AssessmentListSerializer
    filter_backends: list = []

    def get_queryset(self):
        return assessment_query(self.scope, self.request.query_params)

    @extend_schema(
        parameters=[
            *ORG,
            OpenApiParameter("contract", str, description="Contract id or number"),
            OpenApiParameter("month", str, description="The roster's month, YYYY-MM"),
            OpenApiParameter("payable", OpenApiTypes.BOOL),
            OpenApiParameter("member", str, description="A member id"),
        ]
    )
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        record_assessments_access(self.scope, request.query_params, request)
        return response


def file_response(submission: RosterSubmission, which: str) -> FileResponse:
    """The file exactly as it was sent."""
    if which == "assessments":
        field, name = submission.assessments_file, submission.assessments_filename
    else:
        field, name = submission.file, submission.original_filename
    if not field:
        raise NotFoundError("This submission has no such file.", code="no_file")
    return FileResponse(field.open("rb"), as_attachment=True, filename=name)


class RosterFileApi(ScopedAPIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: NOT_FOUND},
        parameters=[*ORG, OpenApiParameter("which", str, enum=["roster", "assessments"])],
    )
    def get(self, request, submission_id):
        """Download the roster (or `which=assessments`) byte for byte as it was submitted."""
        submission = selectors.submission_get(scope=self.scope, public_id=submission_id)
        which = request.query_params.get("which", "roster")
        record_access(
            scope=self.scope,
            action="roster.download",
            object_type="roster_submission",
            object_id=submission.public_id,
            detail=f"{which} file",
            request=request,
        )
        return file_response(submission, which)


# --- eligibility -----------------------------------------------------------------------------------


def record_eligibility_access(scope, record: EligibilityFile, what: str, request) -> None:
    """The acknowledgement and the 999 quote values from members' records (a birth date, a date of
    coverage that did not parse): reading them is in the access log like the 834 itself."""
    record_access(
        scope=scope,
        action="eligibility.view",
        object_type="eligibility_file",
        object_id=record.public_id,
        detail=f"{record.original_filename} {what}",
        request=request,
    )


@upload_limit("X12_MAX_BYTES")
class EligibilityFileListApi(ScopedMixin, generics.ListAPIView):
    """The plan's eligibility files (X12 834), newest first. POST loads one (202), up to ``X12_MAX_BYTES``."""

    queryset = EligibilityFile.objects.none()
    serializer_class = EligibilityFileSerializer
    parser_classes = [MultiPartParser, FormParser]
    filter_backends: list = []

    def get_queryset(self):
        return selectors.eligibility_file_list(scope=self.scope)

    @extend_schema(parameters=ORG)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": EligibilityUploadSerializer},
        responses={202: EligibilityAcceptedSerializer, 400: OpenApiResponse(ErrorSerializer)},
        parameters=[*ORG, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        """Load an 834: an audit (030) file replaces the plan's eligibility, other files update it.

        Answers 202 with the file's id, status and `acknowledgement_url` (accepted, or rejected with
        each error's segment position; the X12 999 is there too)."""
        serializer = EligibilityUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = services.eligibility_file_load(scope=self.scope, file=serializer.validated_data["file"])
        body = EligibilityAcceptedSerializer(record).data
        response = Response(body, status=status.HTTP_202_ACCEPTED)
        response["Location"] = body["acknowledgement_url"]
        return response


class EligibilityFileDetailApi(ScopedAPIView):
    @extend_schema(responses={200: EligibilityFileDetailSerializer, 404: NOT_FOUND}, parameters=ORG)
    def get(self, request, file_id):
        """A file, its counts and the deaths it reported (INS12; reading them is in the access log)."""
        record = selectors.eligibility_file_get(scope=self.scope, public_id=file_id)
        record_eligibility_access(self.scope, record, "detail", request)
        return Response(EligibilityFileDetailSerializer(record).data)


class EligibilityAcknowledgementApi(ScopedAPIView):
    @extend_schema(responses={200: AcknowledgementSerializer, 404: NOT_FOUND}, parameters=ORG)
    def get(self, request, file_id):
        """The file's acknowledgement: accepted or rejected, each error with its segment position, and the
        X12 999. `status` is `processing` (and the rest empty) until the file has been read."""
        record = selectors.eligibility_file_get(scope=self.scope, public_id=file_id)
        record_eligibility_access(self.scope, record, "acknowledgement", request)
        return Response(AcknowledgementSerializer(record).data)


class Eligibility999Api(ScopedAPIView):
    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR, 404: NOT_FOUND}, parameters=ORG)
    def get(self, request, file_id):
        """The X12 999 as a file."""
        record = selectors.eligibility_file_get(scope=self.scope, public_id=file_id)
        if not record.ack_999:
            raise ApplicationError("No 999 has been written for this file (yet).", code="no_999", status=404)
        record_eligibility_access(self.scope, record, "999", request)
        response = HttpResponse(record.ack_999, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{record.public_id}.999"'
        return response
