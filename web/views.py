from django.conf import settings
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET

from accounts.decorators import scoped_view
from bundles.selectors import version_shares_received
from core import metrics as core_metrics
from core.api import error_body
from core.health import readiness
from pricing.selectors import run_shares_received
from web.workspace import workspace_for


@scoped_view
def home(request):
    """The workspace: what needs this user now and the portfolio across the organisation's contracts."""
    workspace = workspace_for(scope=request.scope)
    urgent = any(item.urgent for item in workspace.worklist)
    return render(request, "web/home.html", {"workspace": workspace, "urgent": urgent})


@require_GET
def health(request):
    """Liveness for load balancers and compose health checks: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
def healthz(request):
    """Alive: the process answers (nothing else is asked; core.health)."""
    return JsonResponse({"status": "alive"})


@require_GET
def readyz(request):
    """Ready: the database, the broker and a recent worker heartbeat (core.health); 503 if not."""
    ready, body = readiness()
    return JsonResponse(body, status=200 if ready else 503)


@require_GET
def metrics(request):
    """Prometheus metrics (core.metrics), for a scraper that sends ``Authorization: Bearer
    <METRICS_TOKEN>``; without a token set they are not served (404), except in development."""
    token = settings.METRICS_TOKEN
    if not token and not settings.DEVELOPMENT:
        raise Http404
    if token and not constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}"):
        raise Http404  # the same answer as "not served": nothing to guess at
    body = core_metrics.exposition(settings.CELERY_BROKER_URL, settings.METRICS_QUEUES)
    return HttpResponse(body, content_type=core_metrics.CONTENT_TYPE)


@require_GET
def favicon(request):
    """The icon, for browsers and tools that ask for /favicon.ico without reading the page's link."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "No API endpoint at this URL."), status=404)
    return render(request, "web/404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it has been logged."), status=500
        )
    return render(request, "web/500.html", status=500)


@scoped_view
def shared_with_us(request):
    """What other organisations share with this one now: bundle versions and pricing runs, read-only."""
    return render(
        request,
        "web/shared_with_us.html",
        {
            "bundle_shares": list(version_shares_received(scope=request.scope)),
            "run_shares": list(run_shares_received(scope=request.scope)),
        },
    )
