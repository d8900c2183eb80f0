"""Notifications, the member's choices and the organisation's webhooks over the API."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView, ScopedMixin
from core.api import ErrorSerializer
from core.errors import ApplicationError
from notifications import selectors, services
from notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from notifications.serializers import (
    DeliverySerializer,
    NotificationSerializer,
    PreferencesSerializer,
    WebhookSerializer,
)

ORG = [ORGANIZATION_PARAMETER]


class NotificationListApi(ScopedMixin, generics.ListAPIView):
    """Your notifications in the organisation you act for, newest first."""

    queryset = Notification.objects.none()
    serializer_class = NotificationSerializer
    filter_backends: list = []

    def get_queryset(self):
        unread = self.request.query_params.get("unread")
        flag = {"true": True, "1": True, "false": False, "0": False}.get((unread or "").lower())
        if unread and flag is None:
            raise ApplicationError(
                "unread is true or false.", code="validation_error", details={"unread": [unread]}
            )
        return selectors.notification_list(scope=self.scope, unread=flag)

    @extend_schema(parameters=[*ORG, OpenApiParameter("unread", OpenApiTypes.BOOL)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class NotificationReadApi(ScopedAPIView):
    """Mark one notification read."""

    @extend_schema(
        request=None, responses={200: NotificationSerializer, 404: ErrorSerializer}, parameters=ORG
    )
    def post(self, request, notification_id):
        notification = selectors.notification_get(scope=self.scope, notification_id=notification_id)
        return Response(
            NotificationSerializer(
                services.notification_read(scope=self.scope, notification=notification)
            ).data
        )


class NotificationReadAllApi(ScopedAPIView):
    """Mark every notification read; answers how many were unread."""

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, parameters=ORG)
    def post(self, request):
        return Response({"marked_read": services.notifications_read_all(scope=self.scope)})


class PreferencesApi(ScopedAPIView):
    """Which kinds you are told of in the app and by e-mail (every kind listed, defaults included)."""

    @extend_schema(responses=PreferencesSerializer, parameters=ORG)
    def get(self, request):
        return Response({"preferences": selectors.preferences(scope=self.scope)})

    @extend_schema(
        request=PreferencesSerializer,
        responses={200: PreferencesSerializer, 400: ErrorSerializer},
        parameters=ORG,
    )
    def put(self, request):
        serializer = PreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.preferences_save(
            scope=self.scope,
            choices={
                p["kind"]: {"in_app": p["in_app"], "email": p["email"]}
                for p in serializer.validated_data["preferences"]
            },
        )
        return Response({"preferences": selectors.preferences(scope=self.scope)})


class WebhookListApi(ScopedMixin, generics.ListAPIView):
    """The organisation's webhook endpoints (administrators); POST registers one."""

    queryset = WebhookEndpoint.objects.none()
    serializer_class = WebhookSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.webhook_list(scope=self.scope)

    @extend_schema(parameters=ORG)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=WebhookSerializer, responses={201: WebhookSerializer, 400: ErrorSerializer}, parameters=ORG
    )
    def post(self, request):
        self.scope.require("webhook.manage")
        serializer = WebhookSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_create(
            scope=self.scope,
            url=serializer.validated_data["url"],
            kinds=serializer.validated_data.get("kinds"),
        )
        return Response(WebhookSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDeactivateApi(ScopedAPIView):
    """Stop sending to an endpoint (its log is kept)."""

    @extend_schema(request=None, responses={200: WebhookSerializer, 404: ErrorSerializer}, parameters=ORG)
    def post(self, request, endpoint_id):
        endpoint = selectors.webhook_get(scope=self.scope, endpoint_id=endpoint_id)
        return Response(
            WebhookSerializer(services.webhook_deactivate(scope=self.scope, endpoint=endpoint)).data
        )


class DeliveryListApi(ScopedMixin, generics.ListAPIView):
    """The delivery log of the organisation's webhooks, newest first."""

    queryset = WebhookDelivery.objects.none()
    serializer_class = DeliverySerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.delivery_list(scope=self.scope)

    @extend_schema(parameters=ORG)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
