"""Web pages: login/logout, organisation switcher, organisations, their members and invitations, the
access log."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import selectors, services, time_zone
from accounts.decorators import scoped_view, secret_path, tenant_free
from accounts.forms import InvitationForm, InvitationSignUpForm, LoginForm, MembershipAddForm
from accounts.models import InvitationStatus
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


def _people_page(request, organization, *, form=None, invite_form=None, status=200):
    """Members (active and deactivated), open and past invitations, and the forms to add people."""
    can_manage = request.scope.can("membership.manage")
    return render(
        request,
        "accounts/membership_list.html",
        {
            "organization": organization,
            "memberships": selectors.membership_list(scope=request.scope, organization=organization),
            "invitations": selectors.invitation_list(scope=request.scope, organization=organization)
            if can_manage
            else [],
            "form": form or MembershipAddForm(),
            "invite_form": invite_form or InvitationForm(),
            "can_manage": can_manage,
            "open_statuses": (InvitationStatus.PENDING, InvitationStatus.EXPIRED),
            "ttl_days": settings.INVITATION_TTL_DAYS,
        },
        status=status,
    )


def _people(organization) -> HttpResponse:
    return redirect("membership-list", organization_id=organization.public_id)


@scoped_view
def membership_list(request, organization_id):
    organization = selectors.organization_get(scope=request.scope, public_id=organization_id)
    if request.method != "POST":
        return _people_page(request, organization)  # a counterparty's people: 404 (the selector)
    request.scope.require("membership.manage")
    form = MembershipAddForm(request.POST)
    if form.is_valid():
        try:
            membership = services.membership_create(
                scope=request.scope, organization=organization, **form.cleaned_data
            )
        except ApplicationError as exc:
            form.add_error("username" if exc.code == "unknown_user" else None, exc.message)
        else:
            messages.success(request, f"{membership.user.username} added as {membership.get_role_display()}.")
            return _people(organization)
    return _people_page(request, organization, form=form, status=400)


def _link_message(request, invitation, key: str, verb: str) -> None:
    # The link is shown once, to the administrator, for when e-mail does not reach the person.
    messages.success(
        request,
        f"Invitation {verb} to {invitation.email} ({invitation.get_role_display()}). If the e-mail does "
        f"not arrive, give them this link, which works until "
        f"{timezone.localtime(invitation.expires_at):%Y-%m-%d %H:%M}: {services.invitation_url(key, request)}",
    )


@require_POST
@scoped_view
def invitation_create(request, organization_id):
    organization = selectors.organization_get(scope=request.scope, public_id=organization_id)
    request.scope.require("membership.manage")
    invite_form = InvitationForm(request.POST)
    if invite_form.is_valid():
        try:
            invitation, key = services.invitation_create(
                scope=request.scope, organization=organization, **invite_form.cleaned_data
            )
        except ApplicationError as exc:
            invite_form.add_error(
                "email" if exc.code in ("already_member", "already_invited") else None, exc.message
            )
        else:
            _link_message(request, invitation, key, "sent")
            return _people(organization)
    return _people_page(request, organization, invite_form=invite_form, status=400)


def _refused(request, exc: ApplicationError) -> None:
    """A refusal of the action is a message on the People page; one of the person is a 403 page."""
    if exc.status == 403:
        raise exc
    messages.error(request, exc.message)


def _invitation_action(request, organization_id, invitation_id, action) -> HttpResponse:
    organization = selectors.organization_get(scope=request.scope, public_id=organization_id)
    invitation = selectors.invitation_get(
        scope=request.scope, organization=organization, public_id=invitation_id
    )
    try:
        action(invitation)
    except ApplicationError as exc:
        _refused(request, exc)
    return _people(organization)


@require_POST
@scoped_view
def invitation_resend(request, organization_id, invitation_id):
    def resend(invitation):
        invitation, key = services.invitation_resend(scope=request.scope, invitation=invitation)
        _link_message(request, invitation, key, "sent again")

    return _invitation_action(request, organization_id, invitation_id, resend)


@require_POST
@scoped_view
def invitation_revoke(request, organization_id, invitation_id):
    def revoke(invitation):
        services.invitation_revoke(scope=request.scope, invitation=invitation)
        messages.success(request, f"Invitation of {invitation.email} revoked: its link no longer works.")

    return _invitation_action(request, organization_id, invitation_id, revoke)


def _membership_action(request, organization_id, membership_id, action, done: str) -> HttpResponse:
    organization = selectors.organization_get(scope=request.scope, public_id=organization_id)
    membership = selectors.membership_get(
        scope=request.scope, organization=organization, public_id=membership_id
    )
    try:
        action(scope=request.scope, membership=membership)
    except ApplicationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"{membership.user.username} {done}.")
    return _people(organization)


@require_POST
@scoped_view
def membership_deactivate(request, organization_id, membership_id):
    return _membership_action(
        request,
        organization_id,
        membership_id,
        services.membership_deactivate,
        "deactivated: they can no longer act for this organisation",
    )


@require_POST
@scoped_view
def membership_reactivate(request, organization_id, membership_id):
    return _membership_action(
        request, organization_id, membership_id, services.membership_reactivate, "reactivated"
    )


@tenant_free
@secret_path
def invitation_accept(request, key):
    """The invitee's page: who invites them to what; accept with the account they are signed in with,
    or create one. Anyone with the link may see it: the link is the secret."""
    invitation = selectors.invitation_by_key(key)
    status = invitation.status if invitation else None
    form = InvitationSignUpForm(request.POST or None) if not request.user.is_authenticated else None
    error = None
    if request.method == "POST" and status == InvitationStatus.PENDING:
        try:
            if request.user.is_authenticated:
                membership = services.invitation_accept(key=key, user=request.user)
            elif form is not None and form.is_valid():
                data = form.cleaned_data
                membership = services.invitation_accept_new_user(
                    key=key,
                    username=data["username"],
                    password=data["password1"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                )
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            else:
                membership = None
        except ApplicationError as exc:
            field = {"username_taken": "username", "weak_password": "password1"}.get(exc.code)
            if form is not None and field:
                form.add_error(field, exc.message)
            else:
                error = exc.message
        else:
            if membership is not None:
                request.session[SESSION_KEY] = str(membership.organization.public_id)
                messages.success(
                    request,
                    f"Welcome to {membership.organization}: you are a member as "
                    f"{membership.get_role_display()}.",
                )
                return redirect("home")
    return render(
        request,
        "accounts/invitation_accept.html",
        {"invitation": invitation, "status": status, "form": form, "error": error, "key": key},
        status=404 if invitation is None else (400 if request.method == "POST" else 200),
    )


@login_required
def account_settings(request):
    """The user's own settings, whichever organisation they act for: the time zone of pages' times."""
    current = time_zone.time_zone_of(request.user)
    if request.method == "POST":
        chosen = request.POST.get("time_zone", "")
        try:
            services.time_zone_set(user=request.user, time_zone=chosen)
        except ApplicationError as exc:
            return render(
                request,
                "accounts/account_settings.html",
                {**_settings_context(chosen), "error": exc.message},
                status=400,
            )
        time_zone.remember(request.session, chosen or settings.TIME_ZONE)
        messages.success(request, f"Times are now shown in {chosen or settings.TIME_ZONE}.")
        return redirect("account-settings")
    return render(request, "accounts/account_settings.html", _settings_context(current))


def _settings_context(chosen: str) -> dict:
    return {
        "chosen": chosen,
        "site_time_zone": settings.TIME_ZONE,
        "us_zones": time_zone.US_ZONES,
        "other_zones": [z for z in time_zone.all_time_zones() if z not in time_zone.US_ZONES],
    }


@scoped_view
def access_log(request):
    events = selectors.access_event_list(scope=request.scope)
    username = request.GET.get("user", "").strip()
    if username:
        events = events.filter(user__username=username)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "accounts/access_log.html", {"page": page, "username": username})
