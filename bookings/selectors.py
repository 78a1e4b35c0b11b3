"""Reads for vaccination sites: the calendar of capacity, bookings and free places per day."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Sum

from bookings.models import Slot, VaccinationSite


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
