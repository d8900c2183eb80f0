"""Pages of two-factor sign-in: its status, its setup, the code asked after the password, the backup
codes shown once, and an administrator's switch that requires it of an organisation's members.

Every change goes through ``accounts.two_factor``; after one, the session's cached two-factor state
(``accounts.middleware``) is read again, so the middleware acts on it from the next request.
"""

from __future__ import annotations

import django_otp
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_static.models import StaticDevice

from accounts import selectors, two_factor
from accounts.decorators import scoped_view
from accounts.forms import CodeForm
from accounts.middleware import two_factor_state_refresh
from core.errors import ApplicationError

#: Session key: the backup codes just made, shown once by the backup codes page, which removes them.
BACKUP_CODES_KEY = "carebundle_two_factor_backup_codes"


def _next_url(request: HttpRequest) -> str:
    """Where to go after the code: ``next`` when it is a path of this site, else home."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("home")


def _status_page(request: HttpRequest, *, disable_form=None, regenerate_form=None, status: int = 200):
    return render(
        request,
        "accounts/two_factor/status.html",
        {
            "status": two_factor.status(request.user),
            "disable_form": disable_form or CodeForm(prefix="disable"),
            "regenerate_form": regenerate_form or CodeForm(prefix="regenerate"),
        },
        status=status,
    )


@login_required
def two_factor_status(request):
    return _status_page(request)


@login_required
def two_factor_setup(request):
    if two_factor.has_two_factor(request.user):
        two_factor_state_refresh(request)
        messages.info(request, "Two-factor sign-in is already on.")
        return redirect("two-factor-status")
    form = CodeForm(request.POST if request.POST.get("action") == "confirm" else None)
    status = 200
    if request.method == "POST" and request.POST.get("action") == "start":
        two_factor.setup_start(user=request.user)
        return redirect("two-factor-setup")
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = two_factor.setup_confirm(user=request.user, code=form.cleaned_data["otp_token"])
        except ApplicationError as exc:
            form.apply(exc)
        else:
            # The code just given proves the second factor for this session too.
            django_otp.login(request, device)
            request.session.cycle_key()
            two_factor_state_refresh(request)
            request.session[BACKUP_CODES_KEY] = codes
            messages.success(request, "Two-factor sign-in is on.")
            return redirect("two-factor-backup-codes")
    if request.method == "POST":
        status = 400
    return render(
        request,
        "accounts/two_factor/setup.html",
        {
            "pending": two_factor.pending_setup(request.user),
            "requiring": two_factor.requiring_organizations(request.user),
            "form": form,
        },
        status=status,
    )


@login_required
def two_factor_backup_codes(request):
    codes = request.session.pop(BACKUP_CODES_KEY, None)
    if not codes:
        return redirect("two-factor-status")
    return render(request, "accounts/two_factor/backup_codes.html", {"codes": codes})


@require_POST
@login_required
def two_factor_backup_codes_regenerate(request):
    form = CodeForm(request.POST, prefix="regenerate")
    if form.is_valid():
        try:
            codes = two_factor.backup_codes_regenerate(user=request.user, code=form.cleaned_data["otp_token"])
        except ApplicationError as exc:
            form.apply(exc)
        else:
            request.session[BACKUP_CODES_KEY] = codes
            return redirect("two-factor-backup-codes")
    return _status_page(request, regenerate_form=form, status=400)


@require_POST
@login_required
def two_factor_disable(request):
    form = CodeForm(request.POST, prefix="disable")
    if form.is_valid():
        try:
            two_factor.disable(user=request.user, code=form.cleaned_data["otp_token"])
        except ApplicationError as exc:
            form.apply(exc)
        else:
            request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
            two_factor_state_refresh(request)
            messages.success(request, "Two-factor sign-in is off: your password alone signs you in.")
            return redirect("two-factor-status")
    return _status_page(request, disable_form=form, status=400)


@login_required
def two_factor_verify(request):
    """The code after the password. The middleware sends every request of an unverified session here."""
    next_url = _next_url(request)
    state = two_factor_state_refresh(request)
    if not state["has"] or request.user.is_verified():
        return redirect(next_url)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.verify(user=request.user, code=form.cleaned_data["otp_token"])
        except ApplicationError as exc:
            form.apply(exc)
        else:
            django_otp.login(request, device)
            # A new session key once the sign-in is complete, as Django does after the password.
            request.session.cycle_key()
            if isinstance(device, StaticDevice):
                left = two_factor.backup_codes_left(request.user)
                messages.warning(request, f"You used a backup code; {left} left.")
            return redirect(next_url)
    return render(
        request,
        "accounts/two_factor/verify.html",
        {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@scoped_view
def organization_two_factor_requirement(request, organization_id):
    organization = selectors.organization_get(scope=request.scope, public_id=organization_id)
    required = request.POST.get("required") == "on"
    organization = two_factor.requirement_set(
        scope=request.scope, organization=organization, required=required
    )
    two_factor_state_refresh(request)
    if required:
        messages.success(
            request, f"{organization.display_name} now requires two-factor sign-in of every member."
        )
    else:
        messages.success(request, f"{organization.display_name} no longer requires two-factor sign-in.")
    return redirect("organization-detail", organization_id=organization.public_id)
