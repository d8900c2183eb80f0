from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny, IsAuthenticated

from core import api as core_api

# The schema and its interactive docs are public on a developer's machine only; in production they
# map the whole API for whoever asks, so they need a login (a token or a session; the docs page
# sends a browser to the login page).
_docs_permissions = [AllowAny] if settings.DEVELOPMENT else [IsAuthenticated]
schema_view = SpectacularAPIView.as_view(permission_classes=_docs_permissions)
docs_view = SpectacularSwaggerSplitView.as_view(url_name="schema", permission_classes=_docs_permissions)
if not settings.DEVELOPMENT:
    docs_view = login_required(docs_view)

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("bundles.api_urls")),
    path("", include("pricing.api_urls")),
    path("", include("contracts.api_urls")),
    path("", include("enrollment.api_urls")),
    path("", include("payments.api_urls")),
    path("", include("claims.api_urls")),
    path("", include("performance.api_urls")),
    path("", include("web.api_urls")),
    path("", include("notifications.api_urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", schema_view, name="schema"),
    path("api/docs/", docs_view, name="api-docs"),
    # Anything else under /api/ answers with the API's error body, not an HTML page.
    path("api/<path:rest>", core_api.not_found_view),
    path("", include("web.urls")),
    path("", include("notifications.urls")),
    path("", include("pricing.urls")),
    path("contracts/", include("contracts.urls")),
    path("payments/", include("payments.urls")),
    path("", include("claims.urls")),
    path("", include("performance.urls")),
    path("", include("enrollment.urls")),
    path("", include("bundles.urls")),
    path("", include("accounts.urls")),
    path("accounts/two-factor/", include("accounts.two_factor_urls")),
]

handler404 = "web.views.page_not_found"
handler500 = "web.views.server_error"
