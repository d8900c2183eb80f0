from django.urls import path

from performance import views

urlpatterns = [
    path("performance/", views.performance_home, name="performance-home"),
    path("performance/uploads/", views.upload, name="performance-upload-create"),
    path("performance/uploads/<str:upload_id>/", views.upload_detail, name="performance-upload"),
    path("performance/unit-costs/", views.unit_costs, name="performance-unit-costs"),
    path("performance/contracts/<str:contract_id>/", views.contract_performance, name="performance-contract"),
    path("performance/contracts/<str:contract_id>/members/", views.members, name="performance-members"),
    path("performance/contracts/<str:contract_id>/story/", views.story_save, name="performance-story"),
    path("performance/contracts/<str:contract_id>/report.pdf", views.report_pdf, name="performance-report"),
]
