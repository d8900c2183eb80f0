"""The workspace over the API: the same worklist and portfolio as the home page; what other
organisations share with yours."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView
from bundles.selectors import version_shares_received
from bundles.serializers import SharedBundleVersionSerializer
from pricing.selectors import run_shares_received
from pricing.serializers import SharedPricingRunSerializer
from web.serializers import WorkspaceSerializer
from web.workspace import workspace_for


class WorkspaceApi(ScopedAPIView):
    """What needs the caller's role now (urgent first) and the portfolio across the organisation's contracts."""

    @extend_schema(responses=WorkspaceSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request):
        workspace = workspace_for(scope=self.scope)
        body = {
            "worklist": workspace.worklist,
            "portfolio": {
                "months": workspace.months,
                "recoveries": workspace.recoveries,
                "expected": workspace.expected,
                "measures": workspace.measures,
            },
        }
        return Response(WorkspaceSerializer(body).data)


class SharedWithUsSerializer(serializers.Serializer):
    bundle_versions = SharedBundleVersionSerializer(many=True)
    pricing_runs = SharedPricingRunSerializer(many=True)


class SharedWithUsApi(ScopedAPIView):
    """What other organisations share with yours now (active shares), newest first: bundle versions
    and pricing runs, each with its owner; read-only."""

    @extend_schema(responses=SharedWithUsSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request):
        body = {
            "bundle_versions": version_shares_received(scope=self.scope),
            "pricing_runs": run_shares_received(scope=self.scope),
        }
        return Response(SharedWithUsSerializer(body).data)
