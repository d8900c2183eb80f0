from django.urls import path

from claims import api

urlpatterns = [
    path("claims/uploads/", api.ClaimsUploadListApi.as_view(), name="api-claims-upload-list"),
    path("claims/uploads/<str:upload_id>/", api.ClaimsUploadDetailApi.as_view(), name="api-claims-upload"),
    path(
        "claims/uploads/<str:upload_id>/999/", api.ClaimsUpload999Api.as_view(), name="api-claims-upload-999"
    ),
]
