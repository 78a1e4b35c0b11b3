"""A cancelled session with booked places: with no booking records yet, nobody can be told,
and that is recorded rather than passed over."""

import pytest

from bookings import services
from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import SessionFactory, SlotFactory, make_user

pytestmark = pytest.mark.django_db


def test_booked_places_in_a_cancelled_session_are_recorded(site, caplog):
    staff = make_user(Role.SITE_STAFF, site=site)
    session = SessionFactory(site=site)
    SlotFactory(session=session, booked=2)
    services.cancel_session(actor=staff, session=session, reason="No vaccine")
    event = AuditEvent.objects.get(verb="session_cancelled_nobody_told")
    assert event.details["booked_places"] == 2
    assert "no booking records" in caplog.text


def test_a_cancelled_session_without_bookings_records_nothing_more(site):
    staff = make_user(Role.SITE_STAFF, site=site)
    session = SessionFactory(site=site)
    SlotFactory(session=session)
    services.cancel_session(actor=staff, session=session, reason="No vaccine")
    assert not AuditEvent.objects.filter(verb="session_cancelled_nobody_told").exists()
