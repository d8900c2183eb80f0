"""Performance API: utilisation uploads, a contract's performance for a period, the members behind it,
the provider's patient story and the plan's unit costs."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView, ScopedMixin
from core.api import ErrorSerializer
from core.audit import record_access
from core.errors import problems_details
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from performance import selectors, services
from performance.models import PatientStory, UploadStatus, UtilizationUpload
from performance.serializers import (
    PerformanceMemberSerializer,
    PerformanceSerializer,
    StorySerializer,
    UnitCostInputSerializer,
    UnitCostSerializer,
    UtilizationUploadInputSerializer,
    UtilizationUploadSerializer,
)

PERIOD_PARAMETER = OpenApiParameter(
    "period",
    str,
    description="2026-03, 2026-Q1, 2026 or CY1 (default: the latest calendar year with member-months)",
)
MEASURE_PARAMETER = OpenApiParameter(
    "measure", str, description="Only the members behind this measure's numbers"
)


class UploadListApi(ScopedMixin, generics.ListAPIView):
    """The plan's utilisation uploads (newest first); POST a file to load one (all rows or none): 201 when
    read in the request, 202 (`processing`) when the file is large enough to be read by a worker."""

    queryset = UtilizationUpload.objects.none()
    serializer_class = UtilizationUploadSerializer
    filter_backends: list = []
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.upload_list(scope=self.scope)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        # Each upload carries its errors, and an error names the member of its row.
        record_access(
            scope=self.scope,
            action="utilization_upload.list",
            object_type="organization",
            object_id=self.scope.organization.public_id,
            detail="utilisation uploads with their errors",
            request=request,
        )
        return response

    @extend_schema(
        request={"multipart/form-data": UtilizationUploadInputSerializer},
        responses={
            201: UtilizationUploadSerializer,
            202: OpenApiResponse(
                UtilizationUploadSerializer,
                description="A file over the size read in the request: kept and read by a worker; "
                "`status` is `processing` until then (poll `Location`, the upload's GET)",
            ),
            400: ErrorSerializer,
        },
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        serializer = UtilizationUploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        file = serializer.validated_data["file"]
        upload = services.utilization_upload(scope=self.scope, file=file, filename=file.name)
        if upload.status == UploadStatus.PROCESSING:
            response = Response(UtilizationUploadSerializer(upload).data, status=status.HTTP_202_ACCEPTED)
            response["Location"] = reverse("api-performance-upload", args=[upload.public_id])
            return response
        if upload.status == UploadStatus.REJECTED:
            return Response(
                {
                    "code": "invalid_file",
                    "message": services.UPLOAD_REJECTED_MESSAGE,
                    # details.errors: the same list, under the name this endpoint used first (deprecated)
                    "details": problems_details(
                        upload.errors,
                        errors_alias=True,
                        upload=str(upload.public_id),
                        error_count=upload.error_count,
                    ),
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(UtilizationUploadSerializer(upload).data, status=status.HTTP_201_CREATED)


class UploadDetailApi(ScopedAPIView):
    @extend_schema(responses=UtilizationUploadSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, upload_id):
        upload = selectors.upload_get(scope=self.scope, upload_id=upload_id)
        record_access(
            scope=self.scope,
            action="utilization_upload.view",
            object_type="utilization_upload",
            object_id=upload.public_id,
            detail=f"{upload.original_filename}: errors name members",
            request=request,
        )
        return Response(UtilizationUploadSerializer(upload).data)


class ContractPerformanceApi(ScopedAPIView):
    """Every measure of the contract's quality terms for the period, the composite score, what it earns,
    shared savings and avoided events, and the chart series."""

    @extend_schema(responses=PerformanceSerializer, parameters=[ORGANIZATION_PARAMETER, PERIOD_PARAMETER])
    def get(self, request, contract_id):
        contract = selectors.contract_for_performance(scope=self.scope, contract_id=contract_id)
        data = selectors.contract_performance(
            scope=self.scope, contract=contract, period=request.query_params.get("period")
        )
        return Response(PerformanceSerializer(data).data)


class ContractMembersApi(ScopedAPIView):
    """The members behind the period's numbers (PHI: every read is logged)."""

    @extend_schema(
        responses=PerformanceMemberSerializer(many=True),
        parameters=[ORGANIZATION_PARAMETER, PERIOD_PARAMETER, MEASURE_PARAMETER],
    )
    def get(self, request, contract_id):
        contract = selectors.contract_for_performance(scope=self.scope, contract_id=contract_id)
        period = selectors.period_of(contract, request.query_params.get("period"))
        measure = request.query_params.get("measure", "")
        rows = selectors.member_breakdown(scope=self.scope, contract=contract, period=period, measure=measure)
        record_access(
            scope=self.scope,
            action="performance.members",
            object_type="contract",
            object_id=contract.number,
            detail=f"{period.code} {measure}".strip(),
            request=request,
        )
        return Response(PerformanceMemberSerializer(rows, many=True).data)


class StoryApi(ScopedAPIView):
    """The provider's patient story for a period (the provider writes, both sides read)."""

    @extend_schema(
        responses={200: StorySerializer, 404: ErrorSerializer},
        parameters=[ORGANIZATION_PARAMETER, PERIOD_PARAMETER],
    )
    def get(self, request, contract_id):
        contract = selectors.contract_for_performance(scope=self.scope, contract_id=contract_id)
        period = selectors.period_of(contract, request.query_params.get("period"))
        story = PatientStory.objects.filter(contract=contract, period=period.code).first()
        if story is None:
            return Response(
                {"code": "not_found", "message": "No story for this period yet.", "details": {}},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(StorySerializer(story).data)

    @extend_schema(
        request=StorySerializer,
        responses=StorySerializer,
        parameters=[ORGANIZATION_PARAMETER, PERIOD_PARAMETER],
    )
    def put(self, request, contract_id):
        contract = selectors.contract_for_performance(scope=self.scope, contract_id=contract_id)
        period = selectors.period_of(contract, request.query_params.get("period"))
        serializer = StorySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        story = services.patient_story_save(
            scope=self.scope,
            contract=contract,
            period=period.code,
            text=serializer.validated_data["text"],
            title=serializer.validated_data.get("title", ""),
        )
        return Response(StorySerializer(story).data)


class UnitCostApi(ScopedAPIView):
    """The plan's cost per avoided event (ED visit, admission, ICU admission, readmission)."""

    @extend_schema(responses=UnitCostSerializer(many=True), parameters=[ORGANIZATION_PARAMETER])
    def get(self, request):
        return Response(UnitCostSerializer(selectors.unit_cost_table(scope=self.scope), many=True).data)

    @extend_schema(
        request=UnitCostInputSerializer,
        responses=UnitCostSerializer(many=True),
        parameters=[ORGANIZATION_PARAMETER],
    )
    def put(self, request):
        serializer = UnitCostInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.unit_costs_set(scope=self.scope, costs=serializer.validated_data["costs"])
        return Response(UnitCostSerializer(selectors.unit_cost_table(scope=self.scope), many=True).data)
