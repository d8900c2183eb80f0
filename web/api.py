"""The workspace over the API: the same worklist and portfolio as the home page."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView
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
