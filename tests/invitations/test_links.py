"""Each message carries its own link, made when it is sent (only a keyed hash is stored);
the page it opens shows the routed site and alternatives, or says plainly why it no longer
works: replaced by a resend, expired, withdrawn, or unknown."""

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from bookings import invitations
from bookings.models import Campaign, Invitation, InvitationLink, Message
from bookings.outbox import MessageCancelled
from portal.models import AuditEvent
from tests.factories import VaccinationSiteFactory
from tests.invitations.conftest import add_capacity

pytestmark = pytest.mark.django_db


@pytest.fixture
def released(lead, local_authority, site, approve, make_employment):
    """One worker's invitation, released with its message pending."""
    centre = VaccinationSiteFactory(
        name="Guy's vaccination centre",
        kind="vaccination_centre",
        postcode="SE1 9RT",
        local_authorities=[local_authority],
    )
    add_capacity(site, places=5)
    add_capacity(centre, places=5)
    employment = make_employment(mobile="07700900123")
    approve([employment])
    campaign = Campaign.objects.create(local_authority=local_authority, started_by=lead)
    invitations.release_campaign(campaign_id=campaign.pk)
    return Invitation.objects.get(worker=employment.worker)


def send(invitation) -> tuple[Message, str]:
    """What the outbox does as it sends: build the send-time context of the pending message."""
    message = Message.objects.filter(invitation=invitation, status="pending").latest("pk")
    context = invitations.link_context(message)
    token = re.search(r"/i/([^/]+)/$", context["link"]).group(1)
    return message, token


def open_link(client, token: str):
    return client.get(reverse("invitation_link", args=[token]))


def test_sending_makes_a_link_of_which_only_a_hash_is_kept(released, client, postgres):
    message, token = send(released)

    link = InvitationLink.objects.get(message=message)
    assert link.token_hash != token and len(link.token_hash) == 64
    assert link.token_hash == invitations.hash_token(token)
    assert token not in str(Message.objects.values_list("context", flat=True))
    released.refresh_from_db()
    assert released.status == Invitation.Status.SENT and released.sent_at is not None

    # A retried send replaces the link of the failed attempt.
    invitations.link_context(message)
    assert InvitationLink.objects.filter(message=message).count() == 1
    assert open_link(client, token).status_code == 404


def test_the_link_shows_the_site_the_alternative_and_the_expiry(released, client, postgres):
    _, token = send(released)

    response = open_link(client, token)

    assert response.status_code == 200
    page = response.text
    # Nothing about the person to whoever holds the link: no name, employer or distance.
    assert released.worker.first_name not in page
    assert released.employment.employer.name not in page and " km" not in page
    assert "St Thomas&#x27; Hospital hub" in page and "Westminster Bridge Road" in page
    assert "Guy&#x27;s vaccination centre" in page
    assert timezone.localtime(released.expires_at).strftime("%-d %B %Y") in page
    assert "You cannot choose a time on this page yet" in page
    assert InvitationLink.objects.get().opened_at is not None
    assert AuditEvent.objects.filter(verb="invitation_link_opened").count() == 1
    open_link(client, token)
    assert AuditEvent.objects.filter(verb="invitation_link_opened").count() == 1


def test_no_browser_or_proxy_keeps_the_link_page(released, client, postgres):
    _, token = send(released)
    response = open_link(client, token)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_a_resend_replaces_the_old_link(released, lead, client, postgres):
    _, old_token = send(released)

    new = invitations.resend_invitation(lead=lead, invitation_id=released.pk)

    released.refresh_from_db()
    assert released.status == Invitation.Status.SUPERSEDED
    assert released.superseded_by == new
    assert new.status == Invitation.Status.SENDING and new.site_id == released.site_id
    assert new.expires_at > released.expires_at
    message = Message.objects.get(invitation=new)
    assert message.template == "invitation_resend"
    response = open_link(client, old_token)
    assert response.status_code == 410
    assert "This link has been replaced" in response.text
    _, new_token = send(new)
    assert open_link(client, new_token).status_code == 200


def test_a_pending_message_of_a_replaced_invitation_is_not_sent(released, lead, postgres):
    pending = Message.objects.get(invitation=released)
    invitations.resend_invitation(lead=lead, invitation_id=released.pk)
    pending.refresh_from_db()
    assert pending.status == Message.Status.CANCELLED
    with pytest.raises(MessageCancelled):
        invitations.link_context(pending)


def test_resend_is_refused_before_sending_and_for_a_replaced_one(
    released, lead, approve, make_employment, postgres
):
    queued_employment = make_employment()
    approve([queued_employment])
    queued = Invitation.objects.get(worker=queued_employment.worker)
    with pytest.raises(ValidationError, match="has not been sent yet"):
        invitations.resend_invitation(lead=lead, invitation_id=queued.pk)
    invitations.resend_invitation(lead=lead, invitation_id=released.pk)
    with pytest.raises(ValidationError, match="already been replaced"):
        invitations.resend_invitation(lead=lead, invitation_id=released.pk)


def test_resend_is_scoped_to_the_leads_area(released, other_lead, postgres):
    with pytest.raises(Invitation.DoesNotExist):
        invitations.resend_invitation(lead=other_lead, invitation_id=released.pk)


def test_expired_withdrawn_and_unknown_links(released, lead, client, postgres):
    _, token = send(released)
    Invitation.objects.filter(pk=released.pk).update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    response = open_link(client, token)
    assert response.status_code == 410 and "This link has expired" in response.text

    Invitation.objects.filter(pk=released.pk).update(status=Invitation.Status.CANCELLED)
    response = open_link(client, token)
    assert response.status_code == 410 and "This invitation has been withdrawn" in response.text

    response = open_link(client, "not-a-real-token")
    assert response.status_code == 404 and "This link does not work" in response.text
