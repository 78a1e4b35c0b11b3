"""The one way to write to the audit trail: ``record`` appends an AuditEvent.

Who acted and from where comes from the arguments, else from the request that the
``AuditContextMiddleware`` bound for this thread or task, so model signal receivers (a role
changed in Django admin, say) still know the actor and the address.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models

from portal.client_address import client_ip
from portal.models import AuditEvent

_current_request: ContextVar[Any] = ContextVar("carevax_audit_request", default=None)
_current_actor: ContextVar[Any] = ContextVar("carevax_audit_actor", default=None)


@contextmanager
def bound_request(request) -> Iterator[None]:
    """Make ``request`` the one ``record`` falls back to until the block ends."""
    token = _current_request.set(request)
    try:
        yield
    finally:
        _current_request.reset(token)


@contextmanager
def acting_as(actor) -> Iterator[None]:
    """Name the actor for work done outside a signed-in request (a command, an invitation)."""
    token = _current_actor.set(actor)
    try:
        yield
    finally:
        _current_actor.reset(token)


def current_request():
    return _current_request.get()


def _signed_in_user(request):
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    return None


def record(
    *,
    verb: str,
    actor=None,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    details: dict[str, Any] | None = None,
    request=None,
) -> AuditEvent:
    """Append one audit event.

    ``actor`` defaults to the actor named by ``acting_as``, else the signed-in user of
    ``request`` or of the request being served; ``request`` gives the IP address.
    """
    request = request if request is not None else _current_request.get()
    if actor is None:
        actor = _current_actor.get() or _signed_in_user(request)
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or target.pk
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_label=getattr(actor, "email", "") if actor is not None else "",
        verb=verb,
        object_type=object_type,
        object_id=str(object_id),
        details=details or {},
        ip_address=client_ip(request),
    )
