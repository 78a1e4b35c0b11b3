"""Receivers: a colleague invitation's site scope when site staff join, and the invitations
that eligibility decisions queue or withdraw (inside the deciding transaction)."""

from django.dispatch import receiver

from bookings import invitations
from bookings.models import SiteStaffMembership, VaccinationSite
from portal.signals import colleague_joined
from workers.signals import approvals_reversed, employments_approved


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
