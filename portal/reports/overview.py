"""Aggregate figures for NHS team members and administrators, scoped to their region."""

from django.db.models import Count, Q

from bookings.models import VaccinationSite
from employers.models import Employer
from workers.models import Employment


def overview_figures(user) -> dict:
    employers = Employer.objects.visible_to(user).aggregate(
        total=Count("pk"),
        approved=Count("pk", filter=Q(status=Employer.Status.APPROVED)),
        pending=Count("pk", filter=Q(status=Employer.Status.PENDING)),
    )
    staff = (
        Employment.objects.countable_by(user)
        .filter(status=Employment.Status.ACTIVE)
        .aggregate(employments=Count("pk"), workers=Count("worker", distinct=True))
    )
    sites = VaccinationSite.objects.visible_to(user).aggregate(
        total=Count("pk"), active=Count("pk", filter=Q(is_active=True))
    )
    return {"employers": employers, "staff": staff, "sites": sites}
