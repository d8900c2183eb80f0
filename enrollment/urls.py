from django.urls import path

from enrollment import views

urlpatterns = [
    path("rosters/", views.roster_list, name="roster-list"),
    path("assessments/", views.assessment_list, name="assessment-list"),
    path("rosters/templates/<str:kind>.<str:fmt>", views.roster_template, name="roster-template"),
    path("rosters/<str:submission_id>/", views.roster_detail, name="roster-detail"),
    path("rosters/<str:submission_id>/progress/", views.roster_progress, name="roster-progress"),
    path("rosters/<str:submission_id>/members/", views.roster_members, name="roster-members"),
    path("rosters/<str:submission_id>/errors.csv", views.roster_error_report, name="roster-error-report"),
    path("rosters/<str:submission_id>/file/", views.roster_file, name="roster-file"),
    path("eligibility/", views.eligibility_list, name="eligibility-list"),
    path("eligibility/<str:file_id>/", views.eligibility_detail, name="eligibility-detail"),
    path("eligibility/<str:file_id>/999/", views.eligibility_999, name="eligibility-999"),
    path("eligibility/<str:file_id>/file/", views.eligibility_file, name="eligibility-file"),
]
