from django.urls import path

from web import api

urlpatterns = [
    path("workspace/", api.WorkspaceApi.as_view(), name="api-workspace"),
    path("shared-with-us/", api.SharedWithUsApi.as_view(), name="api-shared-with-us"),
]
