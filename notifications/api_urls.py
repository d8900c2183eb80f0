from django.urls import path

from notifications import api

urlpatterns = [
    path("notifications/", api.NotificationListApi.as_view(), name="api-notification-list"),
    path("notifications/read-all/", api.NotificationReadAllApi.as_view(), name="api-notification-read-all"),
    path("notifications/preferences/", api.PreferencesApi.as_view(), name="api-notification-preferences"),
    path(
        "notifications/<str:notification_id>/read/",
        api.NotificationReadApi.as_view(),
        name="api-notification-read",
    ),
    path("webhooks/", api.WebhookListApi.as_view(), name="api-webhook-list"),
    path("webhooks/deliveries/", api.DeliveryListApi.as_view(), name="api-webhook-delivery-list"),
    path(
        "webhooks/<str:endpoint_id>/deactivate/",
        api.WebhookDeactivateApi.as_view(),
        name="api-webhook-deactivate",
    ),
]
