"""The lead's campaign pages through HTTP: start a campaign (its release runs after the
commit), the counts per site in a fixed number of queries, stop, the invitations list, a
resend; another authority's lead gets 404, and other roles cannot start campaigns."""

import pytest
from django.urls import reverse

from bookings import invitations
from bookings.models import Campaign, Invitation, Message
from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import EmployerFactory, WorkerFactory, make_user
from tests.invitations.conftest import add_capacity

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_client(client, lead):
    client.force_login(lead)
    return client


@pytest.fixture
def queued(approve, make_employment, site):
    add_capacity(site, places=4)  # room for 6 at 1.5
    employments = [make_employment() for _ in range(8)]
    approve(employments)
    return employments


def test_a_lead_starts_a_campaign_and_sees_counts_per_site(
    lead_client, queued, site, django_capture_on_commit_callbacks, postgres
):
    form = lead_client.get(reverse("bookings:campaign_start"))
    assert form.status_code == 200
    assert form.context["form"].initial["over_invite_factor"] == 1.5

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = lead_client.post(
            reverse("bookings:campaign_start"), {"employer_id": "", "over_invite_factor": "1.5"}
        )
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("bookings:campaign_detail", args=[campaign.pk])
    assert len(callbacks) == 1  # the first release, queued after the commit
    assert AuditEvent.objects.filter(verb="campaign_started").exists()

    invitations.release_campaign(campaign_id=campaign.pk)
    page = lead_client.get(response.url)
    assert page.status_code == 200
    counts = page.context["counts"]
    assert (counts.queued, counts.sent, counts.booked) == (2, 6, 0)
    [row] = counts.sites
    assert (row.site_name, row.free_places, row.queued, row.sent) == (site.name, 4, 2, 6)
    assert "St Thomas&#x27; Hospital hub" in page.text


def test_campaign_page_queries_do_not_grow(
    lead_client,
    lead,
    local_authority,
    site,
    approve,
    make_employment,
    postgres,
    django_assert_max_num_queries,
):
    add_capacity(site, places=100)
    campaign = Campaign.objects.create(local_authority=local_authority, started_by=lead)
    for size in (3, 30):
        approve([make_employment() for _ in range(size)])
        invitations.release_campaign(campaign_id=campaign.pk)
        with django_assert_max_num_queries(12):
            assert (
                lead_client.get(reverse("bookings:campaign_detail", args=[campaign.pk])).status_code
                == 200
            )
        with django_assert_max_num_queries(12):
            assert (
                lead_client.get(
                    reverse("bookings:campaign_invitations", args=[campaign.pk])
                ).status_code
                == 200
            )


def test_starting_twice_and_bad_factors_are_refused_with_a_message(lead_client, queued, postgres):
    url = reverse("bookings:campaign_start")
    response = lead_client.post(url, {"employer_id": "", "over_invite_factor": "0.5"})
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 1" in response.text
    lead_client.post(url, {"employer_id": "", "over_invite_factor": "1.5"})
    response = lead_client.post(url, {"employer_id": "", "over_invite_factor": "1.5"})
    assert "A campaign for your whole area is running" in response.text
    assert Campaign.objects.count() == 1


def test_an_employer_campaign_and_stopping(lead_client, lead, local_authority, employer, postgres):
    response = lead_client.post(
        reverse("bookings:campaign_start"),
        {"employer_id": str(employer.pk), "over_invite_factor": "2"},
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and campaign.employer == employer
    lead_client.post(reverse("bookings:campaign_stop", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert not campaign.is_active and campaign.stopped_by == lead


def test_another_authoritys_lead_gets_404(client, other_lead, lead, local_authority, postgres):
    campaign = Campaign.objects.create(local_authority=local_authority, started_by=lead)
    client.force_login(other_lead)
    for name in ("campaign_detail", "campaign_invitations"):
        assert client.get(reverse(f"bookings:{name}", args=[campaign.pk])).status_code == 404
    for name in ("campaign_release", "campaign_stop"):
        assert client.post(reverse(f"bookings:{name}", args=[campaign.pk])).status_code == 404
    assert Campaign.objects.get().is_active


def test_an_employer_from_another_area_cannot_be_chosen(lead_client, other_local_authority):
    elsewhere = EmployerFactory(local_authority=other_local_authority)
    response = lead_client.post(
        reverse("bookings:campaign_start"),
        {"employer_id": str(elsewhere.pk), "over_invite_factor": "1.5"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    assert not Campaign.objects.exists()


def test_other_roles_cannot_start_campaigns(client, site):
    client.force_login(make_user(Role.SITE_STAFF, site=site))
    assert client.get(reverse("bookings:campaign_start")).status_code == 403


def test_nhs_team_sees_counts_but_not_people(client, lead, local_authority, queued, postgres):
    campaign = Campaign.objects.create(local_authority=local_authority, started_by=lead)
    invitations.release_campaign(campaign_id=campaign.pk)
    client.force_login(make_user(Role.NHS_TEAM, region_code=local_authority.region_code))
    page = client.get(reverse("bookings:campaign_detail", args=[campaign.pk]))
    assert page.context["counts"].sent == 6
    listing = client.get(reverse("bookings:campaign_invitations", args=[campaign.pk]))
    assert listing.context["page"].paginator.count == 0
    invitation = Invitation.objects.first()
    assert (
        client.get(reverse("bookings:invitation_detail", args=[invitation.pk])).status_code == 404
    )


def test_a_lead_resends_from_the_invitation_page(
    lead_client, lead, local_authority, queued, postgres
):
    campaign = Campaign.objects.create(local_authority=local_authority, started_by=lead)
    invitations.release_campaign(campaign_id=campaign.pk)
    invitation = Invitation.objects.filter(status="sending").first()
    detail = lead_client.get(reverse("bookings:invitation_detail", args=[invitation.pk]))
    assert "Send a new link" in detail.text

    response = lead_client.post(reverse("bookings:invitation_resend", args=[invitation.pk]))

    new = Invitation.objects.get(supersedes=invitation)
    assert response.status_code == 302
    assert response.url == reverse("bookings:invitation_detail", args=[new.pk])
    assert Message.objects.filter(invitation=new, template="invitation_resend").count() == 1


def test_a_resend_the_lead_cannot_make_says_why(lead_client, approve, make_employment, postgres):
    approve([make_employment(worker=WorkerFactory())])
    queued = Invitation.objects.get()
    response = lead_client.post(reverse("bookings:invitation_resend", args=[queued.pk]))
    assert response.status_code == 200
    assert "There is a problem" in response.text and "has not been sent yet" in response.text
