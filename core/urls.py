from django.urls import path

from core import views

urlpatterns = [
    path("audit/access-log/", views.access_log, name="access-log"),
]
