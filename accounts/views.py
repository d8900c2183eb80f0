"""Web pages: login/logout, organisation switcher, organisations and their members, the access log."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.decorators import scoped_view
from accounts.forms import LoginForm, MembershipAddForm
from accounts.tenancy import SESSION_KEY, resolve_scope
from core.errors import ApplicationError


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@require_POST
@scoped_view
def switch_organization(request):
    organization_id = request.POST.get("organization", "")
    scope = resolve_scope(request.user, organization_id)
    if scope is None:
        messages.error(request, "You are not a member of that organisation.")
    else:
        request.session[SESSION_KEY] = str(scope.organization.public_id)
        messages.success(
            request, f"You are now working as {scope.organization} ({scope.membership.get_role_display()})."
        )
    next_url = request.POST.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("home")
    return redirect(next_url)


@scoped_view
def organization_list(request):
    organizations = selectors.organization_list(scope=request.scope)
    query = request.GET.get("q", "").strip()
    if query:
        organizations = organizations.filter(legal_name__icontains=query)
    kind = request.GET.get("kind", "")
    if kind:
        organizations = organizations.filter(kind=kind)
    template = "accounts/_organization_rows.html" if request.htmx else "accounts/organization_list.html"
    return render(request, template, {"organizations": organizations, "q": query, "kind": kind})


@scoped_view
def organization_detail(request, organization_id):
    organization = selectors.organization_get(scope=request.scope, public_id=organization_id)
    own = organization.pk == request.scope.organization.pk
    return render(request, "accounts/organization_detail.html", {"organization": organization, "own": own})


@scoped_view
def membership_list(request, organization_id):
    organization = selectors.organization_get(scope=request.scope, public_id=organization_id)
    memberships = selectors.membership_list(scope=request.scope, organization=organization)
    form = MembershipAddForm(request.POST or None)
    if request.method == "POST":
        request.scope.require("membership.manage")
        if form.is_valid():
            try:
                membership = services.membership_create(
                    scope=request.scope, organization=organization, **form.cleaned_data
                )
            except ApplicationError as exc:
                form.add_error("username" if exc.code == "unknown_user" else None, exc.message)
            else:
                messages.success(
                    request, f"{membership.user.username} added as {membership.get_role_display()}."
                )
                return redirect("membership-list", organization_id=organization.public_id)
    return render(
        request,
        "accounts/membership_list.html",
        {
            "organization": organization,
            "memberships": memberships,
            "form": form,
            "can_manage": request.scope.can("membership.manage"),
        },
        status=400 if request.method == "POST" else 200,
    )


@scoped_view
def access_log(request):
    events = selectors.access_event_list(scope=request.scope)
    username = request.GET.get("user", "").strip()
    if username:
        events = events.filter(user__username=username)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "accounts/access_log.html", {"page": page, "username": username})
