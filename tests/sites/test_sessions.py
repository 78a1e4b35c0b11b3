"""Sessions and slots: site staff add one-off or weekly sessions, change capacity (never below
what is booked) and cancel (bookings: tests/booking/test_session_cancelled.py); the calendar
sums per day."""

import datetime
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings.models import Session, Slot
from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import SessionFactory, SlotFactory, VaccinationSiteFactory, make_user

pytestmark = pytest.mark.django_db
LONDON_TIME = zoneinfo.ZoneInfo("Europe/London")


@pytest.fixture
def site():
    return VaccinationSiteFactory(name="Guy's hub")


@pytest.fixture
def staff_client(client, site):
    client.force_login(make_user(Role.SITE_STAFF, site=site))
    return client


def next_monday() -> datetime.date:
    today = timezone.localdate()
    return today + datetime.timedelta(days=7 - today.weekday())


def session_form(**overrides):
    data = {
        "repeat": "once",
        "date": next_monday().isoformat(),
        "weeks": "1",
        "start_time": "09:00",
        "end_time": "12:00",
        "slot_minutes": "15",
        "vaccinators": "3",
    }
    data.update(overrides)
    return data


def test_weekly_pattern_creates_the_right_slots_in_a_few_queries(staff_client, site):
    form = session_form(
        repeat="weekly",
        weekdays=["0", "1", "2", "3", "4"],
        weeks="4",
        start_time="08:00",
        end_time="20:00",
        slot_minutes="15",
        vaccinators="4",
    )
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.post(reverse("bookings:session_create", args=[site.pk]), form)

    # One insert for the 20 sessions and one for their 960 slots (SQLite's limit on query
    # parameters splits the slots into 4), whatever the number of slots.
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert sum('"bookings_session"' in sql for sql in inserts) == 1
    assert sum('"bookings_slot"' in sql for sql in inserts) <= 4
    assert len(queries.captured_queries) <= 20
    assert response.status_code == 302
    sessions = list(Session.objects.filter(site=site).order_by("date"))
    monday = next_monday()
    assert [s.date for s in sessions] == [
        monday + datetime.timedelta(weeks=week, days=day) for week in range(4) for day in range(5)
    ]
    assert all(s.capacity_per_slot == 4 and s.vaccinators == 4 for s in sessions)
    slots = Slot.objects.filter(session__site=site)
    assert slots.count() == 20 * 48
    first_day = [
        slot.starts_at.astimezone(LONDON_TIME).time()
        for slot in slots.filter(session=sessions[0]).order_by("starts_at")
    ]
    assert first_day[0] == datetime.time(8, 0)
    assert first_day[1] == datetime.time(8, 15)
    assert first_day[-1] == datetime.time(19, 45)
    assert set(slots.values_list("capacity", flat=True)) == {4}
    assert set(slots.values_list("booked", flat=True)) == {0}
    event = AuditEvent.objects.get(verb="sessions_created")
    assert len(event.details["session_ids"]) == 20


def test_partial_last_slot_is_left_out_and_the_user_is_told(staff_client, site):
    response = staff_client.post(
        reverse("bookings:session_create", args=[site.pk]),
        session_form(start_time="09:00", end_time="10:10", slot_minutes="20"),
        follow=True,
    )
    session = Session.objects.get(site=site)
    times = [s.starts_at.astimezone(LONDON_TIME).time() for s in session.slots.all()]
    assert times == [datetime.time(9, 0), datetime.time(9, 20), datetime.time(9, 40)]
    assert "The last 10 minutes of each session are too short for a slot" in response.text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"start_time": "12:00", "end_time": "09:00"},
            "The end time must be after the start time.",
        ),
        ({"date": "2020-12-01"}, "The date must be today or in the future."),
        (
            {"repeat": "weekly", "weekdays": ["0"], "weeks": "13"},
            "Ensure this value is less than or equal to 12.",
        ),
        ({"repeat": "weekly"}, "Choose at least one day of the week."),
        (
            {"start_time": "09:00", "end_time": "09:10", "slot_minutes": "15"},
            "The slot length must not be longer than the session.",
        ),
        ({"vaccinators": "0"}, "Enter a number of vaccinators from 1 to 100."),
    ],
)
def test_session_form_explains_what_is_wrong(staff_client, site, overrides, message):
    response = staff_client.post(
        reverse("bookings:session_create", args=[site.pk]), session_form(**overrides)
    )
    assert response.status_code == 200
    assert message in response.text
    assert not Session.objects.exists()


def test_overlapping_session_is_refused(staff_client, site):
    SessionFactory(site=site, date=next_monday(), start_time=datetime.time(11, 0))
    response = staff_client.post(reverse("bookings:session_create", args=[site.pk]), session_form())
    assert "This overlaps the session on" in response.text
    assert Session.objects.count() == 1


def test_staff_of_another_site_cannot_add_sessions(client, site):
    client.force_login(make_user(Role.SITE_STAFF, site=VaccinationSiteFactory()))
    response = client.post(reverse("bookings:session_create", args=[site.pk]), session_form())
    assert response.status_code == 404


def test_local_lead_who_sees_the_site_cannot_add_sessions(client, site):
    client.force_login(make_user(Role.LOCAL_LEAD))
    response = client.post(reverse("bookings:session_create", args=[site.pk]), session_form())
    assert response.status_code == 403


def test_capacity_change_below_booked_is_refused_with_a_clear_message(staff_client, site):
    session = SessionFactory(site=site, vaccinators=4, capacity_per_slot=4)
    SlotFactory(session=session, capacity=4, booked=3)
    url = reverse("bookings:session_capacity", args=[session.pk])

    response = staff_client.post(url, {"vaccinators": "2"})

    assert response.status_code == 200
    assert (
        "A slot in this session already has 3 bookings, so each slot needs room for at least 3."
        in response.text
    )
    assert Slot.objects.get().capacity == 4

    response = staff_client.post(url, {"vaccinators": "3"})
    assert response.status_code == 302
    assert Slot.objects.get().capacity == 3
    session.refresh_from_db()
    assert session.capacity_per_slot == 3
    event = AuditEvent.objects.get(verb="session_capacity_changed")
    assert event.details == {"from": 4, "to": 3}


def test_cancel_marks_the_session_and_counts_places_without_booking_records(staff_client, site):
    session = SessionFactory(site=site)
    booked = SlotFactory(session=session, booked=2)  # set by hand: nobody to tell
    SlotFactory(session=session, starts_at=booked.starts_at + datetime.timedelta(minutes=15))

    response = staff_client.post(
        reverse("bookings:session_cancel", args=[session.pk]),
        {"reason": "Vaccine delivery delayed"},
        follow=True,
    )

    session.refresh_from_db()
    assert session.is_cancelled and session.cancel_reason == "Vaccine delivery delayed"
    assert "You cancelled the session. Nobody was booked into it." in response.text
    event = AuditEvent.objects.get(verb="session_cancelled", object_id=str(session.pk))
    assert event.details == {
        "reason": "Vaccine delivery delayed",
        "bookings_cancelled": 0,
        "workers_told": 0,
        "places_without_booking_records": 2,
    }


def test_calendar_shows_capacity_booked_and_free_per_day(staff_client, site):
    day = next_monday()
    morning = SessionFactory(site=site, date=day)
    afternoon = SessionFactory(
        site=site, date=day, start_time=datetime.time(13, 0), end_time=datetime.time(14, 0)
    )
    cancelled = SessionFactory(site=site, date=day + datetime.timedelta(days=1), is_cancelled=True)
    SlotFactory(session=morning, capacity=4, booked=1)
    SlotFactory(session=afternoon, capacity=6, booked=5)
    SlotFactory(session=cancelled, capacity=10)

    response = staff_client.get(
        reverse("bookings:site_calendar", args=[site.pk]), {"from": day.isoformat()}
    )

    days = {d.date: d for d in response.context["days"]}
    assert (days[day].sessions, days[day].capacity, days[day].booked, days[day].free) == (
        2,
        10,
        6,
        4,
    )
    next_day = days[day + datetime.timedelta(days=1)]
    assert (next_day.capacity, next_day.free) == (0, 0)
    assert response.context["totals"] == {"capacity": 10, "booked": 6, "free": 4}
    assert f'data-date="{day.isoformat()}"' in response.text
