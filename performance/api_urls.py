from django.urls import path

from performance import api

urlpatterns = [
    path("performance/uploads/", api.UploadListApi.as_view(), name="api-performance-upload-list"),
    path(
        "performance/uploads/<str:upload_id>/", api.UploadDetailApi.as_view(), name="api-performance-upload"
    ),
    path("performance/unit-costs/", api.UnitCostApi.as_view(), name="api-performance-unit-costs"),
    path(
        "performance/contracts/<str:contract_id>/",
        api.ContractPerformanceApi.as_view(),
        name="api-performance-contract",
    ),
    path(
        "performance/contracts/<str:contract_id>/members/",
        api.ContractMembersApi.as_view(),
        name="api-performance-members",
    ),
    path(
        "performance/contracts/<str:contract_id>/story/", api.StoryApi.as_view(), name="api-performance-story"
    ),
]
