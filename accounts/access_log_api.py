"""The PHI access log through the API (auditors and administrators of the organisation)."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from accounts.api_base import ORGANIZATION_PARAMETER, ScopedMixin
from accounts.selectors import access_event_list
from core.models import AccessEvent


class AccessEventSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = AccessEvent
        fields = ["at", "username", "action", "object_type", "object_id", "detail", "path"]


class AccessEventFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")
    username = django_filters.CharFilter(field_name="user__username")

    class Meta:
        model = AccessEvent
        fields = ["action", "object_type", "object_id"]


class AccessEventListApi(ScopedMixin, generics.ListAPIView):
    """Who viewed which member data, when: your organisation's events, newest first."""

    queryset = AccessEvent.objects.none()
    serializer_class = AccessEventSerializer
    filterset_class = AccessEventFilter
    ordering_fields = ["at"]

    def get_queryset(self):
        return access_event_list(scope=self.scope)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
