"""The slot's booked count never exceeds its capacity, even when two bookings race for the
last place (PostgreSQL, two threads with their own connections)."""

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import F

from bookings.models import Slot
from tests.factories import SlotFactory

# serialized_rollback keeps the local authorities loaded by a data migration across the flush.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def race(slot_id: int, increment) -> list[str]:
    """Run ``increment`` in two threads that start together; collect what each saw."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def book():
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                outcomes.append(increment(slot_id))
        except IntegrityError:
            outcomes.append("refused by the constraint")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=book) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


def test_unguarded_increments_cannot_overbook(postgres):
    slot = SlotFactory(capacity=1)

    def increment(slot_id):
        Slot.objects.filter(pk=slot_id).update(booked=F("booked") + 1)
        return "booked"

    assert race(slot.pk, increment) == ["booked", "refused by the constraint"]
    slot.refresh_from_db()
    assert slot.booked == 1


def test_conditional_update_books_the_last_place_once(postgres):
    slot = SlotFactory(capacity=1)

    def increment(slot_id):
        updated = Slot.objects.filter(pk=slot_id, booked__lt=F("capacity")).update(
            booked=F("booked") + 1
        )
        return "booked" if updated else "full"

    assert race(slot.pk, increment) == ["booked", "full"]
    slot.refresh_from_db()
    assert slot.booked == 1


def test_select_for_update_books_the_last_place_once(postgres):
    slot = SlotFactory(capacity=1)

    def increment(slot_id):
        locked = Slot.objects.select_for_update().get(pk=slot_id)
        if locked.booked >= locked.capacity:
            return "full"
        locked.booked += 1
        locked.save(update_fields=["booked"])
        return "booked"

    assert race(slot.pk, increment) == ["booked", "full"]
    slot.refresh_from_db()
    assert slot.booked == 1
    assert connection.vendor == "postgresql"
