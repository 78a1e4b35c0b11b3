"""In a real Celery worker on Redis: starting a campaign releases what the site has room for,
the outbox sends one email per released invitation, each with a link that opens the worker's
page; running the scheduled release again sends nothing more."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from bookings import invitations
from bookings.models import Invitation, InvitationLink, Message
from portal.celery import app as celery_app
from tests.conftest import database_url, poll
from tests.invitations.conftest import add_capacity

shared_database = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def emails(folder: Path) -> list[str]:
    """Every email the file backend wrote (one file per connection, messages between rules)."""
    found = []
    for path in sorted(folder.glob("*.log")) if folder.exists() else ():
        found += [part for part in path.read_text().split("-" * 79 + "\n") if part.strip()]
    return found


@pytest.mark.celery_worker
@shared_database
def test_a_campaign_in_a_real_worker_sends_each_worker_one_email(
    lead, site, approve, make_employment, redis_url, start_worker, tmp_path, client, postgres
):
    celery_app.set_current()  # shared tasks are sent through the current app: portal's
    worker = start_worker(DATABASE_URL=database_url(), REDIS_URL=redis_url, EMAIL_URL=None)
    mail = tmp_path / "var" / "mail"
    add_capacity(site, places=4)  # room for 6
    employments = [make_employment() for _ in range(8)]
    approve(employments)

    invitations.start_campaign(lead=lead, over_invite_factor=invitations.Decimal("1.5"))

    sent = poll(
        lambda: Message.objects.filter(status="sent").count(),
        lambda n: n >= 6,
        deadline_seconds=120,
    )
    assert sent == 6, worker.output()
    assert Invitation.objects.filter(status="sent").count() == 6
    assert Invitation.objects.filter(status="queued").count() == 2
    received = poll(lambda: emails(mail), lambda found: len(found) >= 6)
    text = "\n".join(received)
    recipients = re.findall(r"^To: (.+)$", text, flags=re.MULTILINE)
    assert len(recipients) == len(set(recipients)) == 6
    assert InvitationLink.objects.count() == 6

    # The link in an email opens that worker's page.
    link = re.search(r"https?://\S+/i/(\S+)/", received[0]).group(1)
    page = client.get(reverse("invitation_link", args=[link]))
    assert page.status_code == 200 and "The place we picked for you" in page.text

    # The scheduled release finds no more room and sends nothing more.
    celery_app.send_task("bookings.tasks.release_active_campaigns_task")
    poll(lambda: None, lambda _: False, deadline_seconds=5)
    assert Message.objects.count() == 6
    assert len(emails(mail)) == 6
