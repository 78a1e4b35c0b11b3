"""Receivers: a colleague invitation's site scope when site staff join, and the invitations
that eligibility decisions queue or withdraw (inside the deciding transaction), and what a
cancelled session can do before bookings exist."""

import logging

from django.db.models import Sum
from django.dispatch import receiver

from bookings import invitations
from bookings.models import SiteStaffMembership, Slot, VaccinationSite
from bookings.signals import session_cancelled
from portal import audit
from portal.signals import colleague_joined
from workers.signals import approvals_reversed, employments_approved

logger = logging.getLogger(__name__)


@receiver(colleague_joined)
def add_site_membership(sender, user, invitation, **kwargs):
    site_id = invitation.grant.get("site_id")
    if site_id:
        site = VaccinationSite.objects.get(pk=site_id)
        SiteStaffMembership.objects.update_or_create(user=user, defaults={"site": site})


@receiver(employments_approved)
def queue_invitations(sender, employment_ids, **kwargs):
    invitations.queue_invitations(employment_ids=employment_ids)


@receiver(approvals_reversed)
def withdraw_invitations(sender, employment_ids, **kwargs):
    invitations.withdraw_invitations(employment_ids=employment_ids)


@receiver(session_cancelled)
def note_places_without_bookings(sender, session_id, slot_ids, **kwargs):
    """Telling booked workers needs to know who booked, and there are no booking records yet
    (the booking issue adds them, and the ``session_cancelled`` message template is ready for
    it). Until then a slot can only show places as booked if they were set by hand; rather
    than pass over them silently, record how many people could not be told."""
    if not slot_ids:
        return
    places = Slot.objects.filter(pk__in=slot_ids).aggregate(places=Sum("booked"))["places"] or 0
    logger.error(
        "Session %s was cancelled with %s booked places in %s slots, but there are no booking "
        "records to say who to tell.",
        session_id,
        places,
        len(slot_ids),
    )
    audit.record(
        verb="session_cancelled_nobody_told",
        object_type="bookings.session",
        object_id=session_id,
        details={"booked_places": places, "slot_ids": list(slot_ids)},
    )
