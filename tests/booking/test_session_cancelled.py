"""Cancelling a session cancels its bookings in the same transaction, gives the places back
and tells each booked worker once, through the outbox, with a fresh link to their invitation
page so they can book again. Cancelling twice tells nobody again; a rolled-back cancellation
tells nobody."""

import re

import pytest
from django.db import transaction
from django.urls import reverse

from bookings import invitations, services
from bookings.models import Booking, Invitation, InvitationLink, Message, Slot
from portal.models import AuditEvent
from portal.roles import Role
from tests.booking.conftest import add_session, book
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def told() -> list[Message]:
    return list(Message.objects.filter(template="session_cancelled").order_by("recipient"))


@pytest.fixture
def staff(site):
    return make_user(Role.SITE_STAFF, site=site)


@pytest.fixture
def booked(invite, site, make_employment):
    """A session with three bookings of two workers (one reached by email, one by text
    message only, booked for both doses), and a booking in another session."""
    by_email = make_employment(email="amara@example.org", mobile="07700900001")
    by_text = make_employment(email="", mobile="07700900002")
    elsewhere = make_employment(email="kept@example.org")
    first, second, third = invite(by_email, by_text, elsewhere)
    session = add_session(site, slots=2, places=2)
    early, late = session.slots.all()
    book(first, early)
    book(second, early)
    book(second, late, dose=2)
    book(third, add_session(site, days_ahead=4).slots.first())
    return session


def test_each_booked_worker_is_told_once_with_a_link_to_book_again(booked, staff, client, centre):
    services.cancel_session(actor=staff, session=booked, reason="No vaccine delivered")

    cancelled = Booking.objects.filter(slot__session=booked)
    assert {(b.status, b.cancel_reason) for b in cancelled} == {("cancelled", "session_cancelled")}
    assert list(Slot.objects.filter(session=booked).values_list("booked", flat=True)) == [0, 0]
    assert Booking.objects.live().count() == 1  # the other session's booking stands
    messages = told()
    assert [(m.channel, m.recipient, m.fallback_mobile) for m in messages] == [
        ("sms", "07700900002", ""),
        ("email", "amara@example.org", "07700900001"),
    ]
    for message in messages:
        assert message.context["site_name"] == "St Thomas' Hospital hub"
        assert "at 09:00" in message.context["appointment"]
        invitation = Invitation.objects.get(pk=message.invitation_id)
        assert invitation.status == Invitation.Status.SENDING and invitation.worker == (
            message.worker
        )
    event = AuditEvent.objects.get(verb="session_cancelled")
    assert event.details["bookings_cancelled"] == 3
    assert event.details["workers_told"] == 2

    # As the outbox sends it: a fresh link, whose page offers the routed site and others.
    context = invitations.link_context(messages[1])
    token = re.search(r"/i/([^/]+)/$", context["link"]).group(1)
    page = client.get(reverse("invitation_link", args=[token]))
    assert page.status_code == 200
    assert "The place we picked for you" in page.text and "St Thomas" in page.text
    assert "Guy&#x27;s vaccination centre" in page.text
    assert InvitationLink.objects.filter(message=messages[1]).exists()


def test_cancelling_twice_tells_nobody_again(booked, staff):
    services.cancel_session(actor=staff, session=booked, reason="No vaccine")
    services.cancel_session(actor=staff, session=booked, reason="No vaccine")
    assert len(told()) == 2
    assert AuditEvent.objects.filter(verb="session_cancelled").count() == 1


def test_a_rolled_back_cancellation_tells_nobody(booked, staff, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.cancel_session(actor=staff, session=booked, reason="No vaccine")
        raise RuntimeError("something after it failed")

    assert callbacks == [] and told() == []
    assert Booking.objects.live().count() == 3 + 1
    assert sorted(Slot.objects.filter(session=booked).values_list("booked", flat=True)) == [1, 2]
    booked.refresh_from_db()
    assert not booked.is_cancelled


def test_a_booking_without_an_invitation_reopens_the_workers_latest(
    invite, site, staff, make_employment
):
    [invitation] = invite(make_employment(email="", mobile="07700900003"))
    session = add_session(site)
    services.book_slot(worker_id=invitation.worker_id, slot_id=session.slots.first().pk)
    Invitation.objects.filter(pk=invitation.pk).update(status=Invitation.Status.EXPIRED)

    services.cancel_session(actor=staff, session=session, reason="Staff ill")

    [message] = told()
    assert message.invitation_id == invitation.pk and message.channel == "sms"
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENDING and invitation.closed_at is None


def test_the_cancel_page_says_how_many_people_will_be_told(booked, staff, client):
    client.force_login(staff)
    url = reverse("bookings:session_cancel", args=[booked.pk])

    page = client.get(url)
    assert "2 people are booked" in page.text
    assert "we will email or text each of the 2 people booked" in page.text

    response = client.post(url, {"reason": "Vaccine delivery delayed"}, follow=True)
    assert "We will tell the 2 people booked into it and ask them to book again." in (response.text)
    assert len(told()) == 2


def test_a_worker_with_two_approved_employers_is_told_at_both_contacts(
    invite, site, staff, make_employment, approve
):
    """A change to a booking reaches every contact an approved employer supplied, each in
    its own employer's words, not only the one the invitation went out through
    (docs/decisions/0011)."""
    from tests.factories import EmployerFactory

    first = make_employment(email="amara@first.example", mobile="")
    [invitation] = invite(first)
    second = make_employment(
        worker=first.worker,
        employer=EmployerFactory(local_authority=first.employer.local_authority),
        first_name="Ama",
        email="ama@second.example",
        mobile="",
    )
    approve([second])
    session = add_session(site, slots=1, places=1)
    book(invitation, session.slots.get())

    services.cancel_session(actor=staff, session=session, reason="No vaccine delivered")

    assert {(m.recipient, m.context["first_name"]) for m in told()} == {
        ("amara@first.example", first.first_name),
        ("ama@second.example", "Ama"),
    }
