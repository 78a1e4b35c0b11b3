"""Applies a colleague invitation's employer scope when the colleague joins."""

from django.dispatch import receiver

from employers.models import Employer, EmployerMembership
from portal.signals import colleague_joined


@receiver(colleague_joined)
def add_employer_membership(sender, user, invitation, **kwargs):
    employer_id = invitation.grant.get("employer_id")
    if employer_id:
        employer = Employer.objects.get(pk=employer_id)
        EmployerMembership.objects.get_or_create(user=user, employer=employer)
