"""Employer pages: registering an organisation, the local lead's approval queue and decision,
an organisation's page and staff list, and one member of staff's employment."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods

from employers import services
from employers.forms import (
    ALL,
    DecisionForm,
    EmployerFilterForm,
    EmployerRegistrationForm,
    StaffFilterForm,
)
from employers.models import Employer
from portal.roles import (
    is_employer_user,
    may_act_for_employers,
    may_decide_employers,
    may_register_employer,
)
from workers import reference
from workers.models import Employment, ReferenceValue
from workers.selectors import staff_status_counts

PAGE_SIZE = 50


def _url_or_none(name: str, **kwargs) -> str | None:
    """A link to a page another part of the portal may not have installed yet."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


@login_required
@require_http_methods(["GET", "POST"])
def register(request):
    if not may_register_employer(request.user):
        raise PermissionDenied
    form = EmployerRegistrationForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            employer = services.register_employer(
                user=request.user, request=request, **form.cleaned_data
            )
        except services.RegistrationRefused as exc:
            form.add_error(exc.field, str(exc))
        else:
            messages.success(
                request,
                f"You have registered {employer.name}. The local lead for "
                f"{employer.local_authority} will check it and we will email you when they "
                "have decided. You can add your staff list now.",
            )
            return redirect("employers:detail", pk=employer.pk)
    return render(
        request,
        "employers/register.html",
        {"form": form, "first": not is_employer_user(request.user)},
    )


def _employer_index(request, *, default_status: str, queue: bool):
    visible = Employer.objects.visible_to(request.user)
    form = EmployerFilterForm(request.GET, default_status=default_status)
    chosen = form.values()
    matching = visible
    if chosen["q"]:
        compact = re.sub(r"\s+", "", chosen["q"])
        matching = matching.filter(
            Q(name__icontains=chosen["q"]) | Q(cqc_location_id__icontains=compact)
        )
    if chosen["kind"]:
        matching = matching.filter(kind=chosen["kind"])
    # One query gives the count behind each status link, under the same search and kind.
    by_status = dict(
        matching.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    counts = [
        {
            "label": label,
            "count": by_status.get(value, 0),
            "href": "?" + urlencode({**chosen, "status": value}),
            "current": chosen["status"] == value,
        }
        for value, label in [*Employer.Status.choices, (ALL, "All")]
    ]
    counts[-1]["count"] = sum(by_status.values())
    if chosen["status"]:
        matching = matching.filter(status=chosen["status"])
    ordering = ["created_at", "pk"] if chosen["status"] == Employer.Status.PENDING else ["name"]
    page = Paginator(
        matching.select_related("local_authority").order_by(*ordering), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "employers/employer_list.html",
        {
            "page": page,
            "form": form,
            "chosen": chosen,
            "counts": counts,
            "total": counts[-1]["count"],
            "queue": queue,
            "can_register": may_register_employer(request.user),
            "can_decide": may_decide_employers(request.user),
        },
    )


@login_required
def employer_list(request):
    return _employer_index(request, default_status=ALL, queue=False)


@login_required
def approval_queue(request):
    if not may_decide_employers(request.user):
        raise PermissionDenied
    return _employer_index(request, default_status=Employer.Status.PENDING, queue=True)


def _current_and_left(employments) -> dict[str, int]:
    return employments.aggregate(
        current=Count("pk", filter=Q(status=Employment.Status.ACTIVE)),
        left=Count("pk", filter=Q(status=Employment.Status.LEFT)),
    )


@login_required
def employer_detail(request, pk: int):
    employer = get_object_or_404(
        Employer.objects.visible_to(request.user).select_related("local_authority", "decided_by"),
        pk=pk,
    )
    staff_counts = _current_and_left(
        Employment.objects.visible_to(request.user).filter(employer=employer)
    )
    return render(
        request,
        "employers/employer_detail.html",
        {
            "employer": employer,
            "staff_counts": staff_counts,
            "upload_url": _url_or_none("employers:upload_list", employer_pk=employer.pk),
            "can_decide": may_decide_employers(request.user),
            "is_member": is_employer_user(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def decide(request, pk: int):
    employer = get_object_or_404(
        Employer.objects.visible_to(request.user).select_related("local_authority", "decided_by"),
        pk=pk,
    )
    if not may_decide_employers(request.user):
        raise PermissionDenied
    form = DecisionForm(request.POST or None)
    stale = False
    if request.method == "POST" and form.is_valid():
        decide_with = (
            services.approve_employer
            if form.cleaned_data["decision"] == DecisionForm.APPROVE
            else services.reject_employer
        )
        try:
            employer = decide_with(
                lead=request.user,
                employer=employer,
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except services.StaleDecision as exc:
            employer, stale = exc.employer, True
        else:
            verb = "approved" if employer.is_approved else "rejected"
            messages.success(
                request, f"You {verb} {employer.name}. We have emailed the people who use it."
            )
            return redirect("employers:approvals")
    return render(
        request,
        "employers/decide.html",
        {"employer": employer, "form": form, "stale": stale},
        status=409 if stale else 200,
    )


def _search(employments, query: str):
    """Match a name (every word), a staff reference or an NHS number typed with spaces."""
    digits = re.sub(r"[\s-]", "", query)
    condition = Q(staff_reference__iexact=query)
    if digits.isdigit() and len(digits) == 10:
        condition |= Q(nhs_number=digits)
    words = query.split()
    if words:
        by_name = Q()
        for word in words:
            by_name &= Q(first_name__icontains=word) | Q(last_name__icontains=word)
        condition |= by_name
    return employments.filter(condition)


def _labelled(kind: str, codes: set[str]) -> list[tuple[str, str]]:
    return sorted(((code, reference.label(kind, code)) for code in codes), key=lambda c: c[1])


@login_required
def staff_list(request, pk: int):
    employer = get_object_or_404(Employer.objects.visible_to(request.user), pk=pk)
    staff = Employment.objects.visible_to(request.user).filter(employer=employer)
    # Offer only the roles and settings this list has (one query); labels come from memory.
    pairs = staff.order_by().values_list("job_role", "work_setting").distinct()
    form = StaffFilterForm(
        request.GET,
        job_roles=_labelled(ReferenceValue.Kind.JOB_ROLE, {role for role, _ in pairs}),
        work_settings=_labelled(ReferenceValue.Kind.WORK_SETTING, {s for _, s in pairs}),
        employment_types=reference.choices(ReferenceValue.Kind.EMPLOYMENT_TYPE),
    )
    chosen = form.values()
    if chosen["q"]:
        staff = _search(staff, chosen["q"])
    for field in ("job_role", "work_setting", "employment_type"):
        if chosen[field]:
            staff = staff.filter(**{field: chosen[field]})
    counts = _current_and_left(staff)
    eligibility = staff_status_counts(staff.filter(status=Employment.Status.ACTIVE))
    if chosen["status"]:
        staff = staff.filter(status=chosen["status"])
    page = Paginator(
        staff.select_related("worker", "current_decision").order_by(
            "last_name", "first_name", "pk"
        ),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "employers/staff_list.html",
        {
            "employer": employer,
            "page": page,
            "form": form,
            "counts": counts,
            "eligibility": eligibility,
            "filtered": any(
                chosen[f] for f in ("q", "job_role", "work_setting", "employment_type")
            ),
            "upload_url": _url_or_none("employers:upload_list", employer_pk=employer.pk),
        },
    )


def _employment(request, pk: int) -> Employment:
    return get_object_or_404(
        Employment.objects.visible_to(request.user).select_related("worker", "employer"), pk=pk
    )


@login_required
def employment_detail(request, pk: int):
    employment = _employment(request, pk)
    return render(
        request,
        "employers/employment_detail.html",
        {
            "employment": employment,
            "can_mark_left": may_act_for_employers(request.user)
            and employment.status == Employment.Status.ACTIVE,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def employment_left(request, pk: int):
    employment = _employment(request, pk)
    if not may_act_for_employers(request.user):
        raise PermissionDenied
    if employment.status == Employment.Status.LEFT:
        messages.info(request, f"{employment.full_name} is already marked as left.")
        return redirect("employers:employment", pk=employment.pk)
    if request.method == "POST":
        services.mark_employment_left(user=request.user, employment=employment, request=request)
        messages.success(
            request, f"You marked {employment.full_name} as left {employment.employer.name}."
        )
        return redirect("employers:staff", pk=employment.employer_id)
    return render(request, "employers/employment_left.html", {"employment": employment})
