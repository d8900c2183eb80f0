"""Pricing API: the stateless quote, assumption sets (versions, export/import), experience uploads,
pricing runs (start, progress, cancel, result, inputs, PDF report). Views parse, call one service
or selector, serialise."""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView, ScopedMixin
from accounts.serializers import ShareInputSerializer
from bundles import selectors as bundle_selectors
from core.api import ErrorSerializer
from core.audit import record_access
from core.domain.problems import Problem
from core.errors import ApplicationError, NotFoundError, problems_error
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from pricing import comparison, defaults, report, selectors, services
from pricing.engine.scenarios import WhatIf
from pricing.models import AssumptionSet, ExperienceDataset, ExperienceStatus, PricingRun, PricingRunStatus
from pricing.serializers import (
    AssumptionImportSerializer,
    AssumptionSetCreateSerializer,
    AssumptionSetDetailSerializer,
    AssumptionSetSerializer,
    AssumptionVersionSerializer,
    DefaultsSerializer,
    DraftUpdateSerializer,
    ExperienceDetailSerializer,
    ExperienceSerializer,
    ExperienceUploadSerializer,
    FeeScheduleDetailSerializer,
    FeeScheduleSerializer,
    FeeScheduleUploadSerializer,
    FeeScheduleVersionDetailSerializer,
    PricingRunDetailSerializer,
    PricingRunSerializer,
    PricingRunShareSerializer,
    QuoteRequestSerializer,
    QuoteResultSerializer,
    RunAcceptedSerializer,
    RunStartSerializer,
    SensitivityDetailSerializer,
    SensitivitySerializer,
    SensitivityStartSerializer,
    WhatIfSerializer,
)

ORG = [ORGANIZATION_PARAMETER]
INVALID_FILE_RESPONSE = OpenApiResponse(
    ErrorSerializer,
    description=(
        "`details.problems`: every problem, each with `path` (JSON path or field), `code` and `message`"
        " (`details.errors`: the same list, deprecated)"
    ),
)


def _code_list(value, field: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise problems_error(
            services.INVALID_PRICING_FILE_MESSAGE,
            [Problem.at_path(field, "wrong_type", f"{field} is a list of codes")],
            code="invalid_pricing_file",
            errors_alias=True,
        )
    return value


class QuoteApi(ScopedAPIView):
    """Price a pricing file at once and store nothing (the what-if calculator).

    The body is a `carebundle.pricing/1` file; optional `markets` and `lobs` narrow or split the
    rate cells. Every problem of the file comes back at once in `details.problems`, each with its
    JSON path.
    """

    @extend_schema(
        request=QuoteRequestSerializer,
        responses={200: QuoteResultSerializer, 400: INVALID_FILE_RESPONSE},
        parameters=ORG,
    )
    def post(self, request):
        data = request.data
        markets = _code_list(data.get("markets"), "markets") if isinstance(data, dict) else None
        lobs = _code_list(data.get("lobs"), "lobs") if isinstance(data, dict) else None
        return Response(services.pricing_quote(scope=self.scope, document=data, markets=markets, lobs=lobs))


# --- assumption sets -----------------------------------------------------------------------------


class AssumptionSetListApi(ScopedMixin, generics.ListAPIView):
    """Your plan's assumption sets; POST creates one whose draft holds the platform's defaults (each
    with its source) unless you send `assumptions`."""

    queryset = AssumptionSet.objects.none()
    serializer_class = AssumptionSetSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.assumption_set_list(
            scope=self.scope, search=self.request.query_params.get("search", "")
        )

    @extend_schema(parameters=[*ORG, OpenApiParameter("search", str, description="Part of the name")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=AssumptionSetCreateSerializer,
        responses={201: AssumptionVersionSerializer, 400: INVALID_FILE_RESPONSE},
        parameters=[*ORG, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        self.scope.require("pricing.edit")
        serializer = AssumptionSetCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assumption_set = services.assumption_set_create(scope=self.scope, **serializer.validated_data)
        draft = selectors.assumption_version_get(
            scope=self.scope, assumption_set=assumption_set, number="draft"
        )
        return Response(AssumptionVersionSerializer(draft).data, status=status.HTTP_201_CREATED)


class AssumptionDefaultsApi(ScopedAPIView):
    """The platform's default assumptions with their sources, and your plan's starting set."""

    @extend_schema(responses=DefaultsSerializer, parameters=ORG)
    def get(self, request):
        self.scope.require("pricing.view")
        plan_assumptions, plan_sources = services.plan_defaults(self.scope.organization)
        return Response(
            {
                **defaults.defaults_catalogue(),
                "plan_assumptions": plan_assumptions,
                "plan_sources": plan_sources,
            }
        )


class AssumptionImportApi(ScopedAPIView):
    """Create an assumption set (as a draft) from a pricing file's `assumptions` part (and `sources`)."""

    @extend_schema(
        request=AssumptionImportSerializer,
        responses={201: AssumptionVersionSerializer, 400: INVALID_FILE_RESPONSE},
        parameters=[
            *ORG,
            OpenApiParameter("name", str, description="Name of the new set"),
            IDEMPOTENCY_PARAMETER,
        ],
    )
    @idempotent
    def post(self, request):
        assumption_set = services.assumption_set_import(
            scope=self.scope, document=request.data, name=request.query_params.get("name") or None
        )
        draft = selectors.assumption_version_get(
            scope=self.scope, assumption_set=assumption_set, number="draft"
        )
        return Response(AssumptionVersionSerializer(draft).data, status=status.HTTP_201_CREATED)


class AssumptionSetDetailApi(ScopedAPIView):
    @extend_schema(responses=AssumptionSetDetailSerializer, parameters=ORG)
    def get(self, request, set_id):
        assumption_set = selectors.assumption_set_get(scope=self.scope, public_id=set_id)
        versions = selectors.assumption_version_list(scope=self.scope, assumption_set=assumption_set)
        return Response(
            AssumptionSetDetailSerializer({"assumption_set": assumption_set, "versions": versions}).data
        )


class AssumptionDraftApi(ScopedAPIView):
    @extend_schema(responses=AssumptionVersionSerializer, parameters=ORG)
    def get(self, request, set_id):
        assumption_set = selectors.assumption_set_get(scope=self.scope, public_id=set_id)
        draft = selectors.assumption_version_get(
            scope=self.scope, assumption_set=assumption_set, number="draft"
        )
        return Response(AssumptionVersionSerializer(draft).data)

    @extend_schema(
        request=DraftUpdateSerializer,
        responses={200: AssumptionVersionSerializer, 400: INVALID_FILE_RESPONSE},
        parameters=ORG,
    )
    def put(self, request, set_id):
        assumption_set = selectors.assumption_set_get(scope=self.scope, public_id=set_id)
        self.scope.require("pricing.edit")
        serializer = DraftUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        draft = services.assumption_draft_update(
            scope=self.scope, assumption_set=assumption_set, **serializer.validated_data
        )
        return Response(AssumptionVersionSerializer(draft).data)


class AssumptionPublishApi(ScopedAPIView):
    """Publish the draft as the next numbered, immutable version."""

    @extend_schema(request=None, responses={201: AssumptionVersionSerializer}, parameters=ORG)
    def post(self, request, set_id):
        assumption_set = selectors.assumption_set_get(scope=self.scope, public_id=set_id)
        version = services.assumption_draft_publish(scope=self.scope, assumption_set=assumption_set)
        return Response(AssumptionVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class AssumptionVersionApi(ScopedAPIView):
    """One version (a number, or `draft`)."""

    @extend_schema(responses=AssumptionVersionSerializer, parameters=ORG)
    def get(self, request, set_id, number):
        assumption_set = selectors.assumption_set_get(scope=self.scope, public_id=set_id)
        version = selectors.assumption_version_get(
            scope=self.scope, assumption_set=assumption_set, number=number
        )
        return Response(AssumptionVersionSerializer(version).data)


class AssumptionNewDraftApi(ScopedAPIView):
    @extend_schema(request=None, responses={201: AssumptionVersionSerializer}, parameters=ORG)
    def post(self, request, set_id, number):
        assumption_set = selectors.assumption_set_get(scope=self.scope, public_id=set_id)
        version = selectors.assumption_version_get(
            scope=self.scope, assumption_set=assumption_set, number=number
        )
        draft = services.assumption_version_new_draft(scope=self.scope, version=version)
        return Response(AssumptionVersionSerializer(draft).data, status=status.HTTP_201_CREATED)


class AssumptionExportApi(ScopedAPIView):
    """The version as a pricing file: `format`, `assumptions` and (an extension) `sources`."""

    @extend_schema(responses=AssumptionImportSerializer, parameters=ORG)
    def get(self, request, set_id, number):
        assumption_set = selectors.assumption_set_get(scope=self.scope, public_id=set_id)
        version = selectors.assumption_version_get(
            scope=self.scope, assumption_set=assumption_set, number=number
        )
        response = Response(services.assumption_version_export(version=version))
        response["Content-Disposition"] = (
            f'attachment; filename="assumptions-{assumption_set.public_id}-{version.label}.json"'
        )
        return response


# --- experience --------------------------------------------------------------------------------


class ExperienceListApi(ScopedMixin, generics.ListAPIView):
    """Experience uploads. POST (multipart) a CSV of month, tier, member_months, cost and optionally
    a CSV of enrollment spans: every row is validated; with any error nothing is loaded (400 with
    every error's row and column) and the upload is kept as `rejected` with its file. Files larger
    than the server reads in the request are kept and read by a worker: 202 with the upload
    `processing` (its GET, at `Location`, gives the verdict)."""

    queryset = ExperienceDataset.objects.none()
    serializer_class = ExperienceSerializer
    filter_backends: list = []
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.experience_list(scope=self.scope, status=self.request.query_params.get("status", ""))

    @extend_schema(
        parameters=[*ORG, OpenApiParameter("status", str, enum=["valid", "rejected", "processing"])]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": ExperienceUploadSerializer},
        responses={
            201: ExperienceDetailSerializer,
            202: OpenApiResponse(
                ExperienceDetailSerializer,
                description="Large files: kept and read by a worker (`processing`)",
            ),
            400: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "`details.problems`: [{file, row, column, code, message}] (`details.errors`: the same "
                    "list, deprecated); `details.dataset_id`: the kept upload"
                ),
            ),
        },
        parameters=[*ORG, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        self.scope.require("pricing.edit")
        serializer = ExperienceUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        provider = None
        if data.get("provider_id"):
            from accounts import selectors as account_selectors

            provider = account_selectors.organization_get(scope=self.scope, public_id=data["provider_id"])
        dataset = services.experience_upload(
            scope=self.scope,
            name=data["name"],
            program_name=data["program_name"],
            provider=provider,
            file=data["file"],
            spans_file=data.get("spans_file"),
        )
        if dataset.status == ExperienceStatus.PROCESSING:
            response = Response(ExperienceDetailSerializer(dataset).data, status=status.HTTP_202_ACCEPTED)
            response["Location"] = reverse("api-experience-detail", args=[dataset.public_id])
            return response
        if not dataset.is_valid:
            raise services.experience_rejected_error(dataset)
        return Response(ExperienceDetailSerializer(dataset).data, status=status.HTTP_201_CREATED)


class ExperienceDetailApi(ScopedAPIView):
    @extend_schema(responses=ExperienceDetailSerializer, parameters=ORG)
    def get(self, request, dataset_id):
        return Response(
            ExperienceDetailSerializer(selectors.experience_get(scope=self.scope, public_id=dataset_id)).data
        )


class ExperienceFileApi(ScopedAPIView):
    """The uploaded file as it was received (`?which=spans` for the spans file)."""

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
        parameters=[*ORG, OpenApiParameter("which", str, enum=["experience", "spans"])],
    )
    def get(self, request, dataset_id):
        dataset = selectors.experience_get(scope=self.scope, public_id=dataset_id)
        which = request.query_params.get("which", "experience")
        record_access(
            scope=self.scope,
            action="experience.download",
            object_type="experience_dataset",
            object_id=dataset.public_id,
            detail=f"{which} file",
            request=request,
        )
        return report.file_response(dataset, which)


# --- fee schedules ---------------------------------------------------------------------------------


class FeeScheduleListApi(ScopedAPIView):
    """The plan's fee schedules (its state Medicaid schedule). POST (multipart) a CSV of code, modifier,
    rate, effective_start, effective_end under a schedule's name: a new schedule, or a new version of
    the one with that name. Every row is validated; with any error no rate is loaded (400 with every
    error's row and column, `details.version_id` the kept upload)."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=FeeScheduleSerializer(many=True), parameters=ORG)
    def get(self, request):
        return Response(FeeScheduleSerializer(selectors.fee_schedule_list(scope=self.scope), many=True).data)

    @extend_schema(
        request={"multipart/form-data": FeeScheduleUploadSerializer},
        responses={201: FeeScheduleVersionDetailSerializer, 400: INVALID_FILE_RESPONSE},
        parameters=[*ORG, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        self.scope.require("pricing.edit")
        serializer = FeeScheduleUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = services.fee_schedule_upload(
            scope=self.scope, name=data["name"], file=data["file"], notes=data["notes"]
        )
        if not version.is_valid:
            raise services.fee_schedule_rejected_error(version)
        response = Response(FeeScheduleVersionDetailSerializer(version).data, status=status.HTTP_201_CREATED)
        response["Location"] = reverse(
            "api-fee-schedule-version", args=[version.schedule.public_id, version.number]
        )
        return response


class FeeScheduleDetailApi(ScopedAPIView):
    """A fee schedule and its uploads, newest first (valid ones numbered, rejected ones with their errors)."""

    @extend_schema(responses=FeeScheduleDetailSerializer, parameters=ORG)
    def get(self, request, schedule_id):
        schedule = selectors.fee_schedule_get(scope=self.scope, public_id=schedule_id)
        versions = selectors.fee_schedule_versions(scope=self.scope, schedule=schedule)
        return Response(FeeScheduleDetailSerializer(schedule, context={"versions": versions}).data)


class FeeScheduleVersionApi(ScopedAPIView):
    """One valid version of a fee schedule with its rates."""

    @extend_schema(responses=FeeScheduleVersionDetailSerializer, parameters=ORG)
    def get(self, request, schedule_id, number):
        schedule = selectors.fee_schedule_get(scope=self.scope, public_id=schedule_id)
        version = selectors.fee_schedule_version_get(scope=self.scope, schedule=schedule, number=number)
        return Response(FeeScheduleVersionDetailSerializer(version).data)


# --- runs --------------------------------------------------------------------------------------


class RunListApi(ScopedMixin, generics.ListAPIView):
    """Pricing runs newest first. POST starts one (202): it runs in the background; poll
    `status_url` for `status` and `progress`."""

    queryset = PricingRun.objects.none()
    serializer_class = PricingRunSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.pricing_run_list(
            scope=self.scope, status=self.request.query_params.get("status", "")
        )

    @extend_schema(parameters=[*ORG, OpenApiParameter("status", str, enum=PricingRunStatus.values)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=RunStartSerializer,
        responses={202: RunAcceptedSerializer, 400: INVALID_FILE_RESPONSE},
        parameters=[*ORG, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        self.scope.require("pricing.run")
        serializer = RunStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        bundle = bundle_selectors.bundle_get(scope=self.scope, public_id=data["bundle_id"])
        bundle_version = bundle_selectors.version_get(
            scope=self.scope, bundle=bundle, number=data["bundle_version"]
        )
        assumption_set = selectors.assumption_set_get(scope=self.scope, public_id=data["assumption_set_id"])
        number = data.get("assumption_set_version")
        if number is None:
            latest = (
                selectors.assumption_version_list(scope=self.scope, assumption_set=assumption_set)
                .filter(number__isnull=False)
                .first()
            )
            if latest is None:
                raise ApplicationError(
                    services.ASSUMPTIONS_NOT_PUBLISHED_MESSAGE, code="assumptions_not_published", status=409
                )
            number = latest.number
        version = selectors.assumption_version_get(
            scope=self.scope, assumption_set=assumption_set, number=number
        )
        experience = None
        if data.get("experience_id"):
            experience = selectors.experience_get(scope=self.scope, public_id=data["experience_id"])
        fee_schedule_version = None
        if data.get("fee_schedule_id"):
            fee_schedule_version = selectors.fee_schedule_version_for_run(
                scope=self.scope, schedule_id=data["fee_schedule_id"], number=data.get("fee_schedule_version")
            )
        run = services.pricing_run_start(
            scope=self.scope,
            bundle_version=bundle_version,
            assumption_set_version=version,
            experience=experience,
            markets=data.get("markets"),
            lobs=data.get("lobs"),
            seed=data.get("seed"),
            options=data.get("options"),
            fee_schedule_version=fee_schedule_version,
        )
        response = Response(RunAcceptedSerializer(run).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = RunAcceptedSerializer(run).data["status_url"]
        return response


class RunDetailApi(ScopedAPIView):
    """A run: `status` (queued, running, succeeded, failed, cancelled), `progress` (0-100), `error`
    when it failed, and when it succeeded its `result`."""

    @extend_schema(responses=PricingRunDetailSerializer, parameters=ORG)
    def get(self, request, run_id):
        return Response(
            PricingRunDetailSerializer(selectors.pricing_run_get(scope=self.scope, public_id=run_id)).data
        )


class RunCancelApi(ScopedAPIView):
    """Cancel: a queued run never starts; a running one stops at its next step. 409 once finished."""

    @extend_schema(request=None, responses={200: PricingRunSerializer}, parameters=ORG)
    def post(self, request, run_id):
        run = selectors.pricing_run_get(scope=self.scope, public_id=run_id, own=True)
        run = services.pricing_run_cancel(scope=self.scope, run=run)
        return Response(
            PricingRunSerializer(selectors.pricing_run_get(scope=self.scope, public_id=run.public_id)).data
        )


class RunShareListApi(ScopedAPIView):
    """The run's shares, active and revoked (its owner only). POST shares the succeeded run and its
    report, read-only, with an organisation of the other kind: 409 `run_not_succeeded`, 409
    `already_shared`, 400 `share_with_own_organization` or `unknown_recipient`."""

    @extend_schema(responses=PricingRunShareSerializer(many=True), parameters=ORG)
    def get(self, request, run_id):
        run = selectors.pricing_run_get(scope=self.scope, public_id=run_id)
        return Response(
            PricingRunShareSerializer(selectors.run_share_list(scope=self.scope, run=run), many=True).data
        )

    @extend_schema(
        request=ShareInputSerializer,
        responses={201: PricingRunShareSerializer, 409: ErrorSerializer},
        parameters=ORG,
    )
    def post(self, request, run_id):
        run = selectors.pricing_run_get(scope=self.scope, public_id=run_id)
        serializer = ShareInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        organization = account_selectors.share_recipient(scope=self.scope, public_id=data["organization_id"])
        share = services.pricing_run_share(
            scope=self.scope, run=run, organization=organization, note=data["note"]
        )
        return Response(PricingRunShareSerializer(share).data, status=status.HTTP_201_CREATED)


class RunShareRevokeApi(ScopedAPIView):
    """Stop sharing the run with the share's organisation (it gets 404 again); 409 `share_revoked`
    when it already was."""

    @extend_schema(
        request=None, responses={200: PricingRunShareSerializer, 409: ErrorSerializer}, parameters=ORG
    )
    def post(self, request, run_id, share_id):
        run = selectors.pricing_run_get(scope=self.scope, public_id=run_id)
        share = selectors.run_share_get(scope=self.scope, run=run, share_id=share_id)
        return Response(
            PricingRunShareSerializer(services.pricing_run_share_revoke(scope=self.scope, share=share)).data
        )


class RunInputsApi(ScopedAPIView):
    """The run's complete inputs: the pricing file it priced (importable), markets, LOBs, seed,
    options, engine version, what they were taken from, and their hash."""

    @extend_schema(responses=OpenApiTypes.OBJECT, parameters=ORG)
    def get(self, request, run_id):
        run = selectors.pricing_run_get(scope=self.scope, public_id=run_id)
        response = Response({**run.inputs, "inputs_hash": run.inputs_hash})
        response["Content-Disposition"] = f'attachment; filename="pricing-run-{run.public_id}-inputs.json"'
        return response


class RunReportApi(ScopedAPIView):
    """The pricing report (PDF): an actuarial rate development summary of a succeeded run."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY}, parameters=ORG)
    def get(self, request, run_id):
        run = selectors.pricing_run_get(scope=self.scope, public_id=run_id)
        if not run.succeeded:
            raise NotFoundError("The report exists once the run has succeeded.", code="no_report")
        response = HttpResponse(report.render_pdf(run), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{report.pdf_filename(run)}"'
        return response


class RunSensitivityApi(ScopedAPIView):
    """A run's sensitivity analyses (GET, newest first); POST asks for one rate cell's: each ranged
    assumption across its range, the cell's PMPM and (at the run's rates) the probability of a loss.
    202: a worker computes it; poll `status_url`. Asking again for the same cell returns the same
    analysis (a failed one is queued again)."""

    @extend_schema(responses=SensitivitySerializer(many=True), parameters=ORG)
    def get(self, request, run_id):
        run = selectors.pricing_run_get(scope=self.scope, public_id=run_id, own=True)
        analyses = selectors.sensitivity_list(scope=self.scope, run=run).select_related("run")
        return Response(SensitivitySerializer(analyses, many=True).data)

    @extend_schema(
        request=SensitivityStartSerializer,
        responses={202: SensitivitySerializer, 400: INVALID_FILE_RESPONSE},
        parameters=ORG,
    )
    def post(self, request, run_id):
        run = selectors.pricing_run_get(scope=self.scope, public_id=run_id, own=True)
        serializer = SensitivityStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        analysis = services.sensitivity_start(
            scope=self.scope,
            run=run,
            tier=data["tier"],
            market=data["market"],
            lob=data["lob"],
            n_years=data.get("simulation_years"),
        )
        response = Response(SensitivitySerializer(analysis).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = response.data["status_url"]
        return response


class SensitivityDetailApi(ScopedAPIView):
    """One sensitivity analysis: its status and progress, and its result once it has succeeded."""

    @extend_schema(responses=SensitivityDetailSerializer, parameters=ORG)
    def get(self, request, analysis_id):
        analysis = selectors.sensitivity_get(scope=self.scope, public_id=analysis_id)
        return Response(SensitivityDetailSerializer(analysis).data)


class RunWhatIfApi(ScopedAPIView):
    """Price a succeeded run again with its levers moved (conversion rate, productivity, every salary,
    enrollment), storing nothing: `side_by_side` puts the run's rates, assessment fees and budgets
    beside the what-if's. With `"save": true` the levers are kept instead: a new assumption set (the
    run's, with the levers moved) and a pricing run with it (202, like starting a run)."""

    @extend_schema(
        request=WhatIfSerializer,
        responses={200: OpenApiTypes.OBJECT, 202: RunAcceptedSerializer, 400: INVALID_FILE_RESPONSE},
        parameters=ORG,
    )
    def post(self, request, run_id):
        run = selectors.pricing_run_get(scope=self.scope, public_id=run_id, own=True)
        serializer = WhatIfSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        levers = services.run_levers(run) if run.succeeded else {}
        what_if = WhatIf(
            conversion_rate=data.get("conversion_rate", levers.get("conversion_rate")),
            productivity=data.get("productivity", levers.get("productivity")),
            wage_change=data.get("wage_change", Decimal(0)),
            enrollment_change=data.get("enrollment_change", Decimal(0)),
        )
        if data["save"]:
            new_run = services.pricing_run_what_if_save(scope=self.scope, run=run, what_if=what_if)
            response = Response(RunAcceptedSerializer(new_run).data, status=status.HTTP_202_ACCEPTED)
            response["Location"] = response.data["status_url"]
            return response
        result = services.pricing_what_if(scope=self.scope, run=run, what_if=what_if)
        return Response(
            {
                "levers": {
                    "conversion_rate": format(what_if.conversion_rate, "f"),
                    "productivity": format(what_if.productivity, "f"),
                    "wage_change": format(what_if.wage_change, "f"),
                    "enrollment_change": format(what_if.enrollment_change, "f"),
                },
                **result,
            }
        )


class RunComparisonApi(ScopedAPIView):
    """Two to six succeeded runs side by side (the first is the baseline) and the walk from it to
    another: `runs` is a comma-separated list of run ids, `to` the run the walk goes to (the second
    by default). `side_by_side` has, per rate cell, market and role, each run's value and its change
    from the first; `input_differences` every input that is not the same in all; `walk.steps` the
    parts swapped one at a time, and per rate cell and market `steps` (each step's change, adding
    up to `change` to the cent). `?file=xlsx` or `?file=pdf` returns the same as a file."""

    @extend_schema(
        parameters=[
            *ORG,
            OpenApiParameter("runs", str, required=True, description="Run ids, comma-separated, 2 to 6"),
            OpenApiParameter("to", str, description="The run the walk goes to (default: the second)"),
            OpenApiParameter(
                "cell", str, description="PDF only: the rate cell whose walk it shows (tier/market/lob)"
            ),
            OpenApiParameter("file", str, enum=["xlsx", "pdf"], description="The comparison as a file"),
        ],
        responses={
            200: OpenApiTypes.OBJECT,
            (200, "application/pdf"): OpenApiTypes.BINARY,
            400: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request):
        ids = [i.strip() for i in request.query_params.get("runs", "").split(",") if i.strip()]
        runs = selectors.pricing_runs_for_comparison(scope=self.scope, run_ids=ids)
        document = comparison.build_comparison(runs, walk_to=request.query_params.get("to"))
        kind = request.query_params.get("file", "")
        if not kind:
            return Response(document)
        if kind not in ("xlsx", "pdf"):
            raise ApplicationError("file is xlsx or pdf.", code="unknown_file_kind")
        cell = request.query_params.get("cell")
        if kind == "pdf":
            comparison.refuse_unknown_cell(document["walk"], cell)
        content = comparison.render_file(document, kind, cell=cell, organization=self.scope.organization)
        response = HttpResponse(content, content_type=comparison.content_type(kind))
        response["Content-Disposition"] = f'attachment; filename="{comparison.filename(document, kind)}"'
        return response
