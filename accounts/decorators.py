"""Web views get ``request.scope`` here; domain errors become the right page, never a 500."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from accounts.tenancy import scope_from_request
from core.errors import NotFoundError, PermissionDeniedError


def tenant_free(view):
    """Mark a view whose URL parameters name no organisation's object (e.g. a blank file template),
    so the tenancy crawl (tests/security) does not expect a foreign organisation to get 404."""
    view.tenant_free = True
    return view


def secret_path(view):
    """Mark a view whose URL holds a secret (an invitation's key): the request log writes its route,
    not its path (core.middleware)."""
    view.secret_path = True
    return view


def scoped_view(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        scope = scope_from_request(request)
        if scope is None:
            return render(request, "web/no_membership.html", status=403)
        request.scope = scope
        try:
            return view(request, *args, **kwargs)
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except PermissionDeniedError as exc:
            return render(request, "web/403.html", {"message": exc.message}, status=403)

    return wrapper
