"""Vaccination site pages: sites in the user's scope, adding and changing sites, sessions and
their capacity, the site calendar, the local lead's routing policy, unrouted workers,
campaigns and invitations, and the page a worker's invitation link opens."""

import datetime
import hmac
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bookings import invitations, outbox, routing, services
from bookings.forms import (
    CampaignForm,
    CancelSessionForm,
    CapacityForm,
    RoutingPolicyForm,
    SessionForm,
    SiteForm,
)
from bookings.models import Campaign, Invitation, RoutingPolicy, Session, VaccinationSite
from bookings.selectors import campaign_progress, people_booked_into
from bookings.selectors import site_calendar as calendar_for_site
from portal.roles import may_manage_sites, may_route_workers, may_run_campaigns
from workers.selectors import attach_shown_records

CALENDAR_DAYS = 28


def _show_errors(form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


@login_required
def site_list(request):
    sites = VaccinationSite.objects.visible_to(request.user)
    return render(
        request,
        "bookings/site_list.html",
        {"sites": sites, "can_manage_sites": may_manage_sites(request.user)},
    )


@login_required
def site_create(request):
    if not may_manage_sites(request.user):
        raise PermissionDenied
    form = SiteForm(request.POST or None, user=request.user, initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            site = services.create_site(actor=request.user, request=request, **form.cleaned_data)
        except ValidationError as error:
            _show_errors(form, error)
        else:
            messages.success(request, f"You added {site.name}.")
            return redirect("bookings:site_detail", pk=site.pk)
    return render(request, "bookings/site_form.html", {"form": form, "site": None})


@login_required
def site_edit(request, pk: int):
    site = get_object_or_404(VaccinationSite.objects.visible_to(request.user), pk=pk)
    if not may_manage_sites(request.user):
        raise PermissionDenied
    form = SiteForm(request.POST or None, user=request.user, initial=SiteForm.initial_for(site))
    if request.method == "POST" and form.is_valid():
        changes = dict(form.cleaned_data)
        local_authorities = list(changes.pop("local_authorities"))
        try:
            with transaction.atomic():
                services.update_site(
                    actor=request.user,
                    site=site,
                    local_authorities=local_authorities,
                    request=request,
                    **changes,
                )
        except ValidationError as error:
            site.refresh_from_db()
            _show_errors(form, error)
        else:
            messages.success(request, f"You saved the changes to {site.name}.")
            return redirect("bookings:site_detail", pk=site.pk)
    return render(request, "bookings/site_form.html", {"form": form, "site": site})


@login_required
def site_detail(request, pk: int):
    site = get_object_or_404(VaccinationSite.objects.visible_to(request.user), pk=pk)
    sessions = Session.objects.visible_to(request.user).filter(
        site=site, date__gte=timezone.localdate()
    )[:100]
    return render(
        request,
        "bookings/site_detail.html",
        {
            "site": site,
            "sessions": sessions,
            "can_manage_sites": may_manage_sites(request.user),
            "can_manage_sessions": services.can_manage_sessions(request.user, site),
        },
    )


@login_required
def site_calendar(request, pk: int):
    site = get_object_or_404(VaccinationSite.objects.visible_to(request.user), pk=pk)
    today = timezone.localdate()
    try:
        first_day = datetime.date.fromisoformat(request.GET.get("from", ""))
    except ValueError:
        first_day = today
    days = calendar_for_site(user=request.user, site=site, first_day=first_day, days=CALENDAR_DAYS)
    step = datetime.timedelta(days=CALENDAR_DAYS)
    return render(
        request,
        "bookings/site_calendar.html",
        {
            "site": site,
            "days": days,
            "totals": {
                "capacity": sum(day.capacity for day in days),
                "booked": sum(day.booked for day in days),
                "free": sum(day.free for day in days),
            },
            "previous_from": first_day - step,
            "next_from": first_day + step,
        },
    )


@login_required
def session_create(request, pk: int):
    site = get_object_or_404(VaccinationSite.objects.visible_to(request.user), pk=pk)
    if not services.can_manage_sessions(request.user, site):
        raise PermissionDenied
    form = SessionForm(request.POST or None, site=site)
    if request.method == "POST" and form.is_valid():
        plan = form.cleaned_data["plan"]
        try:
            sessions = services.create_sessions(
                actor=request.user, site=site, request=request, **plan
            )
        except ValidationError as error:
            _show_errors(form, error)
        else:
            times, leftover = services.slot_times(
                start_time=plan["start_time"],
                end_time=plan["end_time"],
                slot_minutes=plan["slot_minutes"],
            )
            text = (
                f"You added {len(sessions)} session{'s' if len(sessions) != 1 else ''} with "
                f"{len(times)} slots each, room for {plan['vaccinators']} in each slot."
            )
            if leftover:
                text += (
                    f" The last {leftover} minutes of each session are too short for a slot, "
                    "so we left them out."
                )
            messages.success(request, text)
            return redirect("bookings:site_calendar", pk=site.pk)
    return render(request, "bookings/session_form.html", {"form": form, "site": site})


def _session_for(request, pk: int) -> Session:
    return get_object_or_404(Session.objects.visible_to(request.user).select_related("site"), pk=pk)


@login_required
def session_detail(request, pk: int):
    session = _session_for(request, pk)
    return render(
        request,
        "bookings/session_detail.html",
        {
            "session": session,
            "slots": session.slots.all(),
            "can_manage_sessions": services.can_manage_sessions(request.user, session.site),
        },
    )


@login_required
def session_capacity(request, pk: int):
    session = _session_for(request, pk)
    if not services.can_manage_sessions(request.user, session.site):
        raise PermissionDenied
    form = CapacityForm(request.POST or None, initial={"vaccinators": session.vaccinators})
    if request.method == "POST" and form.is_valid():
        try:
            services.change_capacity(
                actor=request.user,
                session=session,
                vaccinators=form.cleaned_data["vaccinators"],
                request=request,
            )
        except ValidationError as error:
            _show_errors(form, error)
        else:
            messages.success(
                request, f"Each slot now has room for {form.cleaned_data['vaccinators']}."
            )
            return redirect("bookings:session_detail", pk=session.pk)
    return render(request, "bookings/session_capacity.html", {"form": form, "session": session})


@login_required
def session_cancel(request, pk: int):
    session = _session_for(request, pk)
    if not services.can_manage_sessions(request.user, session.site):
        raise PermissionDenied
    form = CancelSessionForm(request.POST or None)
    booked = people_booked_into(user=request.user, session=session)
    if request.method == "POST" and form.is_valid():
        services.cancel_session(
            actor=request.user,
            session=session,
            reason=form.cleaned_data["reason"],
            request=request,
        )
        messages.success(
            request,
            "You cancelled the session. "
            + (
                f"We will tell the {booked} {'person' if booked == 1 else 'people'} booked "
                "into it and ask them to book again."
                if booked
                else "Nobody was booked into it."
            ),
        )
        return redirect("bookings:site_calendar", pk=session.site_id)
    return render(
        request,
        "bookings/session_cancel.html",
        {"form": form, "session": session, "booked": booked},
    )


@login_required
def routing_policy(request):
    if not may_route_workers(request.user):
        raise PermissionDenied
    authority = request.user.local_authority
    policy = RoutingPolicy.for_authorities([authority.pk])[authority.pk]
    form = RoutingPolicyForm(request.POST or None, initial=RoutingPolicyForm.initial_for(policy))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.save_routing_policy(
                actor=request.user,
                local_authority=authority,
                site_kinds=data["site_kinds"],
                max_distance_km=data["max_distance_km"],
                horizon_days=data["horizon_days"],
                over_invite_factor=data["over_invite_factor"],
                request=request,
            )
        except ValidationError as error:
            _show_errors(form, error)
        else:
            messages.success(request, "You saved the routing policy.")
            return redirect("bookings:routing_policy")
    return render(
        request,
        "bookings/routing_policy.html",
        {"form": form, "policy": policy, "authority": authority},
    )


@login_required
def unrouted_workers(request):
    if not may_route_workers(request.user):
        raise PermissionDenied
    page = Paginator(routing.unrouted_routes(request.user), 50).get_page(request.GET.get("page"))
    page.object_list = attach_shown_records(request.user, page.object_list)
    return render(request, "bookings/unrouted_workers.html", {"page": page})


@login_required
@require_POST
def route_area(request):
    if not may_route_workers(request.user):
        raise PermissionDenied
    routing.queue_area_routing(
        local_authority_id=request.user.local_authority_id, actor=request.user
    )
    messages.success(
        request, "We are routing the workers in your area. Refresh this page in a minute."
    )
    return redirect("bookings:unrouted_workers")


@csrf_exempt
@require_POST
def notify_delivery_receipt(request):
    """GOV.UK Notify's delivery receipt callback: ``Authorization: Bearer <token>`` with the
    token set in Notify and in NOTIFY_CALLBACK_TOKEN. Receipts are idempotent."""
    expected = settings.NOTIFY_CALLBACK_TOKEN
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        response = JsonResponse({"error": "A bearer token is required."}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    if not expected or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        return JsonResponse({"error": "The token is not valid."}, status=403)
    try:
        receipt = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        receipt = None
    if not isinstance(receipt, dict) or not receipt.get("status"):
        return JsonResponse({"error": "Expected a JSON delivery receipt."}, status=400)
    return JsonResponse({"result": outbox.record_delivery_receipt(receipt)})


# ---------------------------------------------------------------------------------------------
# Campaigns and invitations (local leads), and the worker's invitation link (no sign-in)


def _require_campaign_lead(request) -> None:
    if not may_run_campaigns(request.user):
        raise PermissionDenied


@login_required
def campaign_list(request):
    campaigns = Campaign.objects.visible_to(request.user).select_related("employer", "started_by")
    return render(
        request,
        "bookings/campaign_list.html",
        {"campaigns": campaigns, "can_run": may_run_campaigns(request.user)},
    )


@login_required
def campaign_start(request):
    _require_campaign_lead(request)
    authority = request.user.local_authority
    policy = RoutingPolicy.for_authorities([authority.pk])[authority.pk]
    form = CampaignForm(
        request.POST or None,
        user=request.user,
        initial={"scope": "area", "over_invite_factor": policy.over_invite_factor},
    )
    if request.method == "POST" and form.is_valid():
        try:
            campaign = invitations.start_campaign(
                lead=request.user,
                employer_id=form.cleaned_data["employer_id"],
                over_invite_factor=form.cleaned_data["over_invite_factor"],
                request=request,
            )
        except ValidationError as error:
            _show_errors(form, error)
        else:
            messages.success(
                request,
                "You started the campaign. We are sending the first invitations now. "
                "Refresh this page in a minute to see them.",
            )
            return redirect("bookings:campaign_detail", pk=campaign.pk)
    return render(
        request,
        "bookings/campaign_start.html",
        {"form": form, "authority": authority, "policy": policy},
    )


@login_required
def campaign_detail(request, pk: int):
    campaign = get_object_or_404(
        Campaign.objects.visible_to(request.user).select_related("employer", "local_authority"),
        pk=pk,
    )
    counts = campaign_progress(user=request.user, campaign=campaign)
    return render(
        request,
        "bookings/campaign_detail.html",
        {
            "campaign": campaign,
            "counts": counts,
            "can_run": may_run_campaigns(request.user)
            and request.user.local_authority_id == campaign.local_authority_id,
        },
    )


@login_required
@require_POST
def campaign_release(request, pk: int):
    campaign = get_object_or_404(Campaign.objects.visible_to(request.user), pk=pk)
    _require_campaign_lead(request)
    if campaign.is_active:
        invitations.queue_release(campaign_id=campaign.pk)
        messages.success(
            request, "We are checking for free places and sending more invitations if there are."
        )
    return redirect("bookings:campaign_detail", pk=campaign.pk)


@login_required
@require_POST
def campaign_stop(request, pk: int):
    campaign = get_object_or_404(Campaign.objects.visible_to(request.user), pk=pk)
    _require_campaign_lead(request)
    invitations.stop_campaign(lead=request.user, campaign=campaign, request=request)
    messages.success(request, "You stopped the campaign. Invitations already sent still work.")
    return redirect("bookings:campaign_detail", pk=campaign.pk)


@login_required
def campaign_invitations(request, pk: int):
    campaign = get_object_or_404(Campaign.objects.visible_to(request.user), pk=pk)
    status = request.GET.get("status", "")
    rows = (
        Invitation.objects.visible_to(request.user)
        .filter(campaign.scope())
        .select_related("worker", "site")
        .order_by("worker__last_name", "worker__first_name", "pk")
    )
    if status in Invitation.Status.values:
        rows = rows.filter(status=status)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    page.object_list = attach_shown_records(request.user, page.object_list)
    return render(
        request,
        "bookings/campaign_invitations.html",
        {
            "campaign": campaign,
            "page": page,
            "status": status,
            "statuses": Invitation.Status.choices,
        },
    )


@login_required
def invitation_detail(request, pk: int):
    invitation = get_object_or_404(
        Invitation.objects.visible_to(request.user).select_related(
            "worker", "site", "employment__employer", "superseded_by"
        ),
        pk=pk,
    )
    attach_shown_records(request.user, [invitation])
    return render(
        request,
        "bookings/invitation_detail.html",
        {
            "invitation": invitation,
            "can_resend": may_run_campaigns(request.user)
            and invitation.status in invitations.RESENDABLE,
        },
    )


@login_required
def invitation_resend(request, pk: int):
    invitation = get_object_or_404(
        Invitation.objects.visible_to(request.user).select_related("worker"), pk=pk
    )
    attach_shown_records(request.user, [invitation])
    _require_campaign_lead(request)
    error = None
    if request.method == "POST":
        try:
            new = invitations.resend_invitation(
                lead=request.user, invitation_id=invitation.pk, request=request
            )
        except ValidationError as exc:
            error = exc.messages[0]
        else:
            messages.success(
                request,
                f"We are sending {invitation.shown.first_name} a new link. The old link no "
                "longer works.",
            )
            return redirect("bookings:invitation_detail", pk=new.pk)
    return render(
        request, "bookings/invitation_resend.html", {"invitation": invitation, "error": error}
    )


def invitation_link(request, token: str):
    """The page a worker's personal link opens: checked by the token's hash, it shows the
    routed site and alternatives, or says plainly why the link no longer works."""
    check = invitations.check_link(token=token, request=request)
    status = {"valid": 200, "unknown": 404}.get(check.state, 410)
    return render(
        request,
        "bookings/invitation_link.html",
        {"check": check, "invitation": check.invitation},
        status=status,
    )
