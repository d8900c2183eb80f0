"""Payments API: a contract's runs (list, calculate a month), a run (lines, what changed, approve), its
member rows, its statement (PDF, CSV, X12 820), the contract's payment history and ledger, and the settlements
of closed performance periods (withhold returned, quality bonus, shared savings)."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView, ScopedMixin
from core.api import ErrorSerializer
from core.audit import record_access
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.models import BulkOperation
from payments import selectors, services, statements
from payments.models import (
    LedgerCorrection,
    LedgerEntry,
    PaymentDetail,
    PaymentRun,
    PaymentRunStatus,
    Refund,
    Settlement,
)
from payments.serializers import (
    HistorySerializer,
    LedgerBalanceQuerySerializer,
    LedgerBalanceSerializer,
    LedgerCorrectionRejectSerializer,
    LedgerCorrectionRequestSerializer,
    LedgerCorrectionSerializer,
    LedgerEntrySerializer,
    MemberRowSerializer,
    MonthEndDetailSerializer,
    MonthEndSerializer,
    MonthEndStartSerializer,
    PaymentRunDetailSerializer,
    PaymentRunSerializer,
    PaymentRunStartedSerializer,
    PaymentRunStartSerializer,
    RefundRejectSerializer,
    RefundRequestSerializer,
    RefundSerializer,
    SettlementAllDetailSerializer,
    SettlementAllSerializer,
    SettlementAllStartSerializer,
    SettlementSerializer,
    SettlementStartedSerializer,
    SettlementStartSerializer,
)

CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="Not possible in the run's or month's current state "
    "(no accepted roster, not in review, inputs changed).",
)


def _contract(scope, contract_id):
    return selectors.contract_for_payments(scope=scope, contract_id=contract_id)


def run_detail_data(scope, run: PaymentRun, request=None) -> dict:
    run.line_list = list(selectors.line_list(run=run))
    changes = selectors.changes_since_previous_month(run=run)
    # Every read is logged, members named or not: a route that can show member data always logs.
    record_access(
        scope=scope,
        action="payment_run.view",
        object_type="payment_run",
        object_id=run.public_id,
        detail=f"{run.contract.number} {run.month_label}: members named in the run",
        request=request,
    )
    return PaymentRunDetailSerializer(run, context={"changes": changes}).data


class ContractPaymentRunListApi(ScopedMixin, generics.ListAPIView):
    """A contract's payment runs, newest month first (a provider sees approved runs only)."""

    queryset = PaymentRun.objects.none()
    serializer_class = PaymentRunSerializer
    filter_backends: list = []

    def get_queryset(self):
        contract = _contract(self.scope, self.kwargs["contract_id"])
        return selectors.run_list(
            scope=self.scope, contract=contract, status=self.request.query_params.get("status", "")
        )

    @extend_schema(
        parameters=[
            ORGANIZATION_PARAMETER,
            OpenApiParameter(
                "status", str, description="Only runs in this status: " + ", ".join(PaymentRunStatus.values)
            ),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=PaymentRunStartSerializer,
        responses={202: PaymentRunStartedSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, contract_id):
        """Calculate a month's payment (the plan). A paid month is calculated again as an adjustment holding only
        what changed since; with nothing changed, nothing is created and the latest run is returned."""
        contract = _contract(self.scope, contract_id)  # another organisation's contract: 404 before any 400
        serializer = PaymentRunStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run, created = services.payment_run_start(
            scope=self.scope, contract=contract, month=serializer.validated_data["month"]
        )
        body = {
            "id": run.public_id,
            "status": run.status,
            "kind": run.kind,
            "number": run.number,
            "month": run.month_label,
            "created": created,
            "url": PaymentRunSerializer(run).data["url"],
        }
        return Response(PaymentRunStartedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class PaymentRunApi(ScopedAPIView):
    """A run: status, total, lines (kind, rate cell, member-months, rate, amount) and what changed since the
    month before."""

    @extend_schema(responses=PaymentRunDetailSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, run_id):
        run = selectors.run_get(scope=self.scope, run_id=run_id)
        return Response(run_detail_data(self.scope, run, request))


class PaymentRunApproveApi(ScopedAPIView):
    """Approve a run in review (the plan's analyst): its lines are posted to the ledger."""

    @extend_schema(
        request=None,
        responses={200: PaymentRunDetailSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, run_id):
        run = selectors.run_get(scope=self.scope, run_id=run_id)
        run = services.payment_run_approve(scope=self.scope, run=run)
        return Response(
            run_detail_data(self.scope, selectors.run_get(scope=self.scope, run_id=run.public_id), request)
        )


class PaymentRunMembersApi(ScopedMixin, generics.ListAPIView):
    """The run's member rows: one per member and line (rate cell, assessment, adjusted month). PHI: logged."""

    queryset = PaymentDetail.objects.none()
    serializer_class = MemberRowSerializer
    filter_backends: list = []

    def get_queryset(self):
        run = selectors.run_get(scope=self.scope, run_id=self.kwargs["run_id"])
        record_access(
            scope=self.scope,
            action="payment_run.members",
            object_type="payment_run",
            object_id=run.public_id,
            detail=f"{run.contract.number} {run.month_label}",
            request=self.request,
        )
        return selectors.detail_list(run=run, search=self.request.query_params.get("search", ""))

    @extend_schema(
        parameters=[
            ORGANIZATION_PARAMETER,
            OpenApiParameter("search", str, description="Part of a member id"),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class _FileRenderer(BaseRenderer):
    """Lets a client ask for the file's type in Accept; success responses are plain HttpResponses."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else JSONRenderer().render(data)


def _renderer(media_type: str, suffix: str) -> type[BaseRenderer]:
    return type(
        f"Payment{suffix.title()}Renderer", (_FileRenderer,), {"media_type": media_type, "format": suffix}
    )


class _FileApi(ScopedAPIView):
    """A file download: its type from ``fmt``; errors stay JSON whatever the client accepted."""

    fmt = "pdf"

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    def file_response(self, content: bytes, filename: str) -> HttpResponse:
        response = HttpResponse(content, content_type=statements.CONTENT_TYPES[self.fmt])
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class _StatementApi(_FileApi):
    def get(self, request, run_id):
        run = selectors.run_get(scope=self.scope, run_id=run_id)
        render = {"pdf": statements.render_pdf, "csv": statements.render_csv, "820": statements.render_820}[
            self.fmt
        ]
        content = render(run)
        record_access(
            scope=self.scope,
            action=f"statement.download.{self.fmt}",
            object_type="payment_run",
            object_id=run.public_id,
            detail=f"{run.contract.number} {run.month_label}",
            request=request,
        )
        return self.file_response(content, statements.filename(run, self.fmt))


def _statement_schema(media_type: str, what: str, conflict: bool = False):
    responses = {(200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=what)}
    if conflict:
        responses[409] = CONFLICT
    return extend_schema(parameters=[ORGANIZATION_PARAMETER], responses=responses)


class StatementPdfApi(_StatementApi):
    fmt = "pdf"
    renderer_classes = [JSONRenderer, _renderer("application/pdf", "pdf")]

    @_statement_schema(
        "application/pdf", "Summary by rate cell, assessments, adjustments, withhold, year to date"
    )
    def get(self, request, run_id):
        return super().get(request, run_id)


class StatementCsvApi(_StatementApi):
    fmt = "csv"
    renderer_classes = [JSONRenderer, _renderer("text/csv", "csv")]

    @_statement_schema("text/csv", "One row per member and rate cell (and per assessment and adjusted month)")
    def get(self, request, run_id):
        return super().get(request, run_id)


class Statement820Api(_StatementApi):
    fmt = "820"
    renderer_classes = [JSONRenderer, _renderer("application/edi-x12", "820")]

    @_statement_schema("application/edi-x12", "X12 820 005010X218 remittance (approved runs)", conflict=True)
    def get(self, request, run_id):
        return super().get(request, run_id)


class ContractPaymentHistoryApi(ScopedAPIView):
    """Posted payments per month with member-months, and year-to-date totals (both parties)."""

    @extend_schema(responses=HistorySerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, contract_id):
        contract = _contract(self.scope, contract_id)
        history = selectors.payment_history(scope=self.scope, contract=contract)
        return Response(HistorySerializer({"contract": contract.number, **history}).data)


class ContractLedgerApi(ScopedMixin, generics.ListAPIView):
    """The contract's ledger: every posted entry in order (append-only; corrections reverse and re-post)."""

    queryset = LedgerEntry.objects.none()
    serializer_class = LedgerEntrySerializer
    filter_backends: list = []

    def get_queryset(self):
        contract = _contract(self.scope, self.kwargs["contract_id"])
        return selectors.ledger_list(scope=self.scope, contract=contract)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


SETTLEMENT_CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="The period is not over, overlaps a settled "
    "period, or the settlement is not in review or "
    "its inputs changed.",
)


class ContractSettlementListApi(ScopedMixin, generics.ListAPIView):
    """A contract's settlements, latest period first (a provider sees approved ones only)."""

    queryset = Settlement.objects.none()
    serializer_class = SettlementSerializer
    filter_backends: list = []

    def get_queryset(self):
        contract = _contract(self.scope, self.kwargs["contract_id"])
        return selectors.settlement_list(scope=self.scope, contract=contract)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=SettlementStartSerializer,
        responses={
            201: SettlementStartedSerializer,
            200: SettlementStartedSerializer,
            409: SETTLEMENT_CONFLICT,
        },
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, contract_id):
        """Settle a closed period (the plan): 201 with a new settlement in review holding what is due, or 200 with
        the existing one when nothing changed since (settling again never posts twice)."""
        contract = _contract(self.scope, contract_id)
        serializer = SettlementStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        settlement, created = services.settlement_request(
            scope=self.scope, contract=contract, period=serializer.validated_data["period"]
        )
        body = SettlementStartedSerializer(settlement, context={"created": created}).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class SettlementApi(ScopedAPIView):
    """A settlement: the period's composite score, what it earns, what was posted before and this one's lines."""

    @extend_schema(responses=SettlementSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, settlement_id):
        return Response(
            SettlementSerializer(selectors.settlement_get(scope=self.scope, settlement_id=settlement_id)).data
        )


class SettlementApproveApi(ScopedAPIView):
    """Approve a settlement in review (the plan's analyst): its lines are posted to the ledger, once."""

    @extend_schema(
        request=None,
        responses={200: SettlementSerializer, 409: SETTLEMENT_CONFLICT},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, settlement_id):
        settlement = selectors.settlement_get(scope=self.scope, settlement_id=settlement_id)
        settlement = services.settlement_approve(scope=self.scope, settlement=settlement)
        return Response(
            SettlementSerializer(
                selectors.settlement_get(scope=self.scope, settlement_id=settlement.public_id)
            ).data
        )


class _SettlementStatementApi(_FileApi):
    """A settlement's statement (no member data, so no access-log entry)."""

    def get(self, request, settlement_id):
        settlement = selectors.settlement_get(scope=self.scope, settlement_id=settlement_id)
        render = {"pdf": statements.render_settlement_pdf, "csv": statements.render_settlement_csv}[self.fmt]
        return self.file_response(render(settlement), statements.settlement_filename(settlement, self.fmt))


class SettlementStatementPdfApi(_SettlementStatementApi):
    fmt = "pdf"
    renderer_classes = [JSONRenderer, _renderer("application/pdf", "pdf")]

    @_statement_schema(
        "application/pdf", "The settlement's lines, the measures scored, shared savings, ledger entries"
    )
    def get(self, request, settlement_id):
        return super().get(request, settlement_id)


class SettlementStatementCsvApi(_SettlementStatementApi):
    fmt = "csv"
    renderer_classes = [JSONRenderer, _renderer("text/csv", "csv")]

    @_statement_schema(
        "text/csv", "One row per settlement line: earned, posted before, this settlement's amount"
    )
    def get(self, request, settlement_id):
        return super().get(request, settlement_id)


CORRECTION_CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="The entry is a reversal, is already reversed or has a correction waiting; "
    "or the correction was already approved or rejected.",
)


class ContractLedgerCorrectionListApi(ScopedMixin, generics.ListAPIView):
    """A contract's ledger corrections, newest first (a provider sees approved ones only); the plan
    requests one (an analyst; another approves it)."""

    queryset = LedgerCorrection.objects.none()
    serializer_class = LedgerCorrectionSerializer
    filter_backends: list = []

    def get_queryset(self):
        contract = _contract(self.scope, self.kwargs["contract_id"])
        return selectors.correction_list(scope=self.scope, contract=contract)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=LedgerCorrectionRequestSerializer,
        responses={201: LedgerCorrectionSerializer, 409: CORRECTION_CONFLICT},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, contract_id):
        """Request the correction of a posted entry to a new amount, with a reason. Nothing is posted until a
        second analyst approves it."""
        contract = _contract(self.scope, contract_id)
        serializer = LedgerCorrectionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        entry = selectors.ledger_entry_get(scope=self.scope, contract=contract, sequence=data["entry"])
        correction = services.ledger_correction_request(
            scope=self.scope, entry=entry, amount=data["amount"], reason=data["reason"]
        )
        correction = selectors.correction_get(scope=self.scope, correction_id=correction.public_id)
        return Response(LedgerCorrectionSerializer(correction).data, status=status.HTTP_201_CREATED)


class LedgerCorrectionApi(ScopedAPIView):
    """A ledger correction: the entry, the new amount, the reason, who requested and who decided."""

    @extend_schema(responses=LedgerCorrectionSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, correction_id):
        correction = selectors.correction_get(scope=self.scope, correction_id=correction_id)
        return Response(LedgerCorrectionSerializer(correction).data)


class LedgerCorrectionApproveApi(ScopedAPIView):
    """Approve a requested correction (an analyst other than the requester, unless under the contract's
    single-approval limit): the reversing entry and the new one are posted together."""

    @extend_schema(
        request=None,
        responses={200: LedgerCorrectionSerializer, 409: CORRECTION_CONFLICT},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, correction_id):
        correction = selectors.correction_get(scope=self.scope, correction_id=correction_id)
        services.ledger_correction_approve(scope=self.scope, correction=correction)
        correction = selectors.correction_get(scope=self.scope, correction_id=correction_id)
        return Response(LedgerCorrectionSerializer(correction).data)


class LedgerCorrectionRejectApi(ScopedAPIView):
    """Reject a requested correction (the requester may withdraw their own): nothing is posted."""

    @extend_schema(
        request=LedgerCorrectionRejectSerializer,
        responses={200: LedgerCorrectionSerializer, 409: CORRECTION_CONFLICT},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, correction_id):
        correction = selectors.correction_get(scope=self.scope, correction_id=correction_id)
        serializer = LedgerCorrectionRejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.ledger_correction_reject(
            scope=self.scope, correction=correction, reason=serializer.validated_data["reason"]
        )
        correction = selectors.correction_get(scope=self.scope, correction_id=correction_id)
        return Response(LedgerCorrectionSerializer(correction).data)


REFUND_CONFLICT = OpenApiResponse(ErrorSerializer, description="The refund was already approved or rejected.")


class ContractRefundListApi(ScopedMixin, generics.ListAPIView):
    """A contract's refunds received, newest first (a provider sees approved ones only); the plan records
    one (an analyst; another approves it)."""

    queryset = Refund.objects.none()
    serializer_class = RefundSerializer
    filter_backends: list = []

    def get_queryset(self):
        contract = _contract(self.scope, self.kwargs["contract_id"])
        return selectors.refund_list(scope=self.scope, contract=contract)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=RefundRequestSerializer,
        responses={201: RefundSerializer},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, contract_id):
        """Record a refund received from the provider (at most the open receivable), with a reason.
        Nothing is posted until a second analyst approves it."""
        contract = _contract(self.scope, contract_id)
        serializer = RefundRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refund = services.refund_request(scope=self.scope, contract=contract, **serializer.validated_data)
        refund = selectors.refund_get(scope=self.scope, refund_id=refund.public_id)
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)


class RefundApi(ScopedAPIView):
    """A refund received: amount, date, reference, reason, who recorded it and who decided."""

    @extend_schema(responses=RefundSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, refund_id):
        refund = selectors.refund_get(scope=self.scope, refund_id=refund_id)
        return Response(RefundSerializer(refund).data)


class RefundApproveApi(ScopedAPIView):
    """Approve a recorded refund (an analyst other than the one who recorded it, unless under the
    contract's single-approval limit): its ledger entry is posted."""

    @extend_schema(
        request=None,
        responses={200: RefundSerializer, 409: REFUND_CONFLICT},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, refund_id):
        refund = selectors.refund_get(scope=self.scope, refund_id=refund_id)
        services.refund_approve(scope=self.scope, refund=refund)
        refund = selectors.refund_get(scope=self.scope, refund_id=refund_id)
        return Response(RefundSerializer(refund).data)


class RefundRejectApi(ScopedAPIView):
    """Reject a recorded refund (the analyst who recorded it may withdraw it): nothing is posted."""

    @extend_schema(
        request=RefundRejectSerializer,
        responses={200: RefundSerializer, 409: REFUND_CONFLICT},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, refund_id):
        refund = selectors.refund_get(scope=self.scope, refund_id=refund_id)
        serializer = RefundRejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.refund_reject(scope=self.scope, refund=refund, reason=serializer.validated_data["reason"])
        refund = selectors.refund_get(scope=self.scope, refund_id=refund_id)
        return Response(RefundSerializer(refund).data)


class ContractLedgerBalanceApi(ScopedAPIView):
    """The contract's ledger at the end of a day: what was paid and the open receivable (what the
    provider owes back), with the receivables, offsets and refunds it comes from. Both parties read it."""

    @extend_schema(
        parameters=[ORGANIZATION_PARAMETER, LedgerBalanceQuerySerializer],
        responses=LedgerBalanceSerializer,
    )
    def get(self, request, contract_id):
        contract = _contract(self.scope, contract_id)
        query = LedgerBalanceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        as_of = query.validated_data.get("as_of") or timezone.localdate()
        balance = selectors.ledger_balance(scope=self.scope, contract=contract, as_of=as_of)
        return Response(LedgerBalanceSerializer(balance).data)


def _month_end_body(operation, serializer=MonthEndSerializer, **extra) -> dict:
    return serializer(operation, context={"progress": selectors.month_end_progress}, **extra).data


class MonthEndListApi(ScopedMixin, generics.ListAPIView):
    """The plan's month-ends, newest month first, each with its progress; POST starts one."""

    queryset = BulkOperation.objects.none()
    serializer_class = MonthEndSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.month_end_list(scope=self.scope)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "progress": selectors.month_end_progress}

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=MonthEndStartSerializer,
        responses={202: MonthEndSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        """Run month-end (the plan): every active contract's payment run of the month, spread over the
        workers. Again for the same month: contracts not finished (no roster yet, failed) are tried again."""
        self.scope.require("payment.run")
        serializer = MonthEndStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        operation, _ = services.month_end_start(scope=self.scope, month=serializer.validated_data["month"])
        operation = selectors.month_end_get(scope=self.scope, operation_id=operation.public_id)
        return Response(_month_end_body(operation), status=status.HTTP_202_ACCEPTED)


class MonthEndApi(ScopedAPIView):
    """A month-end: its progress and every contract with its status, reason and payment run."""

    @extend_schema(responses=MonthEndDetailSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, operation_id):
        operation = selectors.month_end_get(scope=self.scope, operation_id=operation_id)
        operation.rows = selectors.month_end_items(operation=operation)
        return Response(_month_end_body(operation, MonthEndDetailSerializer))


class MonthEndRetryApi(ScopedAPIView):
    """Queue a month-end's failed contracts again, alone (the others stay as they are)."""

    @extend_schema(
        request=None,
        responses={202: MonthEndSerializer},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, operation_id):
        operation = selectors.month_end_get(scope=self.scope, operation_id=operation_id)
        services.month_end_retry_failed(scope=self.scope, operation=operation)
        operation = selectors.month_end_get(scope=self.scope, operation_id=operation_id)
        return Response(_month_end_body(operation), status=status.HTTP_202_ACCEPTED)


def _settlement_all_body(operation, serializer=SettlementAllSerializer, **extra) -> dict:
    return serializer(operation, context={"progress": selectors.month_end_progress}, **extra).data


class SettlementAllListApi(ScopedMixin, generics.ListAPIView):
    """The plan's period settlements for every contract, newest period first, each with its progress;
    POST starts one."""

    queryset = BulkOperation.objects.none()
    serializer_class = SettlementAllSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.settlement_all_list(scope=self.scope)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "progress": selectors.month_end_progress}

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=SettlementAllStartSerializer,
        responses={202: SettlementAllSerializer, 409: CONFLICT},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        """Settle a period for every contract (the plan): each active contract in force then is settled
        on its own, spread over the workers. Again for the same period: contracts not finished (run-out
        not over, claims incomplete, failed) are tried again; settled ones stay."""
        self.scope.require("performance.settle")
        serializer = SettlementAllStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        operation, _ = services.settlement_all_start(
            scope=self.scope, period=serializer.validated_data["period"]
        )
        operation = selectors.settlement_all_get(scope=self.scope, operation_id=operation.public_id)
        return Response(_settlement_all_body(operation), status=status.HTTP_202_ACCEPTED)


class SettlementAllApi(ScopedAPIView):
    """A period settled for every contract: its progress and every contract with its status, reason and
    settlement."""

    @extend_schema(responses=SettlementAllDetailSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, operation_id):
        operation = selectors.settlement_all_get(scope=self.scope, operation_id=operation_id)
        operation.rows = selectors.settlement_all_items(operation=operation)
        return Response(_settlement_all_body(operation, SettlementAllDetailSerializer))


class SettlementAllRetryApi(ScopedAPIView):
    """Queue a period settlement's failed contracts again, alone (the others stay as they are)."""

    @extend_schema(
        request=None,
        responses={202: SettlementAllSerializer},
        parameters=[ORGANIZATION_PARAMETER, IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, operation_id):
        operation = selectors.settlement_all_get(scope=self.scope, operation_id=operation_id)
        services.settlement_all_retry_failed(scope=self.scope, operation=operation)
        operation = selectors.settlement_all_get(scope=self.scope, operation_id=operation_id)
        return Response(_settlement_all_body(operation), status=status.HTTP_202_ACCEPTED)
