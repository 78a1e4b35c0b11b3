"""Fixtures for the invitation tests: the eligibility fixtures (an area, its lead, an approved
employer), a site and an alternative to it, with sessions, and approved workers."""

import datetime

import pytest
from django.utils import timezone

from bookings.models import Session, Slot
from tests.eligibility.conftest import (  # noqa: F401 (fixtures)
    employer,
    lead,
    make_employment,
    other_lead,
)
from tests.factories import VaccinationSiteFactory
from workers import services
from workers.models import EligibilityDecision


@pytest.fixture
def site(local_authority):
    # Westminster workers (SW1A) are about 2 km from a site in SE1.
    return VaccinationSiteFactory(
        name="St Thomas' Hospital hub",
        address="Westminster Bridge Road, London",
        postcode="SE1 7EH",
        local_authorities=[local_authority],
    )


@pytest.fixture
def centre(local_authority):
    """An alternative to the hub: further from Westminster, of a kind the default policy
    prefers less."""
    return VaccinationSiteFactory(
        name="Guy's vaccination centre",
        kind="vaccination_centre",
        postcode="SE1 9RT",
        local_authorities=[local_authority],
    )


def add_capacity(site, *, places: int, days_ahead: int = 2, booked: int = 0) -> Session:
    """A session ``days_ahead`` days from now with one slot of ``places`` places."""
    day = timezone.localdate() + datetime.timedelta(days=days_ahead)
    session = Session.objects.create(
        site=site, date=day, start_time=datetime.time(9), end_time=datetime.time(17)
    )
    Slot.objects.create(
        session=session,
        starts_at=datetime.datetime.combine(day, datetime.time(9), tzinfo=datetime.UTC),
        capacity=places,
        booked=booked,
    )
    return session


@pytest.fixture
def approve(lead):  # noqa: F811 (the imported fixture)
    """Approve the given employments as the area's lead; returns their ids."""

    def run(employments) -> list[int]:
        ids = [employment.pk for employment in employments]
        services.approve_employments(lead=lead, employment_ids=ids, reason="Frontline care")
        return ids

    return run


def decided_eligible(employment) -> bool:
    employment.refresh_from_db()
    return employment.eligibility_outcome == EligibilityDecision.Outcome.ELIGIBLE
