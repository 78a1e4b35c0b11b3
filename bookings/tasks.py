"""Celery tasks for sites, routing, the message outbox and invitations: thin callers of
bookings.routing, bookings.outbox and bookings.invitations, safe to run twice (routing
replaces each worker's stored route; a message is claimed by one task before it is sent;
releases, reminders and expiry lock the rows they change and skip what others hold)."""

from dataclasses import asdict

from celery import shared_task
from django.contrib.auth import get_user_model


@shared_task(name="bookings.tasks.route_area_workers_task")
def route_area_workers_task(local_authority_id: int, actor_id: int | None = None) -> int:
    """Route every worker of one local authority; returns how many are unrouted."""
    from bookings.routing import route_workers

    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return route_workers(local_authority_id=local_authority_id, actor=actor).unrouted


@shared_task(name="bookings.tasks.send_messages_task")
def send_messages_task(message_ids: list[int]) -> int:
    """Send the still-pending messages among ``message_ids`` (one chunk); returns how many
    went. Queued on commit by bookings.outbox, on the queue of the messages' channel."""
    from bookings import outbox

    return outbox.send_batch(message_ids)


@shared_task(name="bookings.tasks.sweep_messages_task")
def sweep_messages_task() -> dict:
    """Beat job: take back dead workers' claims and queue again messages whose task was lost."""
    from bookings import outbox

    return asdict(outbox.sweep())


@shared_task(name="bookings.tasks.release_campaign_task")
def release_campaign_task(campaign_id: int) -> int:
    """Route and release what one campaign's sites have room for; returns how many."""
    from bookings import invitations

    return invitations.release_campaign(campaign_id=campaign_id).released


@shared_task(name="bookings.tasks.release_active_campaigns_task")
def release_active_campaigns_task() -> int:
    """Beat job: bring invitations in line with their messages, then queue a release of each
    running campaign (capacity may have freed or been added)."""
    from bookings import invitations

    invitations.follow_message_outcomes()
    campaign_ids = invitations.running_campaign_ids()
    for campaign_id in campaign_ids:
        invitations.queue_release(campaign_id=campaign_id)
    return len(campaign_ids)


@shared_task(name="bookings.tasks.send_invitation_reminders_task")
def send_invitation_reminders_task() -> int:
    """Beat job: remind invited workers who have not booked."""
    from bookings import invitations

    return invitations.send_reminders()


@shared_task(name="bookings.tasks.expire_invitations_task")
def expire_invitations_task() -> int:
    """Beat job: close invitations whose links have expired."""
    from bookings import invitations

    return invitations.expire_invitations()
