"""The one way to write to the audit trail: ``record`` appends an AuditEvent."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.models import AuditEvent


def client_ip(request) -> str | None:
    """The caller's address; behind the production proxy the first X-Forwarded-For hop."""
    if request is None:
        return None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


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
    """Append one audit event. ``actor`` defaults to the request's signed-in user."""
    request_user = getattr(request, "user", None)
    if actor is None and request_user is not None and request_user.is_authenticated:
        actor = request_user
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
