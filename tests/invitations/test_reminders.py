"""Reminders go to invited workers who have not booked, 3 and 7 days after sending (at most
two, never twice in a day); links expire after 28 days; invitations follow what their
messages did."""

import datetime

import pytest
from django.utils import timezone

from bookings import invitations
from bookings.models import Campaign, Invitation, Message
from tests.invitations.conftest import add_capacity

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


@pytest.fixture
def sent(lead, local_authority, site, approve, make_employment):
    """Three invitations released and sent at ``start``; returns (invitations, start)."""
    add_capacity(site, places=10)
    approve([make_employment() for _ in range(3)])
    campaign = Campaign.objects.create(local_authority=local_authority, started_by=lead)
    invitations.release_campaign(campaign_id=campaign.pk)
    for message in Message.objects.filter(status="pending"):
        invitations.link_context(message)
    Message.objects.update(status=Message.Status.SENT)
    start = timezone.now()
    Invitation.objects.update(sent_at=start)
    return list(Invitation.objects.order_by("pk")), start


def reminders() -> int:
    return Message.objects.filter(template="invitation_reminder").count()


def test_reminders_after_three_and_seven_days_and_no_more(sent, postgres):
    rows, start = sent
    assert invitations.send_reminders(now=start + 2 * DAY) == 0

    assert invitations.send_reminders(now=start + 3 * DAY) == 3
    assert invitations.send_reminders(now=start + 3 * DAY + datetime.timedelta(hours=2)) == 0
    assert invitations.send_reminders(now=start + 6 * DAY) == 0
    assert invitations.send_reminders(now=start + 7 * DAY) == 3
    assert invitations.send_reminders(now=start + 20 * DAY) == 0
    assert reminders() == 6
    assert set(Invitation.objects.values_list("reminder_count", flat=True)) == {2}
    reminder = Message.objects.filter(template="invitation_reminder").first()
    assert reminder.invitation_id in {row.pk for row in rows}
    assert reminder.context["expires_on"]


def test_a_late_run_sends_one_reminder_a_day(sent, postgres):
    _, start = sent
    assert invitations.send_reminders(now=start + 8 * DAY) == 3
    assert invitations.send_reminders(now=start + 8 * DAY) == 0
    assert invitations.send_reminders(now=start + 9 * DAY) == 3


def test_booked_failed_and_expired_invitations_get_no_reminder(sent, postgres):
    rows, start = sent
    Invitation.objects.filter(pk=rows[0].pk).update(status=Invitation.Status.BOOKED)
    Invitation.objects.filter(pk=rows[1].pk).update(status=Invitation.Status.FAILED)
    Invitation.objects.filter(pk=rows[2].pk).update(expires_at=start + 2 * DAY)
    assert invitations.send_reminders(now=start + 3 * DAY) == 0


def test_reminder_settings_are_read(sent, settings, postgres):
    _, start = sent
    settings.INVITATION_REMINDER_DAYS = [1, 2, 5]
    settings.INVITATION_MAX_REMINDERS = 1
    assert invitations.send_reminders(now=start + DAY) == 3
    assert invitations.send_reminders(now=start + 5 * DAY) == 0


def test_expiry_closes_the_invitation_and_cancels_what_was_not_sent(sent, postgres):
    rows, start = sent
    waiting = Message.objects.create(
        channel="email",
        template="invitation_reminder",
        recipient="a@example.org",
        invitation=rows[0],
    )
    assert invitations.expire_invitations(now=start + 27 * DAY) == 0
    assert invitations.expire_invitations(now=start + 29 * DAY) == 3
    assert invitations.expire_invitations(now=start + 29 * DAY) == 0
    assert set(Invitation.objects.values_list("status", flat=True)) == {"expired"}
    waiting.refresh_from_db()
    assert waiting.status == Message.Status.CANCELLED


def test_invitations_follow_their_messages(sent, postgres):
    rows, _ = sent
    Message.objects.filter(invitation=rows[0]).update(status=Message.Status.DELIVERED)
    Message.objects.filter(invitation=rows[1]).update(status=Message.Status.FAILED)
    assert invitations.follow_message_outcomes() == (1, 1)
    statuses = dict(Invitation.objects.values_list("pk", "status"))
    assert statuses == {rows[0].pk: "delivered", rows[1].pk: "failed", rows[2].pk: "sent"}
    # A failed email followed by a delivered text message counts as delivered.
    Message.objects.create(
        channel="sms",
        template="invitation",
        recipient="+447700900123",
        invitation=rows[1],
        status=Message.Status.DELIVERED,
    )
    assert invitations.follow_message_outcomes() == (1, 0)
