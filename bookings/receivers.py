"""Applies a colleague invitation's site scope when site staff join."""

from django.dispatch import receiver

from bookings.models import SiteStaffMembership, VaccinationSite
from portal.signals import colleague_joined


@receiver(colleague_joined)
def add_site_membership(sender, user, invitation, **kwargs):
    site_id = invitation.grant.get("site_id")
    if site_id:
        site = VaccinationSite.objects.get(pk=site_id)
        SiteStaffMembership.objects.update_or_create(user=user, defaults={"site": site})
