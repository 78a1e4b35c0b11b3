"""Reads for vaccination sites and campaigns: the calendar of capacity, bookings and free
places per day, the people booked into a session, and a campaign's invitations per site."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from bookings.models import (
    Booking,
    Campaign,
    Invitation,
    RoutingPolicy,
    Session,
    Slot,
    VaccinationSite,
)
from bookings.routing import free_places_by_site


@dataclass(frozen=True)
class CalendarDay:
    date: datetime.date
    sessions: int
    capacity: int
    booked: int

    @property
    def free(self) -> int:
        return self.capacity - self.booked


def site_calendar(
    *, user, site: VaccinationSite, first_day: datetime.date, days: int = 28
) -> list[CalendarDay]:
    """One row per day from ``first_day`` for ``days`` days, summed in one SQL query over the
    site's slots (that ``user`` may see) in sessions that are not cancelled; days without
    sessions show zeros."""
    last_day = first_day + datetime.timedelta(days=days - 1)
    totals = {
        row["session__date"]: row
        for row in Slot.objects.visible_to(user)
        .filter(
            session__site=site,
            session__is_cancelled=False,
            session__date__range=(first_day, last_day),
        )
        .values("session__date")
        .annotate(
            capacity=Sum("capacity"),
            booked=Sum("booked"),
            sessions=Count("session", distinct=True),
        )
        .order_by()
    }
    calendar = []
    for offset in range(days):
        day = first_day + datetime.timedelta(days=offset)
        row = totals.get(day)
        calendar.append(
            CalendarDay(
                date=day,
                sessions=row["sessions"] if row else 0,
                capacity=row["capacity"] if row else 0,
                booked=row["booked"] if row else 0,
            )
        )
    return calendar


@dataclass(frozen=True)
class SiteProgress:
    site_id: int
    site_name: str
    free_places: int
    queued: int
    sent: int
    booked: int


@dataclass(frozen=True)
class CampaignProgress:
    sites: list[SiteProgress]
    horizon_days: int
    queued: int
    sent: int
    booked: int
    failed: int
    closed: int
    unrouted: int  # queued, and routing found no site in reach
    unrouted_yet: int  # queued, not routed yet


SENT = (Invitation.Status.SENDING, Invitation.Status.SENT, Invitation.Status.DELIVERED)
CLOSED = (
    Invitation.Status.EXPIRED,
    Invitation.Status.DECLINED,
    Invitation.Status.CANCELLED,
)


def campaign_progress(*, user, campaign: Campaign) -> CampaignProgress:
    """Queued, sent and booked invitations of the campaign's workers per site, counted in
    SQL (one query, plus one for the sites' free places); replaced invitations count once,
    as their replacement."""
    rows = list(
        Invitation.objects.countable_by(user)
        .filter(campaign.scope())
        .exclude(status=Invitation.Status.SUPERSEDED)
        .values("site_id", "site__name")
        .annotate(
            queued=Count("pk", filter=Q(status=Invitation.Status.QUEUED)),
            unrouted=Count(
                "pk",
                filter=Q(status=Invitation.Status.QUEUED, worker__route__is_unrouted=True),
            ),
            sent=Count("pk", filter=Q(status__in=SENT)),
            booked=Count("pk", filter=Q(status=Invitation.Status.BOOKED)),
            failed=Count("pk", filter=Q(status=Invitation.Status.FAILED)),
            closed=Count("pk", filter=Q(status__in=CLOSED)),
        )
        .order_by("site__name", "site_id")
    )
    horizon = RoutingPolicy.for_authorities([campaign.local_authority_id])[
        campaign.local_authority_id
    ].horizon_days
    free = free_places_by_site(horizons={horizon}).get(horizon, {})
    waiting = next((row for row in rows if row["site_id"] is None), None)
    return CampaignProgress(
        sites=[
            SiteProgress(
                site_id=row["site_id"],
                site_name=row["site__name"],
                free_places=free.get(row["site_id"], 0),
                queued=row["queued"],
                sent=row["sent"],
                booked=row["booked"],
            )
            for row in rows
            if row["site_id"] is not None
        ],
        horizon_days=horizon,
        queued=sum(row["queued"] for row in rows),
        sent=sum(row["sent"] for row in rows),
        booked=sum(row["booked"] for row in rows),
        failed=sum(row["failed"] for row in rows),
        closed=sum(row["closed"] for row in rows),
        unrouted=waiting["unrouted"] if waiting else 0,
        unrouted_yet=(waiting["queued"] - waiting["unrouted"]) if waiting else 0,
    )


def people_booked_into(*, user, session: Session) -> int:
    """How many people hold a live booking in the session (each told once if it is cancelled)."""
    return (
        Booking.objects.visible_to(user)
        .live()
        .filter(slot__session=session)
        .values("worker_id")
        .distinct()
        .count()
    )
