from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core import api as core_api

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("bundles.api_urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    # Anything else under /api/ answers with the API's error body, not an HTML page.
    path("api/<path:rest>", core_api.not_found_view),
    path("", include("web.urls")),
    path("", include("bundles.urls")),
    path("", include("accounts.urls")),
]

handler404 = "web.views.page_not_found"
handler500 = "web.views.server_error"
