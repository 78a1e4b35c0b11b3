"""Celery tasks for sites, routing and the message outbox: thin callers of bookings.routing
and bookings.outbox, safe to run twice (routing replaces each worker's stored route; a message
is claimed by one task before it is sent)."""

from dataclasses import asdict

from celery import shared_task
from django.contrib.auth import get_user_model

from bookings import outbox
from bookings.routing import route_workers


@shared_task
def route_area_workers(local_authority_id: int, actor_id: int | None = None) -> int:
    """Route every worker of one local authority; returns how many are unrouted."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return route_workers(local_authority_id=local_authority_id, actor=actor).unrouted


@shared_task
def send_messages(message_ids: list[int]) -> int:
    """Send the still-pending messages among ``message_ids`` (one chunk); returns how many
    went. Queued on commit by bookings.outbox, on the queue of the messages' channel."""
    return outbox.send_batch(message_ids)


@shared_task
def sweep_messages() -> dict:
    """Beat job: take back dead workers' claims and queue again messages whose task was lost."""
    return asdict(outbox.sweep())
