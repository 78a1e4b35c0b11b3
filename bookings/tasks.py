"""Celery tasks for sites and routing: thin callers of bookings.routing, safe to run twice
(routing replaces each worker's stored route)."""

from celery import shared_task
from django.contrib.auth import get_user_model

from bookings.routing import route_workers


@shared_task
def route_area_workers(local_authority_id: int, actor_id: int | None = None) -> int:
    """Route every worker of one local authority; returns how many are unrouted."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return route_workers(local_authority_id=local_authority_id, actor=actor).unrouted
