from django.urls import path

from notifications import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/bell/", views.bell, name="notification-bell"),
    path("notifications/read-all/", views.notifications_read_all, name="notification-read-all"),
    path("notifications/preferences/", views.preferences_save, name="notification-preferences"),
    path("notifications/webhooks/", views.webhook_list, name="webhook-list"),
    path(
        "notifications/webhooks/<str:endpoint_id>/deactivate/",
        views.webhook_deactivate,
        name="webhook-deactivate",
    ),
    path("notifications/<str:notification_id>/open/", views.notification_open, name="notification-open"),
]
