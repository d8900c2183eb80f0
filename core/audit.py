"""The PHI access log: record every view of a member's data in one line."""

from __future__ import annotations

from core.models import AccessEvent


def record_access(
    *, scope, action: str, object_type: str, object_id: str, detail: str = "", request=None
) -> None:
    """Log that ``scope``'s user viewed member data. Call it from views that show member rows."""
    AccessEvent.objects.create(
        user=scope.user,
        organization=scope.organization,
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        detail=detail[:300],
        path=(request.get_full_path()[:300] if request is not None else ""),
    )


def record_event(
    *, user, organization, action: str, object_type: str, object_id: str, detail: str = ""
) -> None:
    """Log in ``organization``'s access log a change of who sees its work (``bundle_version.share``),
    made by ``user`` (who may belong to the other organisation of a share)."""
    AccessEvent.objects.create(
        user=user,
        organization=organization,
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        detail=detail[:300],
    )
