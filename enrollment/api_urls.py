from django.urls import path

from enrollment import api

urlpatterns = [
    # Pinned: a contract's rosters (POST submits a month's roster), by the contract's public id.
    path(
        "contracts/<str:contract_id>/rosters/",
        api.ContractRosterListApi.as_view(),
        name="api-contract-rosters",
    ),
    path("rosters/", api.RosterListApi.as_view(), name="api-roster-list"),
    path("assessments/", api.AssessmentListApi.as_view(), name="api-assessment-list"),
    path("rosters/<str:submission_id>/", api.RosterDetailApi.as_view(), name="api-roster-detail"),
    path("rosters/<str:submission_id>/issues/", api.RosterIssueListApi.as_view(), name="api-roster-issues"),
    path(
        "rosters/<str:submission_id>/members/", api.RosterMemberListApi.as_view(), name="api-roster-members"
    ),
    path(
        "rosters/<str:submission_id>/assessments/",
        api.RosterAssessmentListApi.as_view(),
        name="api-roster-assessments",
    ),
    path("rosters/<str:submission_id>/file/", api.RosterFileApi.as_view(), name="api-roster-file"),
    # Pinned: the plan's eligibility files (X12 834) and their acknowledgements.
    path("eligibility-files/", api.EligibilityFileListApi.as_view(), name="api-eligibility-file-list"),
    path(
        "eligibility-files/<str:file_id>/",
        api.EligibilityFileDetailApi.as_view(),
        name="api-eligibility-file",
    ),
    path(
        "eligibility-files/<str:file_id>/acknowledgement/",
        api.EligibilityAcknowledgementApi.as_view(),
        name="api-eligibility-acknowledgement",
    ),
    path("eligibility-files/<str:file_id>/999/", api.Eligibility999Api.as_view(), name="api-eligibility-999"),
]
