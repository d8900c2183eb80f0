"""The notification pages: the list with the member's choices, the bell (an htmx fragment), and the
organisation's webhooks with their delivery log. Every form redirects after it is posted."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import scoped_view
from core.errors import ApplicationError
from core.worklist import KINDS
from notifications import selectors, services
from notifications.forms import WebhookForm

PER_PAGE = 50
DELIVERIES_SHOWN = 50


@scoped_view
def notification_list(request):
    scope = request.scope
    unread = {"1": True, "0": False}.get(request.GET.get("unread", ""))
    page = Paginator(selectors.notification_list(scope=scope, unread=unread), PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "notifications/notification_list.html",
        {
            "page": page,
            "notifications": page.object_list,
            "unread_filter": request.GET.get("unread", ""),
            "preferences": selectors.preferences(scope=scope),
            "unread": selectors.unread_count(scope=scope),
        },
    )


@scoped_view
@require_POST
def notification_open(request, notification_id):
    """Mark the notification read and go where its work is done."""
    notification = selectors.notification_get(scope=request.scope, notification_id=notification_id)
    services.notification_read(scope=request.scope, notification=notification)
    target = notification.url
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "notification-list"
    return redirect(target)


@scoped_view
@require_POST
def notifications_read_all(request):
    count = services.notifications_read_all(scope=request.scope)
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return redirect("notification-list")


@scoped_view
@require_POST
def preferences_save(request):
    choices = {
        kind: {
            "in_app": request.POST.get(f"in_app_{kind}") == "on",
            "email": request.POST.get(f"email_{kind}") == "on",
        }
        for kind in KINDS
    }
    services.preferences_save(scope=request.scope, choices=choices)
    messages.success(request, "Your choices are saved.")
    return redirect("notification-list")


@scoped_view
@require_GET
def bell(request):
    return render(
        request, "notifications/_bell.html", {"unread": selectors.unread_count(scope=request.scope)}
    )


@scoped_view
def webhook_list(request):
    scope = request.scope
    endpoints = list(selectors.webhook_list(scope=scope))
    form = WebhookForm()
    status = 200
    if request.method == "POST":
        form = WebhookForm(request.POST)
        if form.is_valid():
            try:
                endpoint = services.webhook_create(
                    scope=scope, url=form.cleaned_data["url"], kinds=form.cleaned_data["kinds"]
                )
            except ApplicationError as exc:
                if exc.status == 403:
                    raise
                form.add_error("url", exc.message)
            else:
                messages.success(
                    request, f"Webhook registered: {endpoint.url}. Verify its signature with the secret."
                )
                return redirect("webhook-list")
        status = 400
    deliveries = list(selectors.delivery_list(scope=scope)[:DELIVERIES_SHOWN])
    return render(
        request,
        "notifications/webhook_list.html",
        {"endpoints": endpoints, "form": form, "deliveries": deliveries},
        status=status,
    )


@scoped_view
@require_POST
def webhook_deactivate(request, endpoint_id):
    endpoint = selectors.webhook_get(scope=request.scope, endpoint_id=endpoint_id)
    services.webhook_deactivate(scope=request.scope, endpoint=endpoint)
    messages.success(request, f"Webhook stopped: {endpoint.url}. Nothing more is sent to it.")
    return redirect("webhook-list")
