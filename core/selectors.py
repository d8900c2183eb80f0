from django.db.models import QuerySet

from accounts.tenancy import Scope, scoped
from core.models import AccessEvent


def access_event_list(*, scope: Scope) -> QuerySet[AccessEvent]:
    """The organisation's PHI access log, newest first (auditors and administrators)."""
    scope.require("audit.view")
    return scoped(AccessEvent.objects.select_related("user"), scope)
