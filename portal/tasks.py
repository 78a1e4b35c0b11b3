"""Scheduled housekeeping for cross-cutting records."""

from celery import shared_task
from django.utils import timezone

from portal.models import ColleagueInvitation


@shared_task(name="portal.tasks.expire_colleague_invitations_task")
def expire_colleague_invitations_task() -> int:
    """Delete unused colleague invitations a week past expiry (their links already fail)."""
    cutoff = timezone.now() - timezone.timedelta(days=7)
    deleted, _ = ColleagueInvitation.objects.filter(
        accepted_at__isnull=True, expires_at__lt=cutoff
    ).delete()
    return deleted
