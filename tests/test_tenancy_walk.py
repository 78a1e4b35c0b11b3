"""Walk every URL pattern that takes an object id, for every role, with another tenant's
object: anything but 403/404 (or, signed out, a redirect to sign in) fails.

URLs are read from the resolver, so a new URL is walked without editing this file. Which model
a URL takes is found by trying: an object of the URL's own tenant that opens the page for a
user who may see it (or an administrator) maps the URL to that object's model. Primary keys
are spread so that each scoped model's ids live in their own range, so an id can only ever
mean one model. A URL with an id that no scoped object opens fails the walk, saying so: give
its model a ``visible_to`` queryset method and add an object of it to
``tests/factories.build_tenant``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse

from portal.roles import Role
from tests.factories import Tenant, build_sibling_employer, build_tenant, make_user

pytestmark = pytest.mark.django_db


# Two tenants in different regions (London; North West), and a second employer inside the
# first tenant's area.
HOME, AWAY = ("E09000033", "Westminster"), ("E08000003", "Manchester")
SIBLING = ("E09000033", "Westminster employer 2")

# URL kwargs that are not object ids, with the value the walk fills in and why it may.
NOT_OBJECT_IDS = {
    "token": "invitation-link-token",  # a signed, expiring secret: it is the credential
    "key": "email-or-reset-key",  # allauth's email confirmation and password reset keys
    "uidb36": "1",  # allauth's password reset: only valid together with its key
    "format": "json",  # Django REST framework's format suffix
    "action": "approve",  # a verb (workers:bulk); the employments come from the user's scope
}
PK_KWARG = re.compile(r"^(pk|id|object_id|.+_pk|.+_id)$")
METHODS = ("GET", "POST")
API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
OPENS = {200, 201, 202, 204, 206, 400, 409, 422}
REDIRECTS = {301, 302, 303, 307, 308}
# Roles that belong to a tenant; administrators see everything and only help with mapping.
TENANT_ROLES = (Role.EMPLOYER, Role.LOCAL_LEAD, Role.SITE_STAFF, Role.NHS_TEAM)
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    kwargs: tuple[str, ...]
    is_admin: bool
    model_admin_model: type[models.Model] | None = None

    @property
    def object_kwargs(self) -> tuple[str, ...]:
        return tuple(k for k in self.kwargs if k not in NOT_OBJECT_IDS)

    @property
    def methods(self) -> tuple[str, ...]:
        return API_METHODS if self.route.startswith("api/") else METHODS

    def __str__(self) -> str:
        return self.name


def pattern_kwargs(pattern) -> list[str]:
    if hasattr(pattern, "converters") and pattern.converters:
        return list(pattern.converters)
    return list(pattern.regex.groupindex)


def collect_routes(patterns=None, prefix="", namespace="", kwargs=()) -> list[Route]:
    """Every URL pattern in the resolver, with its full name and all its kwargs."""
    routes = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        entry_kwargs = (*kwargs, *pattern_kwargs(entry.pattern))
        text = prefix + str(entry.pattern).lstrip("^").rstrip("$")
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            routes += collect_routes(entry.url_patterns, text, inner, entry_kwargs)
        elif isinstance(entry, URLPattern):
            model_admin = getattr(entry.callback, "model_admin", None)
            routes.append(
                Route(
                    name=f"{namespace}{entry.name}" if entry.name else f"<unnamed {text}>",
                    route=text,
                    kwargs=entry_kwargs,
                    is_admin=text.startswith("admin/"),
                    model_admin_model=model_admin.model if model_admin else None,
                )
            )
    return routes


def scoped_models() -> list[type[models.Model]]:
    """Models whose default queryset has ``visible_to``: the ones tenancy applies to."""
    return sorted(
        (
            model
            for model in apps.get_models()
            if not model._meta.proxy
            and hasattr(model._default_manager.get_queryset(), "visible_to")
        ),
        key=lambda model: model._meta.label,
    )


ROUTES = collect_routes()
ID_ROUTES = [route for route in ROUTES if route.object_kwargs and not route.is_admin]
ADMIN_ID_ROUTES = [route for route in ROUTES if route.object_kwargs and route.is_admin]


def spread_primary_keys(scoped: list[type[models.Model]]) -> None:
    """Start each scoped model's ids at its own million, so an id names one model only."""
    with connection.cursor() as cursor:
        for index, model in enumerate(scoped, start=1):
            table, column, start = model._meta.db_table, model._meta.pk.column, index * 1_000_000
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, %s), %s, false)",
                    [table, column, start],
                )
            elif connection.vendor == "sqlite":
                cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
                cursor.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, start]
                )


def pks(model) -> set:
    return set(model._base_manager.values_list("pk", flat=True))


@dataclass
class World:
    """Both tenants, what each one owns (by scoped model), and a signed-in client per role."""

    tenants: dict[str, Tenant]
    owned: dict[str, dict[type[models.Model], list[models.Model]]]
    clients: dict[tuple[str, str], Client] = field(default_factory=dict)
    administrator: Client = None
    anonymous: Client = None

    def checks(self):
        """(who asks, whose objects, which roles): each tenant against the other, and each
        employer's users against the other employer's in the same area."""
        home, away, sibling = HOME[1], AWAY[1], SIBLING[1]
        return [
            (home, away, TENANT_ROLES),
            (away, home, TENANT_ROLES),
            (home, sibling, (Role.EMPLOYER,)),
            (sibling, home, (Role.EMPLOYER,)),
        ]


def build_world() -> World:
    scoped = scoped_models()
    spread_primary_keys(scoped)
    tenants, owned = {}, {}
    for gss_code, label in (HOME, AWAY, SIBLING):
        before = {model: pks(model) for model in scoped}
        builder = build_sibling_employer if (gss_code, label) == SIBLING else build_tenant
        tenants[label] = builder(gss_code, label)
        owned[label] = {
            model: list(model._base_manager.filter(pk__in=pks(model) - before[model]))
            for model in scoped
        }
    world = World(tenants=tenants, owned=owned)
    for label, tenant in tenants.items():
        for role, user in tenant.users.items():
            world.clients[label, role] = signed_in(user)
    world.administrator = signed_in(make_user(Role.ADMINISTRATOR))
    world.anonymous = Client(raise_request_exception=False)
    return world


def signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def value_for(kwarg: str, obj: models.Model):
    if PK_KWARG.match(kwarg):
        return obj.pk
    for model_field in obj._meta.concrete_fields:
        if kwarg in (model_field.name, model_field.attname):
            return getattr(obj, model_field.attname)
    return None


def url_for(route: Route, objects: dict[str, models.Model]) -> str | None:
    kwargs = {name: value for name, value in NOT_OBJECT_IDS.items() if name in route.kwargs}
    for kwarg, obj in objects.items():
        value = value_for(kwarg, obj)
        if value is None:
            return None
        kwargs[kwarg] = value
    return fill(route, kwargs)


def fill(route: Route, kwargs: dict) -> str | None:
    """The route's path with ``kwargs`` in place, or None if the resolver would not match it."""
    path = route.route
    for name, value in kwargs.items():
        path = re.sub(rf"<(?:\w+:)?{name}>|\(\?P<{name}>[^)]*\)", str(value), path)
    url = "/" + path
    try:
        resolve(url)
    except Resolver404:
        return None
    return url


def request(client: Client, method: str, url: str):
    """Send one request and undo whatever it changed, so each request meets the same world."""
    with transaction.atomic():
        response = client.generic(method, url, data=b"", content_type="application/json")
        transaction.set_rollback(True)
    return response


def is_login_redirect(response, login_url: str) -> bool:
    if response.status_code not in REDIRECTS:
        return False
    return response["Location"].split("?")[0] == login_url


def opens(response) -> bool:
    if response.status_code in REDIRECTS:
        return not is_login_redirect(response, resolve_url(settings.LOGIN_URL))
    return response.status_code in OPENS


def describe(objects: dict[str, models.Model]) -> str:
    return ", ".join(f"{k}={obj._meta.label}#{obj.pk}" for k, obj in objects.items())


def combinations(route: Route, owned: dict) -> list[dict[str, models.Model]]:
    """Every way to fill the route's object kwargs with objects of one tenant."""
    everything = [obj for objects in owned.values() for obj in objects]
    return [
        dict(zip(route.object_kwargs, chosen, strict=True))
        for chosen in itertools.product(everything, repeat=len(route.object_kwargs))
    ]


def map_route(route: Route, world: World, tenant: str):
    """The (model per kwarg, method) pairs that open ``route`` for someone in ``tenant``."""
    roles = [world.clients[tenant, role] for role in TENANT_ROLES]
    mapped: dict[tuple, set[str]] = {}
    for objects in combinations(route, world.owned[tenant]):
        signature = tuple(type(obj) for obj in objects.values())
        url = url_for(route, objects)
        if url is None:
            continue
        for method in route.methods:
            if method in mapped.get(signature, set()):
                continue
            # An administrator sees every object: 404 or 405 means the id is not this model's
            # (or the method is not served), whoever asks. Only a page closed to
            # administrators (403) needs the tenant's own roles to tell.
            answer = request(world.administrator, method, url)
            if opens(answer) or (
                answer.status_code == 403
                and any(opens(request(client, method, url)) for client in roles)
            ):
                mapped.setdefault(signature, set()).add(method)
    return mapped


def foreign_fillings(route, signature, own: dict, foreign: dict):
    """Fillings of the route with at least one object from the foreign tenant."""
    choices = []
    for kwarg, model in zip(route.object_kwargs, signature, strict=True):
        choices.append([(kwarg, obj, False) for obj in own.get(model, [])])
        choices[-1] += [(kwarg, obj, True) for obj in foreign.get(model, [])]
    for chosen in itertools.product(*choices):
        if any(is_foreign for _, _, is_foreign in chosen):
            yield {kwarg: obj for kwarg, obj, _ in chosen}


def test_the_walk_finds_the_urls_that_take_ids():
    names = {route.name for route in ID_ROUTES}
    assert {"employers:detail", "workers:detail", "bookings:site_detail"} <= names
    assert {"api-employer-detail", "api-site-detail"} <= names
    assert ADMIN_ID_ROUTES, "admin URLs were not found"


@pytest.mark.parametrize("route", ID_ROUTES, ids=str)
def test_another_tenants_object_is_not_found(route):
    world = build_world()
    # Both tenants are built alike, so what the home tenant's objects open maps the route.
    mapped = map_route(route, world, "Westminster")
    if not mapped:
        home = world.owned["Westminster"]
        absent = [model._meta.label for model in scoped_models() if not home[model]]
        pytest.fail(
            f"{route.route} ({route.name}) takes {route.object_kwargs} but no scoped object "
            "opens it for any role. Its model needs a visible_to() queryset method and an "
            "object in tests/factories.build_tenant (it makes none of: "
            f"{', '.join(absent) or '-'}); if a kwarg is not an object id, add it to "
            "NOT_OBJECT_IDS with the reason.",
            pytrace=False,
        )
    failures = []
    served = set().union(*mapped.values())
    for tenant, owner, roles in world.checks():
        foreign = world.owned[owner]
        own = world.owned[tenant]
        for signature in mapped:
            for objects in foreign_fillings(route, signature, own, foreign):
                url = url_for(route, objects)
                for method in route.methods:
                    allowed = {403, 404} | (set() if method in served else {405})
                    for role in roles:
                        response = request(world.clients[tenant, role], method, url)
                        if response.status_code not in allowed:
                            failures.append(
                                f"{role} of {tenant}: {method} {url} ({describe(objects)}) "
                                f"answered {response.status_code}"
                            )
                    response = request(world.anonymous, method, url)
                    login = resolve_url(settings.LOGIN_URL)
                    if not (
                        response.status_code in allowed | {401}
                        or is_login_redirect(response, login)
                    ):
                        failures.append(
                            f"anonymous: {method} {url} answered {response.status_code}"
                        )
    assert not failures, "another tenant's object was reachable:\n" + "\n".join(failures)


def test_admin_urls_turn_away_everyone_but_administrators():
    world = build_world()
    login = reverse("admin:login")
    failures = []
    for route in ADMIN_ID_ROUTES:
        model = route.model_admin_model
        foreign = world.owned["Manchester"].get(model) or []
        kwargs = {name: NOT_OBJECT_IDS[name] for name in route.kwargs if name in NOT_OBJECT_IDS}
        for kwarg in route.object_kwargs:
            kwargs[kwarg] = foreign[0].pk if foreign and PK_KWARG.match(kwarg) else 1
        if "app_label" in kwargs:
            kwargs["app_label"] = "portal"
        url = fill(route, kwargs)
        if url is None:
            failures.append(f"cannot build {route.route} from {kwargs}")
            continue
        clients = [world.clients["Westminster", role] for role in TENANT_ROLES]
        for client in [*clients, world.anonymous]:
            response = request(client, "GET", url)
            if response.status_code not in {403, 404} and not is_login_redirect(response, login):
                failures.append(f"GET {url} answered {response.status_code}")
    assert not failures, "\n".join(failures)
