"""Booking a slot: a short unambiguous reference, the slot's count kept with its live
bookings (never above capacity, even when many book the last places at once), the invitation
marked booked; cancelling gives the place back once; each role sees only its bookings."""

import re

import pytest
from django.core.exceptions import ValidationError

from bookings import services
from bookings.models import Booking, Invitation, Slot
from portal.models import AuditEvent
from portal.roles import Role
from tests.booking.conftest import add_session, book
from tests.concurrency import run_at_once
from tests.factories import VaccinationSiteFactory, local_authority, make_user

pytestmark = pytest.mark.django_db

REFERENCE = re.compile(r"^CVX-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$")


def test_booking_takes_a_place_and_closes_the_invitation(invite, site, make_employment):
    [invitation] = invite(make_employment())
    slot = add_session(site).slots.first()

    booking = book(invitation, slot)

    assert REFERENCE.match(booking.reference)
    assert booking.status == Booking.Status.BOOKED and booking.dose == 1
    slot.refresh_from_db()
    assert slot.booked == 1
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.BOOKED
    event = AuditEvent.objects.get(verb="booking_made")
    assert event.details["slot_id"] == slot.pk


def test_references_are_unique_and_unambiguous():
    references = {services.new_booking_reference() for _ in range(2000)}
    assert len(references) == 2000
    assert all(REFERENCE.match(reference) for reference in references)
    assert not set("01ILOU") & set("".join(references).removeprefix("CVX"))


def test_a_full_slot_a_cancelled_session_and_a_second_booking_are_refused(
    invite, site, make_employment
):
    first, second = invite(make_employment(), make_employment())
    session = add_session(site, slots=2, places=1)
    full, other = session.slots.all()
    book(first, full)

    with pytest.raises(ValidationError, match="fully booked"):
        book(second, full)
    with pytest.raises(ValidationError, match="already have a booking for dose 1"):
        services.book_slot(worker_id=first.worker_id, slot_id=other.pk)
    session.is_cancelled = True
    session.save()
    with pytest.raises(ValidationError, match="cancelled"):
        book(second, other)
    assert Booking.objects.count() == 1
    assert list(Slot.objects.filter(session=session).values_list("booked", flat=True)) == [1, 0]


def test_cancelling_a_booking_gives_its_place_back_once(invite, site, make_employment):
    [invitation] = invite(make_employment())
    slot = add_session(site).slots.first()
    booking = book(invitation, slot)

    for _ in range(2):
        services.cancel_booking(booking_id=booking.pk, reason=Booking.CancelReason.WORKER)

    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED and booking.cancelled_at is not None
    assert slot.booked == 0
    assert AuditEvent.objects.filter(verb="booking_cancelled").count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_many_people_booking_the_last_places_at_once_never_overbook(
    postgres, invite, site, make_employment
):
    invited = invite(*[make_employment() for _ in range(8)])
    slot = add_session(site, slots=1, places=3).slots.get()

    outcomes = run_at_once(
        lambda invitation: book(invitation, slot), invited, expected=ValidationError
    )

    made = [outcome for outcome in outcomes if isinstance(outcome, Booking)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, ValidationError)]
    assert (len(made), len(refused)) == (3, 5)
    assert all("fully booked" in str(error) for error in refused)
    slot.refresh_from_db()
    assert slot.booked == 3 == Booking.objects.live().filter(slot=slot).count()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_booking_and_cancelling_at_once_keep_the_count_with_the_bookings(
    postgres, invite, site, make_employment
):
    invited = invite(*[make_employment() for _ in range(6)])
    slot = add_session(site, slots=1, places=3).slots.get()
    earlier = [book(invitation, slot) for invitation in invited[:3]]

    def act(argument):
        kind, item = argument
        if kind == "cancel":
            return services.cancel_booking(booking_id=item.pk, reason=Booking.CancelReason.SITE)
        return book(item, slot)

    run_at_once(
        act,
        [*(("cancel", booking) for booking in earlier), *(("book", i) for i in invited[3:])],
        expected=ValidationError,
    )

    slot.refresh_from_db()
    assert slot.booked == Booking.objects.live().filter(slot=slot).count() <= 3


def test_each_role_sees_only_its_bookings(invite, site, make_employment, other_local_authority):
    [invitation] = invite(make_employment())
    booking = book(invitation, add_session(site).slots.first())
    elsewhere = VaccinationSiteFactory(postcode="M1 1AE", local_authorities=[other_local_authority])

    def sees(user) -> bool:
        return Booking.objects.visible_to(user).filter(pk=booking.pk).exists()

    assert sees(make_user(Role.SITE_STAFF, site=site))
    assert sees(make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority()))
    assert sees(make_user(Role.ADMINISTRATOR))
    assert not sees(make_user(Role.SITE_STAFF, site=elsewhere))
    assert not sees(make_user(Role.LOCAL_LEAD, local_authority_obj=other_local_authority))
    assert not sees(make_user(Role.NHS_TEAM))
    assert not sees(make_user(Role.EMPLOYER, employer=invitation.employment.employer))
