"""Tenancy, exhaustively: every route that takes an object id, for every role of a foreign organisation.

The demo data is loaded; its own users crawl the web pages (following links) and the API (list
endpoints, then ids and URLs found in their bodies) to find a concrete, readable URL for every
route in the URL conf that takes an id. Then each role of a foreign plan and a foreign provider
asks for each of them: reads answer 404 (405 on write-only routes); writes (POST, PUT, PATCH, DELETE) answer 403, 404 or
405 and change nothing. A new route is covered without editing this test; a route the crawl
cannot reach fails the test, so that it gets linked from a page or listed by an API.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlparse

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from accounts.models import Membership, Role
from tests.factories import PayerFactory, ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

INSIDERS = ["plan_analyst", "plan_contracts", "plan_auditor", "urban_admin", "rural_admin"]
SKIP_PREFIXES = ("/admin/", "/static/", "/api/schema/", "/api/docs/", "/logout/", "/media/")
MAX_PAGES = 400
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: set[str] = set()
        self.actions: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "hx-get"):
            if attrs.get(name):
                self.links.add(attrs[name])
        for name in ("action", "hx-post"):
            if attrs.get(name):
                self.actions.add(attrs[name])


def _local(url: str) -> str | None:
    url = urldefrag(url)[0]
    parsed = urlparse(url)
    if parsed.scheme and parsed.netloc not in ("testserver", ""):
        return None
    path = parsed.path
    if not path.startswith("/") or path.startswith(SKIP_PREFIXES):
        return None
    return path


def _patterns(resolver=None, prefix="", *, tenant_free: bool | None = None) -> list[str]:
    """Every route of the URL conf as a path template with <param> placeholders (only those whose view
    is, or is not, marked tenant_free, when ``tenant_free`` says which)."""
    resolver = resolver or get_resolver()
    routes = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes += _patterns(entry, route, tenant_free=tenant_free)
        elif isinstance(entry, URLPattern) and (
            tenant_free is None or getattr(entry.callback, "tenant_free", False) == tenant_free
        ):
            routes.append(route)
    return routes


def _walk_json(value, found_urls: set[str]):
    if isinstance(value, dict):
        for item in value.values():
            _walk_json(item, found_urls)
    elif isinstance(value, list):
        for item in value:
            _walk_json(item, found_urls)
    elif isinstance(value, str) and value.startswith(("/api/v1/", "http://testserver/api/v1/")):
        found_urls.add(value.replace("http://testserver", ""))


PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def fill(template: str, kwargs: dict[str, str]) -> str:
    return "/" + PARAM.sub(lambda m: str(kwargs[m.group("name")]), template)


def _route(path: str) -> str | None:
    try:
        return resolve(path).route
    except Resolver404:
        return None


def crawl(
    client: Client,
    owned: dict[str, str],
    kwargs_seen: dict[frozenset, list[dict]],
    start: list[str],
    seen: set[str],
) -> None:
    """Follow links and form actions from ``start``, recording one concrete URL per route template
    (a GET that answers 200, or a form's action) and the ids seen in URLs."""
    queue = deque(start)

    def note(path: str) -> str | None:
        try:
            match = resolve(path)
        except Resolver404:
            return None
        if match.kwargs:
            kwargs_seen.setdefault(frozenset(match.kwargs), []).append(
                {k: str(v) for k, v in match.kwargs.items()}
            )
        return match.route

    # A page of a route already visited waits until every new route is tried: the page budget then goes
    # to reaching routes, not to the fiftieth bundle version of the same template.
    later: deque[str] = deque()
    visited: set[str] = set()
    while (queue or later) and len(seen) < MAX_PAGES:
        fresh = bool(queue)
        path = queue.popleft() if fresh else later.popleft()
        if path in seen:
            continue
        if fresh and _route(path) in visited:
            later.append(path)
            continue
        seen.add(path)
        template = note(path)
        if template is None:
            continue
        visited.add(template)
        response = client.get(path)
        if response.status_code != 200:
            continue
        if "<" in template:
            owned.setdefault(template, path)
        content_type = response.get("Content-Type", "")
        if "text/html" in content_type:
            parser = _Links()
            parser.feed(response.content.decode(errors="replace"))
            for action in parser.actions:
                local = _local(action)
                action_template = note(local) if local else None
                if action_template and "<" in action_template:
                    owned.setdefault(action_template, local)
            queue.extend(local for link in parser.links if (local := _local(link)) and local not in seen)
        elif "json" in content_type and path.startswith("/api/v1/"):
            body = response.json()
            urls: set[str] = set()
            _walk_json(body, urls)
            results = body.get("results") if isinstance(body, dict) else None
            for item in results or (body if isinstance(body, list) else []):
                if isinstance(item, dict) and item.get("id") is not None:
                    urls.add(f"{path}{item['id']}/")
            queue.extend(u for u in urls if u not in seen)


def complete(
    client: Client, owned: dict[str, str], kwargs_seen: dict[frozenset, list[dict]], routes: set[str]
) -> list[str]:
    """Routes not reached by links (API twins of pages, write-only endpoints): fill their ids from
    URLs with the same parameters and keep the first the insider can read (200) or that exists only
    for writing (405). Returns the readable ones, to crawl on from."""
    readable = []
    for template in sorted(routes - set(owned)):
        names = frozenset(m.group("name") for m in PARAM.finditer(template))
        for kwargs in kwargs_seen.get(names, [])[:25]:
            path = fill(template, kwargs)
            status = client.get(path).status_code
            if status in (200, 405):
                owned[template] = path
                if status == 200:
                    readable.append(path)
                break
    return readable


def database_fingerprint() -> str:
    digest = hashlib.sha256()
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        if model._meta.app_label in {"sessions", "axes", "admin"} or model.__name__ in {
            "AccessEvent",
            "ApiToken",
        }:
            continue
        digest.update(model._meta.label.encode())
        rows = model.objects.order_by("pk").values_list(flat=False)
        digest.update(json.dumps(list(rows), default=str).encode())
    return digest.hexdigest()


@pytest.fixture
def demo_world(settings):
    with override_settings(DEBUG=True):
        call_command("seed_demo", verbosity=0)
    outsiders = []
    for organization in (
        PayerFactory(legal_name="Foreign Health Plan"),
        ProviderFactory(legal_name="Foreign Program"),
    ):
        for role in Role.values:
            user = UserFactory(username=f"foreign_{organization.kind}_{role}")
            Membership.objects.create(user=user, organization=organization, role=role)
            outsiders.append(user)
    return outsiders


def test_foreign_roles_get_404_on_every_object_route_and_change_nothing(demo_world):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    # A tenant_free route names no organisation's object (an invitation's secret key, say): nothing
    # to reach or refuse here.
    object_routes = {
        route
        for route in _patterns(tenant_free=False)
        if "<" in route and not route.startswith(("admin/", "api/schema", "api/docs", "static/", "api/<path"))
    }
    owned: dict[str, str] = {}
    kwargs_seen: dict[frozenset, list[dict]] = {}
    api_lists = ["/" + r for r in _patterns() if r.startswith("api/v1/") and "<" not in r and "(" not in r]
    for username in INSIDERS:
        client = Client()
        client.force_login(User.objects.get(username=username))
        seen: set[str] = set()
        start = ["/", *api_lists]
        for _ in range(4):  # crawl, fill the routes links don't reach, crawl on from those
            crawl(client, owned, kwargs_seen, start, seen)
            start = complete(client, owned, kwargs_seen, object_routes)
            if not start:
                break
    unreached = sorted(object_routes - set(owned))
    assert not unreached, f"routes the crawl could not reach from the demo data: {unreached}"

    outsider_clients = []
    for outsider in demo_world:  # log in first: a login itself writes (last_login)
        client = Client(raise_request_exception=False)  # a 500 is reported with the others
        client.force_login(outsider)
        outsider_clients.append((outsider, client))
    before = database_fingerprint()
    failures = []
    checked = sorted(path for path in owned.values() if not getattr(resolve(path).func, "tenant_free", False))
    for outsider, client in outsider_clients:
        for path in checked:
            response = client.get(path)
            # 405 on a write-only route says nothing about the object: it is the same for any id.
            if response.status_code not in (404, 405):
                failures.append(f"{outsider.username} GET {path} -> {response.status_code}")
            for method in ("post", "put", "patch", "delete"):
                response = getattr(client, method)(path, data={}, content_type="application/json")
                if response.status_code not in (403, 404, 405):
                    failures.append(f"{outsider.username} {method.upper()} {path} -> {response.status_code}")
    assert not failures, "\n".join(failures[:50])
    assert database_fingerprint() == before
