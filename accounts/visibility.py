"""What an organisation may see of a lower app's table because of a higher app's records.

A model's ``tenant_filter(organization)`` says what its own app knows (a bundle is its plan's) and
adds ``granted(cls, organization)``: the grants higher apps registered for that model (a provider
sees the bundles it holds a contract on). The higher app registers them from its
``AppConfig.ready``, so the import arrow points down: bundles and accounts never import contracts.

No model import here, so any ``models.py`` can import it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q

Grant = Callable[[Any], Q]

_grants: dict[str, list[Grant]] = {}


def _label(model: Any) -> str:
    return model._meta.label_lower


def register_grant(model: Any, grant: Grant) -> None:
    """Let ``grant(organization)`` widen what ``scoped`` shows of ``model``. Safe to call twice."""
    grants = _grants.setdefault(_label(model), [])
    if grant not in grants:
        grants.append(grant)


def granted(model: Any, organization: Any) -> Q:
    """The rows of ``model`` the registered grants show ``organization`` (``Q()`` when none)."""
    q = Q()
    for grant in _grants.get(_label(model), ()):
        q |= grant(organization)
    return q
