from accounts.tenancy import memberships_of, scope_from_request
from web.navigation import items_for


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    scope = scope_from_request(request)
    return {
        "scope": scope,
        "nav_items": items_for(scope),
        "user_memberships": memberships_of(user),
        "current_url_name": getattr(getattr(request, "resolver_match", None), "url_name", ""),
    }
