"""Writes for vaccination sites, sessions, bookings and routing policies: each function is one
business action in one transaction that records its audit event and returns what it made."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from bookings import invitations
from bookings.models import (
    DEFAULT_SITE_KINDS,
    Booking,
    Invitation,
    RoutingPolicy,
    Session,
    SiteStaffMembership,
    Slot,
    VaccinationSite,
)
from portal import audit
from portal.models import LocalAuthority
from portal.roles import is_administrator, is_local_lead, is_site_staff, may_manage_sites

MAX_PATTERN_WEEKS = 12
MAX_SLOT_MINUTES = 240
MAX_VACCINATORS = 100

# ---------------------------------------------------------------------------------------------
# Sites


def manageable_local_authorities(user):
    """The local authorities a site manager may say a site serves."""
    authorities = LocalAuthority.objects.all()
    if not is_administrator(user) and user.region_code:
        authorities = authorities.filter(region_code=user.region_code)
    return authorities


_SITE_FIELDS = ("name", "kind", "ods_code", "address", "postcode", "accessibility_notes")


def _check_authorities(actor, local_authorities: Sequence[LocalAuthority]) -> None:
    if not local_authorities:
        raise ValidationError(
            {"local_authorities": "Choose at least one local authority the site serves."}
        )
    allowed = set(manageable_local_authorities(actor).values_list("pk", flat=True))
    outside = [la.name for la in local_authorities if la.pk not in allowed]
    if outside:
        raise ValidationError(
            {"local_authorities": f"{', '.join(outside)} is outside your region."},
        )


@transaction.atomic
def create_site(
    *,
    actor,
    name: str,
    kind: str,
    ods_code: str,
    postcode: str,
    local_authorities: Sequence[LocalAuthority],
    address: str = "",
    accessibility_notes: str = "",
    is_active: bool = True,
    request=None,
) -> VaccinationSite:
    if not may_manage_sites(actor):
        raise PermissionDenied("Only NHS team members and administrators add sites.")
    _check_authorities(actor, local_authorities)
    site = VaccinationSite(
        name=name,
        kind=kind,
        ods_code=ods_code.strip().upper(),
        postcode=postcode,
        address=address,
        accessibility_notes=accessibility_notes,
        is_active=is_active,
    )
    site.full_clean(exclude=["local_authorities"])
    site.save()
    site.local_authorities.set(local_authorities)
    audit.record(
        verb="site_created",
        actor=actor,
        target=site,
        details={
            "name": site.name,
            "kind": site.kind,
            "postcode": site.postcode,
            "local_authorities": sorted(la.gss_code for la in local_authorities),
        },
        request=request,
    )
    return site


@transaction.atomic
def update_site(
    *,
    actor,
    site: VaccinationSite,
    local_authorities: Sequence[LocalAuthority] | None = None,
    request=None,
    **changes,
) -> VaccinationSite:
    """Change a site's details; a changed postcode moves it to the new district centroid."""
    if not may_manage_sites(actor):
        raise PermissionDenied("Only NHS team members and administrators change sites.")
    unknown = set(changes) - set(_SITE_FIELDS) - {"is_active"}
    if unknown:
        raise TypeError(f"update_site() got unexpected fields {sorted(unknown)}")
    before = {field: getattr(site, field) for field in changes}
    for field, value in changes.items():
        setattr(site, field, value)
    if "ods_code" in changes:
        site.ods_code = site.ods_code.strip().upper()
    site.full_clean(exclude=["local_authorities"])
    site.save()
    changed = {
        field: {"from": str(before[field]), "to": str(getattr(site, field))}
        for field in changes
        if before[field] != getattr(site, field)
    }
    if local_authorities is not None:
        _check_authorities(actor, local_authorities)
        old = sorted(site.local_authorities.values_list("gss_code", flat=True))
        new = sorted(la.gss_code for la in local_authorities)
        if old != new:
            site.local_authorities.set(local_authorities)
            changed["local_authorities"] = {"from": old, "to": new}
    audit.record(verb="site_changed", actor=actor, target=site, details=changed, request=request)
    return site


@transaction.atomic
def add_site_staff(*, actor, site: VaccinationSite, user, request=None) -> SiteStaffMembership:
    """Make ``user`` a member of staff at ``site`` (and only there)."""
    if not may_manage_sites(actor):
        raise PermissionDenied("Only NHS team members and administrators add site staff.")
    membership, _ = SiteStaffMembership.objects.update_or_create(user=user, defaults={"site": site})
    audit.record(
        verb="site_staff_added",
        actor=actor,
        target=site,
        details={"user": user.email},
        request=request,
    )
    return membership


# ---------------------------------------------------------------------------------------------
# Sessions and slots


def long_date(day: datetime.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def can_manage_sessions(user, site: VaccinationSite) -> bool:
    """Site staff run their own site's sessions; administrators may act for any site."""
    return is_administrator(user) or (
        is_site_staff(user) and SiteStaffMembership.objects.filter(user=user, site=site).exists()
    )


def session_dates(
    *, first_date: datetime.date, weeks: int = 1, weekdays: Iterable[int] | None = None
) -> list[datetime.date]:
    """The dates of a pattern: ``weekdays`` (0 = Monday) for ``weeks`` weeks from
    ``first_date``; without weekdays, just ``first_date``."""
    if not weekdays:
        return [first_date]
    chosen = set(weekdays)
    return [
        day
        for offset in range(weeks * 7)
        if (day := first_date + datetime.timedelta(days=offset)).weekday() in chosen
    ]


def slot_times(
    *, start_time: datetime.time, end_time: datetime.time, slot_minutes: int
) -> tuple[list[datetime.time], int]:
    """The start of each full slot, and the minutes at the end too short for a slot (dropped)."""
    start = start_time.hour * 60 + start_time.minute
    end = end_time.hour * 60 + end_time.minute
    count, leftover = divmod(end - start, slot_minutes)
    times = [
        datetime.time(*divmod(start + index * slot_minutes, 60)) for index in range(max(count, 0))
    ]
    return times, leftover


def session_plan_errors(
    *,
    site: VaccinationSite | None,
    dates: Sequence[datetime.date],
    start_time: datetime.time,
    end_time: datetime.time,
    slot_minutes: int,
    vaccinators: int,
    weeks: int = 1,
) -> dict[str, str]:
    """Plain-English problems with a planned set of sessions, by form field (one query)."""
    errors: dict[str, str] = {}
    today = timezone.localdate()
    if not dates:
        errors["weekdays"] = "Choose at least one day of the week."
    elif min(dates) < today:
        errors["date"] = "The date must be today or in the future."
    if weeks < 1 or weeks > MAX_PATTERN_WEEKS:
        errors["weeks"] = f"Enter a number of weeks from 1 to {MAX_PATTERN_WEEKS}."
    if end_time <= start_time:
        errors["end_time"] = "The end time must be after the start time."
    if not 5 <= slot_minutes <= MAX_SLOT_MINUTES:
        errors["slot_minutes"] = f"Enter a slot length from 5 to {MAX_SLOT_MINUTES} minutes."
    elif "end_time" not in errors:
        times, _ = slot_times(start_time=start_time, end_time=end_time, slot_minutes=slot_minutes)
        if not times:
            errors["slot_minutes"] = "The slot length must not be longer than the session."
    if not 1 <= vaccinators <= MAX_VACCINATORS:
        errors["vaccinators"] = f"Enter a number of vaccinators from 1 to {MAX_VACCINATORS}."
    if site is not None and dates and not errors:
        clash = (
            Session.objects.filter(
                site=site,
                is_cancelled=False,
                date__in=dates,
                start_time__lt=end_time,
                end_time__gt=start_time,
            )
            .order_by("date", "start_time")
            .first()
        )
        if clash is not None:
            errors["start_time"] = (
                f"This overlaps the session on {long_date(clash.date)} from "
                f"{clash.start_time:%H:%M} to {clash.end_time:%H:%M}. Choose other times or "
                "cancel that session first."
            )
    return errors


@transaction.atomic
def create_sessions(
    *,
    actor,
    site: VaccinationSite,
    dates: Sequence[datetime.date],
    start_time: datetime.time,
    end_time: datetime.time,
    slot_minutes: int,
    vaccinators: int,
    weeks: int = 1,
    request=None,
) -> list[Session]:
    """Create one session per date with its slots, set-based: one insert for the sessions and
    one (batched) for the slots. Each slot's capacity is the number of vaccinators. Minutes at
    the end too short for a full slot are left out."""
    if not can_manage_sessions(actor, site):
        raise PermissionDenied("Only the site's staff create its sessions.")
    errors = session_plan_errors(
        site=site,
        dates=dates,
        start_time=start_time,
        end_time=end_time,
        slot_minutes=slot_minutes,
        vaccinators=vaccinators,
        weeks=weeks,
    )
    if errors:
        raise ValidationError(errors)
    times, leftover = slot_times(
        start_time=start_time, end_time=end_time, slot_minutes=slot_minutes
    )
    now = timezone.now()
    sessions = Session.objects.bulk_create(
        [
            Session(
                site=site,
                date=day,
                start_time=start_time,
                end_time=end_time,
                slot_minutes=slot_minutes,
                vaccinators=vaccinators,
                capacity_per_slot=vaccinators,
                created_by=actor,
                created_at=now,
            )
            for day in sorted(set(dates))
        ]
    )
    zone = timezone.get_current_timezone()
    Slot.objects.bulk_create(
        [
            Slot(
                session=session,
                starts_at=datetime.datetime.combine(session.date, time, tzinfo=zone),
                capacity=vaccinators,
            )
            for session in sessions
            for time in times
        ],
        batch_size=5000,
    )
    audit.record(
        verb="sessions_created",
        actor=actor,
        target=site,
        details={
            "session_ids": [session.pk for session in sessions],
            "dates": [session.date.isoformat() for session in sessions],
            "start_time": f"{start_time:%H:%M}",
            "end_time": f"{end_time:%H:%M}",
            "slot_minutes": slot_minutes,
            "slots_per_session": len(times),
            "minutes_left_out": leftover,
            "capacity_per_slot": vaccinators,
        },
        request=request,
    )
    return sessions


@transaction.atomic
def change_capacity(*, actor, session: Session, vaccinators: int, request=None) -> Session:
    """Set the session's vaccinators and so each slot's capacity. Refused if any slot already
    has more bookings than the new capacity; the database check holds the line against a
    booking that lands meanwhile."""
    if not can_manage_sessions(actor, session.site):
        raise PermissionDenied("Only the site's staff change its sessions.")
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.is_cancelled:
        raise ValidationError({"vaccinators": "This session is cancelled. You cannot change it."})
    if not 1 <= vaccinators <= MAX_VACCINATORS:
        raise ValidationError(
            {"vaccinators": f"Enter a number of vaccinators from 1 to {MAX_VACCINATORS}."}
        )
    most_booked = session.slots.aggregate(most=Max("booked"))["most"] or 0
    if vaccinators < most_booked:
        raise ValidationError({"vaccinators": _below_booked_message(most_booked)})
    previous = session.capacity_per_slot
    try:
        with transaction.atomic():
            session.slots.update(capacity=vaccinators)
    except IntegrityError as exc:
        # A booking was made between our check and the update.
        most_booked = session.slots.aggregate(most=Max("booked"))["most"] or 0
        raise ValidationError({"vaccinators": _below_booked_message(most_booked)}) from exc
    session.vaccinators = vaccinators
    session.capacity_per_slot = vaccinators
    session.save(update_fields=["vaccinators", "capacity_per_slot"])
    audit.record(
        verb="session_capacity_changed",
        actor=actor,
        target=session,
        details={"from": previous, "to": vaccinators},
        request=request,
    )
    return session


def _below_booked_message(most_booked: int) -> str:
    return (
        f"A slot in this session already has {most_booked} bookings, so each slot needs room "
        f"for at least {most_booked}. Enter {most_booked} or more."
    )


@transaction.atomic
def cancel_session(*, actor, session: Session, reason: str, request=None) -> Session:
    """Mark the session cancelled and cancel its bookings in the same transaction, giving their
    places back, and tell each booked worker once, with a fresh link to book again (their
    invitation, reopened: bookings.invitations.invite_to_rebook). Cancelling twice does
    nothing more; a rolled-back cancellation sends nothing (the outbox)."""
    if not can_manage_sessions(actor, session.site):
        raise PermissionDenied("Only the site's staff cancel its sessions.")
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.is_cancelled:
        return session
    now = timezone.now()
    session.is_cancelled = True
    session.cancelled_at = now
    session.cancelled_by = actor
    session.cancel_reason = reason
    session.save(update_fields=["is_cancelled", "cancelled_at", "cancelled_by", "cancel_reason"])
    booking_ids = _cancel_bookings(
        Booking.objects.live().filter(slot__session=session),
        reason=Booking.CancelReason.SESSION_CANCELLED,
        now=now,
    )
    told = invitations.invite_to_rebook(booking_ids=booking_ids)
    # Places set by hand (no booking records) cannot be told: count them, not pass over them.
    unrecorded = sum(session.slots.values_list("booked", flat=True))
    audit.record(
        verb="session_cancelled",
        actor=actor,
        target=session,
        details={
            "reason": reason,
            "bookings_cancelled": len(booking_ids),
            "workers_told": told,
            "places_without_booking_records": unrecorded,
        },
        request=request,
    )
    return session


# ---------------------------------------------------------------------------------------------
# Bookings

REFERENCE_PREFIX = "CVX"
REFERENCE_ATTEMPTS = 5


def new_booking_reference() -> str:
    """A reference such as ``CVX-7F3K-9Q2P``: eight characters nobody mistakes for others
    (30^8, about 6.6 * 10^11 of them), chosen at random so they cannot be guessed in turn."""
    alphabet = Booking.REFERENCE_ALPHABET
    characters = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"{REFERENCE_PREFIX}-{characters[:4]}-{characters[4:]}"


def _booking_error(message: str) -> ValidationError:
    return ValidationError({"slot": message})


@transaction.atomic
def book_slot(
    *,
    worker_id: int,
    slot_id: int,
    dose: int = 1,
    invitation_id: int | None = None,
    actor=None,
    request=None,
) -> Booking:
    """Book one place in the slot for the worker's dose. The slot's row is locked while its
    count is checked and raised, so two bookings for the last place cannot both succeed
    (and the database's check refuses an overbooking in any case). A booking made through an
    invitation marks it booked."""
    if dose not in (1, 2):
        raise ValidationError({"dose": "The dose must be 1 or 2."})
    slot = Slot.objects.select_for_update(of=("self",)).select_related("session").get(pk=slot_id)
    if slot.session.is_cancelled:
        raise _booking_error("This session has been cancelled. Choose another time.")
    if slot.booked >= slot.capacity:
        raise _booking_error("This time is fully booked. Choose another time.")
    if Booking.objects.live().filter(worker_id=worker_id, dose=dose).exists():
        raise _booking_error(f"You already have a booking for dose {dose}. Change that one.")
    Slot.objects.filter(pk=slot.pk).update(booked=F("booked") + 1)
    booking = _create_booking(
        worker_id=worker_id, slot_id=slot.pk, dose=dose, invitation_id=invitation_id
    )
    if invitation_id is not None:
        Invitation.objects.filter(pk=invitation_id, status__in=Invitation.LIVE).update(
            status=Invitation.Status.BOOKED, closed_at=booking.created_at
        )
    audit.record(
        verb="booking_made",
        actor=actor,
        target=booking,
        details={"slot_id": slot.pk, "dose": dose, "invitation_id": invitation_id},
        request=request,
    )
    return booking


def _create_booking(*, worker_id: int, slot_id: int, dose: int, invitation_id) -> Booking:
    for attempt in range(REFERENCE_ATTEMPTS):
        try:
            with transaction.atomic():
                return Booking.objects.create(
                    worker_id=worker_id,
                    slot_id=slot_id,
                    dose=dose,
                    invitation_id=invitation_id,
                    reference=new_booking_reference(),
                )
        except IntegrityError as error:
            # The same worker's same dose booked at the same moment: one booking stands.
            if Booking.objects.live().filter(worker_id=worker_id, dose=dose).exists():
                raise _booking_error(
                    f"You already have a booking for dose {dose}. Change that one."
                ) from error
            if attempt == REFERENCE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _cancel_bookings(bookings, *, reason: str, now: datetime.datetime) -> list[int]:
    """Cancel these live bookings and give their places back to their slots (locked first,
    in one order, so concurrent cancellations and bookings do not deadlock). Set-based."""
    rows = list(bookings.select_for_update(of=("self",)).values_list("pk", "slot_id"))
    if not rows:
        return []
    ids = [pk for pk, _slot_id in rows]
    slot_ids = sorted({slot_id for _pk, slot_id in rows})
    list(Slot.objects.filter(pk__in=slot_ids).order_by("pk").select_for_update())
    Booking.objects.filter(pk__in=ids).update(
        status=Booking.Status.CANCELLED, cancelled_at=now, cancel_reason=reason
    )
    given_back = (
        Booking.objects.filter(pk__in=ids, slot_id=OuterRef("pk"))
        .order_by()
        .values("slot_id")
        .annotate(places=Count("pk"))
        .values("places")
    )
    Slot.objects.filter(pk__in=slot_ids).update(
        booked=F("booked") - Coalesce(Subquery(given_back), 0)
    )
    return ids


@transaction.atomic
def cancel_booking(*, booking_id: int, reason: str, actor=None, request=None) -> Booking:
    """Cancel one booking and give its place back; cancelling a booking that is no longer
    live changes nothing."""
    if reason not in Booking.CancelReason.values:
        raise ValueError(f"Unknown reason {reason!r}")
    booking = Booking.objects.get(pk=booking_id)
    if _cancel_bookings(
        Booking.objects.live().filter(pk=booking_id), reason=reason, now=timezone.now()
    ):
        booking.refresh_from_db()
        audit.record(
            verb="booking_cancelled",
            actor=actor,
            target=booking,
            details={"reason": reason, "slot_id": booking.slot_id},
            request=request,
        )
    return booking


# ---------------------------------------------------------------------------------------------
# Routing policies


def can_edit_routing_policy(user, local_authority_id: int) -> bool:
    return is_administrator(user) or (
        is_local_lead(user) and user.local_authority_id == local_authority_id
    )


@transaction.atomic
def save_routing_policy(
    *,
    actor,
    local_authority: LocalAuthority,
    site_kinds: Sequence[str],
    max_distance_km: Decimal,
    horizon_days: int,
    over_invite_factor: Decimal,
    request=None,
) -> RoutingPolicy:
    if not can_edit_routing_policy(actor, local_authority.pk):
        raise PermissionDenied("Only the authority's lead changes its routing policy.")
    kinds = list(dict.fromkeys(site_kinds))
    if not kinds or any(kind not in DEFAULT_SITE_KINDS for kind in kinds):
        raise ValidationError({"first_kind": "Choose at least one kind of site."})
    policy, _ = RoutingPolicy.objects.select_for_update().get_or_create(
        local_authority=local_authority
    )
    before = _policy_figures(policy)
    policy.site_kinds = kinds
    policy.max_distance_km = max_distance_km
    policy.horizon_days = horizon_days
    policy.over_invite_factor = over_invite_factor
    policy.updated_by = actor
    policy.updated_at = timezone.now()
    policy.full_clean()
    policy.save()
    audit.record(
        verb="routing_policy_changed",
        actor=actor,
        target=policy,
        details={"from": before, "to": _policy_figures(policy)},
        request=request,
    )
    return policy


def _policy_figures(policy: RoutingPolicy) -> dict:
    return {
        "site_kinds": list(policy.site_kinds),
        "max_distance_km": str(policy.max_distance_km),
        "horizon_days": policy.horizon_days,
        "over_invite_factor": str(policy.over_invite_factor),
    }
