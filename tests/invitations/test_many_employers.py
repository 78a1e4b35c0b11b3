"""One person supplied by employers in two areas gets one invitation that reaches every
contact an approved employer supplied, each message in its own employer's words; every lead
with one of the person's employments sees it (docs/decisions/0011). Before that record
the invitation went to whichever employment a lead approved first, told that address the
distance from the home postcode the other employer supplied, and left the other out."""

import pytest
from django.urls import reverse

from bookings import invitations
from bookings.models import Campaign, Invitation, Message
from tests.factories import EmployerFactory, EmploymentFactory, WorkerFactory
from tests.invitations.conftest import add_capacity
from workers import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return WorkerFactory(first_name="Amara", home_postcode="SW1A 2AA")


@pytest.fixture
def westminster(person, local_authority):
    employer = EmployerFactory(name="Westminster Care", local_authority=local_authority)
    return EmploymentFactory(
        worker=person,
        employer=employer,
        email="amara@westminster.example",
        mobile="",
        home_postcode="SW1A 2AA",
    )


@pytest.fixture
def manchester(person, other_local_authority):
    employer = EmployerFactory(name="Manchester Care", local_authority=other_local_authority)
    return EmploymentFactory(
        worker=person,
        employer=employer,
        first_name="Ama",
        email="ama@manchester.example",
        mobile="",
        home_postcode="M1 1AE",
    )


@pytest.fixture
def manchester_site(other_local_authority):
    from tests.factories import VaccinationSiteFactory

    site = VaccinationSiteFactory(
        name="Central hub", postcode="SE1 7EH", local_authorities=[other_local_authority]
    )
    add_capacity(site, places=5)
    return site


def approve(lead, employment):
    services.approve_employments(lead=lead, employment_ids=[employment.pk], reason="Frontline")


def release(lead, authority):
    campaign = Campaign.objects.create(local_authority=authority, started_by=lead)
    return invitations.release_campaign(campaign_id=campaign.pk)


def sent_to() -> dict[str, dict]:
    return {message.recipient: message.context for message in Message.objects.all()}


def test_a_later_approval_reaches_its_contact_and_its_lead_sees_it(
    client,
    postgres,
    person,
    westminster,
    manchester,
    manchester_site,
    lead,
    other_lead,
    other_local_authority,
):
    approve(other_lead, manchester)
    assert release(other_lead, other_local_authority).released == 1
    assert set(sent_to()) == {"ama@manchester.example"}
    context = sent_to()["ama@manchester.example"]
    assert context["first_name"] == "Ama" and context["employer_name"] == "Manchester Care"
    assert "distance_km" not in context

    approve(lead, westminster)

    assert Invitation.objects.count() == 1
    assert set(sent_to()) == {"ama@manchester.example", "amara@westminster.example"}
    theirs = sent_to()["amara@westminster.example"]
    assert theirs["first_name"] == "Amara" and theirs["employer_name"] == "Westminster Care"
    # Approving again (or another decision) does not send twice.
    invitations.queue_invitations(employment_ids=[westminster.pk])
    assert Message.objects.count() == 2

    invitation = Invitation.objects.get()
    client.force_login(lead)
    worker_page = client.get(reverse("workers:detail", args=[invitation.worker_id])).text
    assert reverse("bookings:invitation_detail", args=[invitation.pk]) in worker_page
    page = client.get(reverse("bookings:invitation_detail", args=[invitation.pk]))
    assert page.status_code == 200
    assert "Westminster Care" in page.text and "Manchester" not in page.text
    assert "Ama " not in page.text


def test_an_invitation_released_after_both_approvals_reaches_both(
    postgres, westminster, manchester, manchester_site, lead, other_lead, other_local_authority
):
    approve(other_lead, manchester)
    approve(lead, westminster)
    release(other_lead, other_local_authority)
    assert set(sent_to()) == {"ama@manchester.example", "amara@westminster.example"}
    rendered = [
        message.context for message in Message.objects.filter(recipient__contains="manchester")
    ]
    assert all("SW1A" not in str(context) and "Amara" not in str(context) for context in rendered)


def test_a_contact_two_employers_share_gets_one_message(
    postgres, westminster, manchester, manchester_site, lead, other_lead, other_local_authority
):
    manchester.email = "AMARA@westminster.example"
    manchester.save()
    approve(other_lead, manchester)
    approve(lead, westminster)
    release(other_lead, other_local_authority)
    assert Message.objects.count() == 1
