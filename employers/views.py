"""Employer pages: the list of organisations a user may see and one organisation's page."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from employers.models import Employer
from workers.models import Employment


@login_required
def employer_list(request):
    employers = Employer.objects.visible_to(request.user).select_related("local_authority")
    status = request.GET.get("status", "")
    if status in Employer.Status.values:
        employers = employers.filter(status=status)
    page = Paginator(employers, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "employers/employer_list.html",
        {"page": page, "status": status, "statuses": Employer.Status.choices},
    )


@login_required
def employer_detail(request, pk: int):
    employer = get_object_or_404(
        Employer.objects.visible_to(request.user).select_related("local_authority"), pk=pk
    )
    staff = (
        Employment.objects.visible_to(request.user)
        .filter(employer=employer)
        .select_related("worker")
    )
    page = Paginator(staff, 50).get_page(request.GET.get("page"))
    return render(request, "employers/employer_detail.html", {"employer": employer, "page": page})
