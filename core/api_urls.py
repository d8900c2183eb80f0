from django.urls import path

from core.access_log_api import AccessEventListApi

urlpatterns = [
    path("audit/access-events/", AccessEventListApi.as_view(), name="api-access-event-list"),
]
