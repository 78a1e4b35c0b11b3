"""Campaigns release queued invitations in proportion to each site's free capacity in the
routing horizon times the over-invite factor, route first, queue one message each in the
same transaction, and are safe to run twice or at the same time."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from bookings import invitations
from bookings.models import Campaign, Invitation, Message, Route
from tests.concurrency import run_at_once
from tests.factories import EmployerFactory, VaccinationSiteFactory, WorkerFactory
from tests.invitations.conftest import add_capacity

pytestmark = pytest.mark.django_db

FACTOR = Decimal("1.5")


@pytest.fixture
def campaign(lead, local_authority):
    return Campaign.objects.create(
        local_authority=local_authority, over_invite_factor=FACTOR, started_by=lead
    )


@pytest.fixture
def queue(approve, make_employment):
    """Approve ``count`` workers living in ``postcode``; returns their employments."""

    def run(count: int, postcode: str = "SW1A 2AA", **fields):
        employments = [
            make_employment(worker=WorkerFactory(home_postcode=postcode), **fields)
            for _ in range(count)
        ]
        approve(employments)
        return employments

    return run


def statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Invitation.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_release_is_capacity_times_factor_less_what_is_out(campaign, site, queue, postgres):
    add_capacity(site, places=4)
    queue(10)

    release = invitations.release_campaign(campaign_id=campaign.pk)

    assert (release.routed, release.unrouted, release.released) == (10, 0, 6)  # 4 × 1.5
    assert statuses() == {"sending": 6, "queued": 4}
    released = Invitation.objects.filter(status=Invitation.Status.SENDING)
    assert {i.site_id for i in released} == {site.pk}
    assert all(i.campaign_id == campaign.pk and i.channel == "email" for i in released)
    first = released.first()
    assert first.expires_at - first.released_at == datetime.timedelta(days=28)
    assert "hospital hub" in first.route_reason

    # One message per released invitation, written with it.
    messages = Message.objects.order_by("pk")
    assert messages.count() == 6
    assert {m.invitation_id for m in messages} == {i.pk for i in released}
    message = messages.first()
    assert message.template == "invitation" and message.status == Message.Status.PENDING
    assert message.recipient == message.invitation.employment.email
    assert message.context["site_name"] == site.name
    assert message.context["employer_name"] == message.invitation.employment.employer.name
    assert "link" not in message.context  # made when it is sent, never stored

    # Nothing more until places free up or are added; then only the difference.
    assert invitations.release_campaign(campaign_id=campaign.pk).released == 0
    add_capacity(site, places=2, days_ahead=3)
    assert invitations.release_campaign(campaign_id=campaign.pk).released == 3  # 9 − 6
    assert Message.objects.count() == 9


def test_booked_past_cancelled_and_far_off_places_do_not_count(campaign, site, queue, postgres):
    add_capacity(site, places=4, booked=2)  # 2 free
    cancelled = add_capacity(site, places=10, days_ahead=4)
    cancelled.is_cancelled = True
    cancelled.save()
    add_capacity(site, places=10, days_ahead=-1)  # yesterday
    add_capacity(site, places=10, days_ahead=20)  # beyond the 14-day horizon
    queue(10)
    assert invitations.release_campaign(campaign_id=campaign.pk).released == 3  # 2 × 1.5


def test_each_site_gets_its_own_share(campaign, site, local_authority, queue, postgres):
    north = VaccinationSiteFactory(
        name="Paddington centre",
        kind="hospital_hub",
        postcode="W2 1NY",
        local_authorities=[local_authority],
    )
    add_capacity(site, places=2)
    add_capacity(north, places=4)
    queue(10, postcode="SW1A 2AA")
    queue(10, postcode="W2 3AA")

    release = invitations.release_campaign(campaign_id=campaign.pk)

    assert release.released == 3 + 6
    assert dict(release.by_site) == {site.pk: 3, north.pk: 6}


def test_workers_with_no_site_in_reach_stay_queued_and_flagged(campaign, site, queue, postgres):
    add_capacity(site, places=10)
    queue(2)
    far = queue(1, postcode="M1 1AA")[0]  # Manchester, far beyond 30 km

    release = invitations.release_campaign(campaign_id=campaign.pk)

    assert (release.released, release.unrouted) == (2, 1)
    waiting = Invitation.objects.get(worker=far.worker)
    assert waiting.status == Invitation.Status.QUEUED and waiting.site is None
    assert Route.objects.get(worker=far.worker).is_unrouted


def test_an_employer_campaign_releases_only_that_employers_workers(
    lead, local_authority, site, queue, postgres
):
    add_capacity(site, places=20)
    other = EmployerFactory(local_authority=local_authority)
    queue(3)
    theirs = queue(2, employer=other)
    campaign = Campaign.objects.create(local_authority=local_authority, employer=other)

    assert invitations.release_campaign(campaign_id=campaign.pk).released == 2
    released = set(Invitation.objects.filter(status="sending").values_list("worker_id", flat=True))
    assert released == {employment.worker_id for employment in theirs}


def test_a_stopped_campaign_releases_nothing(campaign, lead, site, queue, postgres):
    add_capacity(site, places=20)
    queue(3)
    invitations.stop_campaign(lead=lead, campaign=campaign)
    assert invitations.release_campaign(campaign_id=campaign.pk).released == 0
    assert Message.objects.count() == 0


def test_a_rolled_back_release_queues_no_message(campaign, site, queue, postgres):
    add_capacity(site, places=20)
    queue(3)
    with pytest.raises(RuntimeError), transaction.atomic():
        invitations.release_campaign(campaign_id=campaign.pk)
        raise RuntimeError("failed after releasing")
    assert Message.objects.count() == 0
    assert statuses() == {"queued": 3}


def test_release_queries_do_not_grow_with_the_number_released(campaign, site, queue, postgres):
    add_capacity(site, places=200)

    def queries(count: int) -> int:
        queue(count)
        with CaptureQueriesContext(connection) as captured:
            assert invitations.release_campaign(campaign_id=campaign.pk).released == count
        return len(captured.captured_queries)

    assert queries(3) == queries(40)


def test_chunks_release_everything_in_several_transactions(campaign, site, queue, postgres):
    add_capacity(site, places=200)
    queue(25)
    assert invitations.release_campaign(campaign_id=campaign.pk, chunk_size=10).released == 25
    assert Message.objects.count() == 25


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_releases_at_the_same_time_do_not_overshoot(lead, local_authority, site, queue, postgres):
    add_capacity(site, places=8)  # room for 12
    queue(30)
    campaign = Campaign.objects.create(local_authority=local_authority, started_by=lead)
    invitations._route_waiting(campaign)

    outcomes = run_at_once(
        lambda _: invitations.release_campaign(campaign_id=campaign.pk).released,
        range(4),
        expected=Exception,
    )

    assert sorted(outcomes) == [0, 0, 0, 12]
    assert Invitation.objects.filter(status="sending").count() == 12
    assert Message.objects.count() == 12


def test_a_worker_whose_contact_details_were_removed_waits(campaign, site, queue, postgres):
    add_capacity(site, places=20)
    reachable, unreachable = queue(2)
    Employment = type(unreachable)
    Employment.objects.filter(pk=unreachable.pk).update(email="", mobile="")
    assert invitations.release_campaign(campaign_id=campaign.pk).released == 1
    assert Invitation.objects.get(worker=unreachable.worker).status == Invitation.Status.QUEUED
    assert Message.objects.get().recipient == reachable.email
