from django.urls import path

from claims import views

urlpatterns = [
    path("claims/", views.claims_home, name="claims-home"),
    path("claims/uploads/", views.upload, name="claims-upload-create"),
    path("claims/uploads/<str:upload_id>/", views.upload_detail, name="claims-upload"),
    path("claims/uploads/<str:upload_id>/999/", views.upload_999, name="claims-upload-999"),
    path("claims/templates/claims.csv", views.template_csv, name="claims-template"),
]
