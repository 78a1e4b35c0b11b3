"""A release routes again the queued invitations whose site has no free places left in the
horizon (it filled with bookings), to the nearest site with room under the area's policy,
saying why; invitations whose site still has room, or for which no other site has room,
keep their site."""

from decimal import Decimal

import pytest

from bookings import invitations, services
from bookings.models import Campaign, Invitation, Message, Route
from portal.models import AuditEvent
from tests.invitations.conftest import add_capacity

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(lead, local_authority):
    return Campaign.objects.create(
        local_authority=local_authority, over_invite_factor=Decimal("1.5"), started_by=lead
    )


def fill(invitations_out, slot) -> None:
    """Released workers book every place of the slot."""
    for invitation in invitations_out:
        services.book_slot(
            worker_id=invitation.worker_id, slot_id=slot.pk, invitation_id=invitation.pk
        )


def queued() -> list[Invitation]:
    return list(Invitation.objects.filter(status=Invitation.Status.QUEUED).order_by("pk"))


def test_invitations_queued_for_a_site_that_filled_go_to_a_site_with_room(
    campaign, site, centre, approve, make_employment, postgres
):
    hub_slot = add_capacity(site, places=2).slots.get()
    approve([make_employment() for _ in range(6)])
    first = invitations.release_campaign(campaign_id=campaign.pk)
    assert (first.released, first.rerouted) == (3, 0)  # 2 places × 1.5
    waiting = queued()
    assert len(waiting) == 3 and {i.site_id for i in waiting} == {site.pk}

    # The hub still has free places: its queue waits for it, though the centre has room.
    add_capacity(centre, places=10)
    assert invitations.release_campaign(campaign_id=campaign.pk).rerouted == 0
    assert {i.site_id for i in queued()} == {site.pk}

    # The hub fills with bookings: its queue moves to the centre and goes out.
    out = Invitation.objects.filter(status=Invitation.Status.SENDING).order_by("pk")[:2]
    fill(out, hub_slot)
    release = invitations.release_campaign(campaign_id=campaign.pk)

    assert (release.rerouted, release.released) == (3, 3)
    moved = Invitation.objects.filter(pk__in=[i.pk for i in waiting])
    assert {i.site_id for i in moved} == {centre.pk}
    assert {i.status for i in moved} == {Invitation.Status.SENDING}
    reason = moved.first().route_reason
    assert reason.startswith(invitations.REROUTED)
    assert "nearest vaccination centre with space" in reason
    assert all(i.queued_at == w.queued_at for i, w in zip(moved, waiting, strict=True))
    assert {r.site_id for r in Route.objects.filter(worker__invitations__in=moved)} == {centre.pk}
    messages = Message.objects.filter(invitation__in=moved, template="invitation")
    assert {m.context["site_name"] for m in messages} == {centre.name}
    event = AuditEvent.objects.filter(verb="invitations_released").latest("pk")
    assert event.details["rerouted"] == 3


def test_with_no_other_site_with_room_the_invitation_keeps_its_site(
    campaign, site, approve, make_employment, postgres
):
    hub_slot = add_capacity(site, places=1).slots.get()
    approve([make_employment() for _ in range(3)])
    invitations.release_campaign(campaign_id=campaign.pk)
    fill(Invitation.objects.filter(status=Invitation.Status.SENDING), hub_slot)

    release = invitations.release_campaign(campaign_id=campaign.pk)

    assert (release.rerouted, release.released) == (0, 0)
    assert [(i.site_id, i.route_reason.startswith(invitations.REROUTED)) for i in queued()] == [
        (site.pk, False),
        (site.pk, False),
    ]
