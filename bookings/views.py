"""Vaccination site pages: sites in the user's scope, one site's sessions, one session."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from bookings.models import Session, VaccinationSite


@login_required
def site_list(request):
    sites = VaccinationSite.objects.visible_to(request.user)
    return render(request, "bookings/site_list.html", {"sites": sites})


@login_required
def site_detail(request, pk: int):
    site = get_object_or_404(VaccinationSite.objects.visible_to(request.user), pk=pk)
    sessions = Session.objects.visible_to(request.user).filter(
        site=site, date__gte=timezone.localdate()
    )[:100]
    return render(request, "bookings/site_detail.html", {"site": site, "sessions": sessions})


@login_required
def session_detail(request, pk: int):
    session = get_object_or_404(
        Session.objects.visible_to(request.user).select_related("site"), pk=pk
    )
    return render(
        request,
        "bookings/session_detail.html",
        {"session": session, "slots": session.slots.all()},
    )
