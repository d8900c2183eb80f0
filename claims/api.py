"""Claims API: the plan's claims uploads (a claims extract, CSV or Parquet)."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView, ScopedMixin
from claims import selectors, services
from claims.models import ClaimsUpload, UploadStatus
from claims.serializers import ClaimsUploadInputSerializer, ClaimsUploadSerializer
from core.api import ErrorSerializer
from core.audit import record_access
from core.errors import NotFoundError, problems_details
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent


class ClaimsUploadListApi(ScopedMixin, generics.ListAPIView):
    """The plan's claims uploads (newest first); POST a file to load it (every line or none): 201 when
    read in the request, 202 (`processing`) when the file is large enough to be read by a worker."""

    queryset = ClaimsUpload.objects.none()
    serializer_class = ClaimsUploadSerializer
    filter_backends: list = []
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.upload_list(scope=self.scope)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        # Errors and warnings name claims and members.
        record_access(
            scope=self.scope,
            action="claims_upload.list",
            object_type="organization",
            object_id=self.scope.organization.public_id,
            detail="claims uploads with their errors",
            request=request,
        )
        return response

    @extend_schema(
        request={"multipart/form-data": ClaimsUploadInputSerializer},
        responses={
            201: ClaimsUploadSerializer,
            202: OpenApiResponse(
                ClaimsUploadSerializer,
                description="A file over the size read in the request: kept and read by a worker; "
                "`status` is `processing` until then (poll `Location`, the upload's GET)",
            ),
            400: ErrorSerializer,
        },
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        serializer = ClaimsUploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        file = serializer.validated_data["file"]
        upload = services.claims_upload(scope=self.scope, file=file, filename=file.name)
        if upload.status == UploadStatus.PROCESSING:
            response = Response(ClaimsUploadSerializer(upload).data, status=status.HTTP_202_ACCEPTED)
            response["Location"] = reverse("api-claims-upload", args=[upload.public_id])
            return response
        if upload.status == UploadStatus.REJECTED:
            return Response(
                {
                    "code": "invalid_file",
                    "message": services.UPLOAD_REJECTED_MESSAGE,
                    "details": problems_details(
                        upload.errors,
                        upload=str(upload.public_id),
                        error_count=upload.error_count,
                        warnings=upload.warnings,
                    ),
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(ClaimsUploadSerializer(upload).data, status=status.HTTP_201_CREATED)


class ClaimsUploadDetailApi(ScopedAPIView):
    @extend_schema(responses=ClaimsUploadSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, upload_id):
        upload = selectors.upload_get(scope=self.scope, upload_id=upload_id)
        record_access(
            scope=self.scope,
            action="claims_upload.view",
            object_type="claims_upload",
            object_id=upload.public_id,
            detail=f"{upload.original_filename}: errors name claims and members",
            request=request,
        )
        return Response(ClaimsUploadSerializer(upload).data)


class ClaimsUpload999Api(ScopedAPIView):
    """The 999 acknowledgement of an X12 837 file (text/plain); 404 for a CSV or Parquet file."""

    @extend_schema(responses={(200, "text/plain"): str}, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, upload_id):
        upload = selectors.upload_get(scope=self.scope, upload_id=upload_id)
        if not upload.ack_999:
            raise NotFoundError("No 999 has been written for this file (it is not an X12 837).")
        record_access(
            scope=self.scope,
            action="claims_upload.view",
            object_type="claims_upload",
            object_id=upload.public_id,
            detail=f"{upload.original_filename}: 999",
            request=request,
        )
        return HttpResponse(upload.ack_999, content_type="text/plain; charset=utf-8")
