"""Contracts API: list/open, versions (edit a draft), lifecycle actions, amendments, diffs, rate
sheets (PDF, XLSX, CSV) and the zip of every active contract's rate sheets."""

from __future__ import annotations

from datetime import date

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView, ScopedMixin
from accounts.models import Organization, OrganizationKind
from bundles.models import BundleVersion
from contracts import selectors, services
from contracts.models import Contract, ContractStatus, RateSheetExport, RateSheetFormat
from contracts.serializers import (
    AmendSerializer,
    ContractCreateSerializer,
    ContractDetailSerializer,
    ContractSerializer,
    CounterSerializer,
    DiffSerializer,
    ExportSerializer,
    OfferListSerializer,
    OfferSerializer,
    PricingRunInputSerializer,
    RejectCounterSerializer,
    ReturnSerializer,
    TerminateSerializer,
    VersionSerializer,
    VersionSummarySerializer,
    VersionUpdateSerializer,
    counter_from,
    terms_from,
)
from core.api import ErrorSerializer
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, NotFoundError
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent

CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="Not allowed in the contract's current state, or it would overlap another active contract.",
)
LIST_PARAMETERS = [
    ORGANIZATION_PARAMETER,
    OpenApiParameter("status", str, enum=list(ContractStatus.values)),
    OpenApiParameter("search", str, description="Part of the number or of a party's name"),
    OpenApiParameter("counterparty", OpenApiTypes.UUID, description="The other party's organisation id"),
    OpenApiParameter("bundle", OpenApiTypes.UUID, description="The bundle's id"),
    OpenApiParameter("market", str, description="A market code"),
]
VERSION_PARAMETER = OpenApiParameter(
    "version",
    OpenApiTypes.INT,
    required=False,
    description="The version number; default: the contract's current version",
)
BAD_DATE_MESSAGE = "Give the date as YYYY-MM-DD."


def _contract(scope, contract_id) -> Contract:
    return selectors.contract_get(scope=scope, contract_id=contract_id)


def _detail(scope, contract: Contract) -> dict:
    contract.refresh_from_db()
    contract = _contract(scope, contract.public_id)
    pending = selectors.pending_version(contract=contract)
    if pending is not None and not scope.is_payer and pending.sent_at is None:
        pending = None
    return {
        "contract": contract,
        "pending_version": pending.number if pending else None,
        "actions": selectors.contract_actions(scope=scope, contract=contract, pending=pending),
        "versions": selectors.version_list(scope=scope, contract=contract),
        "events": selectors.event_list(scope=scope, contract=contract),
    }


def _version_response(scope, version, status_code=200) -> Response:
    return Response(VersionSerializer(version, context={"scope": scope}).data, status=status_code)


class ContractListApi(ScopedMixin, generics.ListAPIView):
    """Contracts your organisation is party to (a provider sees a contract once the plan has sent it)."""

    queryset = Contract.objects.none()
    serializer_class = ContractSerializer
    filter_backends: list = []

    def get_queryset(self):
        params = self.request.query_params
        return selectors.contract_list(
            scope=self.scope,
            status=params.get("status", ""),
            search=params.get("search", ""),
            counterparty=params.get("counterparty", ""),
            bundle=params.get("bundle", ""),
            market=params.get("market", ""),
        )

    @extend_schema(parameters=LIST_PARAMETERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ContractCreateSerializer,
        responses={201: ContractDetailSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        """Open a contract with a provider as a draft (version 1): terms, and optionally rates and fees."""
        serializer = ContractCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        self.scope.require("contract.edit")
        provider = Organization.objects.filter(
            public_id=data["provider"], kind=OrganizationKind.PROVIDER
        ).first()
        if provider is None:
            raise ApplicationError(
                "No provider organisation with this id.",
                code="unknown_provider",
                details={"provider": ["No provider organisation with this id."]},
            )
        bundle_version = (
            BundleVersion.objects.filter(
                bundle__public_id=data["bundle"],
                number=data["bundle_version"],
                bundle__payer=self.scope.organization,
            )
            .select_related("bundle")
            .first()
        )
        if bundle_version is None:
            raise ApplicationError(
                "No such published version of your plan's bundles.",
                code="unknown_bundle_version",
                details={"bundle_version": ["No such published version of your plan's bundles."]},
            )
        terms, rates, fees = terms_from(data)
        contract = services.contract_create(
            scope=self.scope,
            provider=provider,
            bundle_version=bundle_version,
            terms=terms,
            rates=rates,
            assessment_fees=fees,
        )
        return Response(
            ContractDetailSerializer(_detail(self.scope, contract)).data, status=status.HTTP_201_CREATED
        )


class ContractDetailApi(ScopedAPIView):
    @extend_schema(responses=ContractDetailSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, contract_id):
        """The contract, its versions, its timeline and what your role may do now."""
        return Response(
            ContractDetailSerializer(_detail(self.scope, _contract(self.scope, contract_id))).data
        )


class ContractVersionListApi(ScopedAPIView):
    @extend_schema(responses=VersionSummarySerializer(many=True), parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, contract_id):
        contract = _contract(self.scope, contract_id)
        return Response(
            VersionSummarySerializer(
                selectors.version_list(scope=self.scope, contract=contract), many=True
            ).data
        )


class ContractVersionApi(ScopedAPIView):
    @extend_schema(responses=VersionSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, contract_id, number):
        """One version's terms, rates (with the priced rate and difference), fees and acceptances."""
        contract = _contract(self.scope, contract_id)
        return _version_response(
            self.scope, selectors.version_get(scope=self.scope, contract=contract, number=number)
        )

    @extend_schema(
        request=VersionUpdateSerializer,
        responses={200: VersionSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def patch(self, request, contract_id, number):
        """Edit a draft: any terms, rate cells (upserted) and assessment fees. All or nothing."""
        contract = _contract(self.scope, contract_id)
        version = selectors.version_get(scope=self.scope, contract=contract, number=number)
        serializer = VersionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bundle_version = None
        if "bundle_version" in serializer.validated_data:
            bundle_version = BundleVersion.objects.filter(
                bundle_id=version.bundle_version.bundle_id, number=serializer.validated_data["bundle_version"]
            ).first()
            if bundle_version is None:
                raise NotFoundError(NOT_FOUND_MESSAGE)
        terms, rates, fees = terms_from(serializer.validated_data)
        version = services.contract_version_update(
            scope=self.scope,
            version=version,
            terms=terms,
            rates=rates,
            assessment_fees=fees,
            bundle_version=bundle_version,
        )
        return _version_response(
            self.scope, selectors.version_get(scope=self.scope, contract=contract, number=version.number)
        )


class ContractRatesFromPricingApi(ScopedAPIView):
    @extend_schema(
        request=PricingRunInputSerializer,
        responses={200: VersionSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, contract_id, number):
        """Take a draft's rates and assessment fees from a succeeded pricing run of its bundle version.
        Cells already negotiated keep their rate and reason and now show the difference."""
        from pricing.selectors import pricing_run_rate_table

        contract = _contract(self.scope, contract_id)
        version = selectors.version_get(scope=self.scope, contract=contract, number=number)
        serializer = PricingRunInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        table = pricing_run_rate_table(scope=self.scope, run_id=serializer.validated_data["run_id"])
        services.rate_schedule_from_pricing(scope=self.scope, contract_version=version, rate_table=table)
        return _version_response(
            self.scope, selectors.version_get(scope=self.scope, contract=contract, number=version.number)
        )


class _ActionApi(ScopedAPIView):
    def respond(self, contract):
        return Response(ContractDetailSerializer(_detail(self.scope, contract)).data)


class ContractProposeApi(_ActionApi):
    @extend_schema(
        request=None,
        responses={200: ContractDetailSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, contract_id):
        """Send the draft (contract or amendment) to the provider; its terms freeze and get a fingerprint."""
        contract = _contract(self.scope, contract_id)
        services.contract_propose(scope=self.scope, contract=contract)
        return self.respond(contract)


class ContractAcceptApi(_ActionApi):
    @extend_schema(
        request=None,
        responses={200: ContractDetailSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, contract_id):
        """Accept the proposal for your side; with both sides' acceptance the version becomes active."""
        contract = _contract(self.scope, contract_id)
        services.contract_accept(scope=self.scope, contract=contract)
        return self.respond(contract)


class ContractReturnApi(_ActionApi):
    @extend_schema(
        request=ReturnSerializer,
        responses={200: ContractDetailSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, contract_id):
        """The provider sends the proposal back to the plan with comments (a draft again)."""
        contract = _contract(self.scope, contract_id)
        serializer = ReturnSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.contract_return(
            scope=self.scope, contract=contract, comments=serializer.validated_data["comments"]
        )
        return self.respond(contract)


class ContractCounterApi(ScopedAPIView):
    @extend_schema(
        request=CounterSerializer,
        responses={201: OfferSerializer, 400: ErrorSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, contract_id):
        """Counter the offer on the table (the other side's): new rates, assessment fees, withhold or
        quality terms, each change with its reason. The proposed version's terms change in place as a
        new round; both sides then accept that round."""
        contract = _contract(self.scope, contract_id)
        serializer = CounterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        offer = services.contract_counter(
            scope=self.scope, contract=contract, **counter_from(serializer.validated_data)
        )
        return Response(OfferSerializer(offer).data, status=status.HTTP_201_CREATED)


class ContractRejectCounterApi(ScopedAPIView):
    @extend_schema(
        request=RejectCounterSerializer,
        responses={201: OfferSerializer, 400: ErrorSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, contract_id):
        """Reject the counter-offer on the table: your side's earlier offer is back, as a new round."""
        contract = _contract(self.scope, contract_id)
        serializer = RejectCounterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        offer = services.contract_reject_counter(
            scope=self.scope, contract=contract, reason=serializer.validated_data["reason"]
        )
        return Response(OfferSerializer(offer).data, status=status.HTTP_201_CREATED)


class ContractOfferListApi(ScopedAPIView):
    @extend_schema(
        responses={200: OfferListSerializer}, parameters=[ORGANIZATION_PARAMETER, VERSION_PARAMETER]
    )
    def get(self, request, contract_id):
        """The rounds of a version's negotiation (default: the pending version, else the current one):
        who offered what, when, each change with its reason."""
        contract = _contract(self.scope, contract_id)
        version = selectors.negotiated_version(
            scope=self.scope, contract=contract, number=request.query_params.get("version")
        )
        return Response(
            OfferListSerializer(
                {
                    "version": version,
                    "on_the_table": version.offer_side or "payer",
                    "offers": selectors.offer_list(scope=self.scope, contract=contract, version=version),
                }
            ).data
        )


class ContractTerminateApi(_ActionApi):
    @extend_schema(
        request=TerminateSerializer,
        responses={200: ContractDetailSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, contract_id):
        """Terminate an active contract from `end_date` (exclusive), with a reason; the notice applies
        unless `for_cause`."""
        contract = _contract(self.scope, contract_id)
        serializer = TerminateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.contract_terminate(scope=self.scope, contract=contract, **serializer.validated_data)
        return self.respond(contract)


class ContractAmendApi(ScopedAPIView):
    @extend_schema(
        request=AmendSerializer,
        responses={201: VersionSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, contract_id):
        """Start an amendment of an active contract: a draft version copying the current terms."""
        contract = _contract(self.scope, contract_id)
        serializer = AmendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.contract_amend(
            scope=self.scope, contract=contract, effective_start=serializer.validated_data["effective_start"]
        )
        return _version_response(
            self.scope,
            selectors.version_get(scope=self.scope, contract=contract, number=version.number),
            status.HTTP_201_CREATED,
        )


class ContractDiffApi(ScopedAPIView):
    @extend_schema(
        responses=DiffSerializer,
        parameters=[
            ORGANIZATION_PARAMETER,
            OpenApiParameter(
                "against",
                OpenApiTypes.INT,
                required=False,
                description="The version to compare with; default: the one before",
            ),
        ],
    )
    def get(self, request, contract_id, number):
        """What changed between two versions, by section, and which payment terms changed."""
        contract = _contract(self.scope, contract_id)
        after = selectors.version_get(scope=self.scope, contract=contract, number=number)
        against = request.query_params.get("against") or (after.number - 1)
        before = selectors.version_get(scope=self.scope, contract=contract, number=against)
        return Response(DiffSerializer(selectors.version_diff(before=before, after=after)).data)


class ContractTermsInForceApi(ScopedAPIView):
    @extend_schema(
        responses=VersionSerializer,
        parameters=[
            ORGANIZATION_PARAMETER,
            OpenApiParameter(
                "on",
                OpenApiTypes.DATE,
                required=False,
                description="A day; for a month, its first day (default: today)",
            ),
        ],
    )
    def get(self, request, contract_id):
        """The version whose terms applied on a day ("which terms applied in month M?")."""
        contract = _contract(self.scope, contract_id)
        try:
            on = date.fromisoformat(request.query_params.get("on") or timezone.localdate().isoformat())
        except ValueError as exc:
            raise ApplicationError(
                BAD_DATE_MESSAGE, code="invalid_date", details={"on": [BAD_DATE_MESSAGE]}
            ) from exc
        version = selectors.version_in_force(contract=contract, on=on)
        if version is None or (not self.scope.is_payer and version.sent_at is None):
            raise NotFoundError(selectors.NO_TERMS_IN_FORCE_MESSAGE, code="no_terms_in_force")
        return _version_response(
            self.scope, selectors.version_get(scope=self.scope, contract=contract, number=version.number)
        )


class _FileRenderer(BaseRenderer):
    """Lets a client ask for the file's type in Accept; success responses are plain HttpResponses."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else JSONRenderer().render(data)


class _RateSheetApi(ScopedAPIView):
    fmt = RateSheetFormat.PDF

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):  # errors are JSON whatever the client accepted
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    def get(self, request, contract_id):
        contract = _contract(self.scope, contract_id)
        version = selectors.version_for_rate_sheet(
            scope=self.scope, contract=contract, number=request.query_params.get("version")
        )
        content, filename = services.rate_sheet(version=version, fmt=self.fmt)
        response = HttpResponse(content, content_type=services.CONTENT_TYPES[self.fmt])
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Fingerprint"] = selectors.version_fingerprint(version)
        return response


def _sheet_renderer(media_type: str, suffix: str) -> type[BaseRenderer]:
    return type(f"{suffix.title()}Renderer", (_FileRenderer,), {"media_type": media_type, "format": suffix})


def _sheet_schema(media_type: str, what: str):
    return extend_schema(
        parameters=[ORGANIZATION_PARAMETER, VERSION_PARAMETER],
        responses={(200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=what)},
    )


class RateSheetPdfApi(_RateSheetApi):
    fmt = RateSheetFormat.PDF
    renderer_classes = [JSONRenderer, _sheet_renderer("application/pdf", "pdf")]

    @_sheet_schema("application/pdf", "The rate sheet for people (Letter, fingerprint on every page)")
    def get(self, request, contract_id):
        return super().get(request, contract_id)


class RateSheetXlsxApi(_RateSheetApi):
    fmt = RateSheetFormat.XLSX
    renderer_classes = [JSONRenderer, _sheet_renderer(services.CONTENT_TYPES["xlsx"], "xlsx")]

    @_sheet_schema(services.CONTENT_TYPES["xlsx"], "The rate sheet for systems: typed cells, frozen headers")
    def get(self, request, contract_id):
        return super().get(request, contract_id)


class RateSheetCsvApi(_RateSheetApi):
    fmt = RateSheetFormat.CSV
    renderer_classes = [JSONRenderer, _sheet_renderer("text/csv", "csv")]

    @_sheet_schema(
        "text/csv", "One row per rate cell, assessment fee and term; every row has the fingerprint"
    )
    def get(self, request, contract_id):
        return super().get(request, contract_id)


class RateSheetExportListApi(ScopedMixin, generics.ListAPIView):
    """Zips of every active contract's rate sheets your plan asked for, newest first."""

    queryset = RateSheetExport.objects.none()
    serializer_class = ExportSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.export_list(scope=self.scope)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={202: ExportSerializer},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        """Start building the zip (a background job); poll the export for its progress."""
        export = services.rate_sheet_export_start(scope=self.scope)
        return Response(ExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class RateSheetExportApi(ScopedAPIView):
    @extend_schema(responses=ExportSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, export_id):
        """Status and progress (done of total contracts) of a zip."""
        return Response(ExportSerializer(selectors.export_get(scope=self.scope, export_id=export_id)).data)


class RateSheetExportRetryApi(ScopedAPIView):
    """Render the failed contracts of a zip again, alone; the zip is assembled once they are done."""

    @extend_schema(
        request=None,
        responses={202: ExportSerializer},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, export_id):
        export = selectors.export_get(scope=self.scope, export_id=export_id)
        services.rate_sheet_export_retry_failed(scope=self.scope, export=export)
        export = selectors.export_get(scope=self.scope, export_id=export_id)
        return Response(ExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class RateSheetExportDownloadApi(ScopedAPIView):
    renderer_classes = [JSONRenderer, _sheet_renderer("application/zip", "zip")]

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        parameters=[ORGANIZATION_PARAMETER],
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The zip"),
            409: OpenApiResponse(ErrorSerializer, description="Not finished yet"),
        },
    )
    def get(self, request, export_id):
        export = selectors.export_get(scope=self.scope, export_id=export_id)
        if export.status != "done":
            raise ApplicationError(
                "The zip is not ready yet.",
                code="not_ready",
                status=409,
                details={"status": export.status, "done": export.done, "total": export.total},
            )
        response = HttpResponse(bytes(export.content), content_type="application/zip")
        stamp = export.created_at.strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="rate-sheets-{stamp}.zip"'
        return response
