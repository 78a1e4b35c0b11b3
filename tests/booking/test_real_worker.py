"""In a real Celery worker on Redis sending to a real SMTP server (aiosmtpd): cancelling a
session through the site staff's page emails each booked worker exactly once, with a link
that opens their page to book again; cancelling again and a rolled-back cancellation send
nothing."""

import email
import re

import pytest
from django.db import transaction
from django.urls import reverse

from bookings import services
from bookings.models import Booking, Slot
from portal.celery import app as celery_app
from portal.roles import Role
from tests.booking.conftest import add_session, book
from tests.conftest import database_url, poll
from tests.factories import make_user
from tests.messaging.test_worker_kill import purge_outbox_queues

shared_database = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def plain_text(raw: email.message.Message) -> str:
    for part in raw.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    return ""


def settle() -> None:
    """Give a worker time to send anything it was (wrongly) given."""
    poll(lambda: None, lambda _: False, deadline_seconds=5)


@pytest.mark.celery_worker
@shared_database
def test_cancelling_a_session_emails_each_booked_worker_once(
    postgres,
    redis_url,
    start_worker,
    smtp_sink,
    invite,
    site,
    make_employment,
    client,  # noqa: F811
):
    celery_app.set_current()
    purge_outbox_queues()
    invited = invite(*[make_employment(email=f"booked{n}@example.org") for n in range(4)])
    cancelled, kept = add_session(site, slots=2, places=2), add_session(site, days_ahead=4)
    early, late = cancelled.slots.all()
    for invitation, slot in zip(invited[:3], [early, early, late], strict=True):
        book(invitation, slot)
    book(invited[3], kept.slots.first())
    worker = start_worker(
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url,
        EMAIL_URL=smtp_sink.url,
        MESSAGE_RATE_LIMITS="email=0,sms=0",
        LOG_LEVEL="WARNING",
    )
    staff = make_user(Role.SITE_STAFF, site=site)
    client.force_login(staff)
    url = reverse("bookings:session_cancel", args=[cancelled.pk])

    client.post(url, {"reason": "No vaccine delivered"})

    received = poll(smtp_sink.recipients, lambda found: sum(found.values()) >= 3)
    assert received == {f"booked{n}@example.org": 1 for n in range(3)}, worker.output()
    assert list(Slot.objects.filter(session=cancelled).values_list("booked", flat=True)) == [0, 0]
    texts = [plain_text(raw) for raw in smtp_sink.messages()]
    assert all("We had to cancel your COVID-19 vaccine appointment" in text for text in texts)
    for text in texts:
        token = re.search(r"https?://\S+/i/(\S+)/", text).group(1)
        page = client.get(reverse("invitation_link", args=[token]))
        assert page.status_code == 200 and "The place we picked for you" in page.text

    # Cancelling again, and a cancellation that rolls back, send nothing more.
    client.post(url, {"reason": "No vaccine delivered"})
    with pytest.raises(RuntimeError), transaction.atomic():
        services.cancel_session(actor=staff, session=kept, reason="Staff ill")
        raise RuntimeError("the request failed after cancelling")
    settle()
    assert sum(smtp_sink.recipients().values()) == 3
    assert Booking.objects.live().get().slot.session == kept
