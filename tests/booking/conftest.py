"""Fixtures for the booking tests: the invitation fixtures (an area, its lead, an approved
employer, a site), the messaging tests' SMTP server, a second site as an alternative, and
workers invited through a campaign and booked into a session through the booking service."""

import datetime

import pytest
from django.utils import timezone

from bookings import invitations, services
from bookings.models import Booking, Campaign, Invitation, Message, Session, Slot
from bookings.outbox import cancel_messages
from tests.invitations.conftest import (  # noqa: F401 (fixtures)
    approve,
    centre,
    employer,
    lead,
    make_employment,
    site,
)
from tests.messaging.conftest import smtp_sink  # noqa: F401 (fixture)


def add_session(at, *, slots: int = 2, places: int = 3, days_ahead: int = 3) -> Session:
    """A session at site ``at``, ``days_ahead`` days from now, with ``slots`` slots of
    ``places`` places."""
    day = timezone.localdate() + datetime.timedelta(days=days_ahead)
    session = Session.objects.create(
        site=at, date=day, start_time=datetime.time(9), end_time=datetime.time(12)
    )
    zone = timezone.get_current_timezone()
    for index in range(slots):
        Slot.objects.create(
            session=session,
            starts_at=datetime.datetime.combine(day, datetime.time(9, 15 * index), tzinfo=zone),
            capacity=places,
        )
    return session


@pytest.fixture
def invite(lead, local_authority, site, centre, approve, make_employment):  # noqa: F811
    """Approve employments and release a campaign for them, as a lead would: returns each
    worker's sent invitation. The invitation messages themselves are not sent (the tests are
    about what follows a booking), so each run counts only its own messages."""

    def run(*employments) -> list[Invitation]:
        add_session(site, slots=1, places=len(employments), days_ahead=10)
        add_session(centre, slots=1, places=len(employments), days_ahead=10)
        approve(employments)
        campaign = Campaign.objects.create(local_authority=local_authority, started_by=lead)
        invitations.release_campaign(campaign_id=campaign.pk)
        pending = Message.objects.filter(template="invitation", status="pending")
        cancel_messages(pending.values_list("pk", flat=True), reason="not under test")
        found = {
            invitation.worker_id: invitation
            for invitation in Invitation.objects.filter(
                worker__in=[employment.worker for employment in employments]
            )
        }
        return [found[employment.worker_id] for employment in employments]

    return run


def book(invitation: Invitation, slot: Slot, *, dose: int = 1) -> Booking:
    return services.book_slot(
        worker_id=invitation.worker_id, slot_id=slot.pk, dose=dose, invitation_id=invitation.pk
    )
