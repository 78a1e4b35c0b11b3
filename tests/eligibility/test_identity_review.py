"""Where employers' records of one person differ: each lead sees the difference for their
own employment, with values only from records they may see; a lead settles it when every
record is in their area, a national administrator anywhere (docs/decisions/0011)."""

import datetime

import pytest
from django.urls import reverse

from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import EmployerFactory, EmploymentFactory, WorkerFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return WorkerFactory(
        first_name="Amara", last_name="Okafor", date_of_birth=datetime.date(1980, 4, 3)
    )


def record(person, employer, **supplied):
    return EmploymentFactory(worker=person, employer=employer, **supplied)


def test_a_lead_with_every_record_sees_both_values_and_settles(
    client, postgres, person, local_authority, lead
):
    first = record(person, EmployerFactory(name="Sunrise Care", local_authority=local_authority))
    second = record(
        person,
        EmployerFactory(name="Moonlight Homes", local_authority=local_authority),
        date_of_birth=datetime.date(1980, 3, 4),
    )
    client.force_login(lead)
    url = reverse("workers:detail", args=[person.pk])
    page = client.get(url)
    assert page.status_code == 200
    text = page.text
    assert "details for this person differ" in text
    assert "Sunrise Care: 3 April 1980" in text and "Moonlight Homes: 4 March 1980" in text
    assert "outside your area" not in text
    assert "Use these details" in text

    settled = client.post(url, {"employment": second.pk})

    assert settled.status_code == 302
    person.refresh_from_db()
    assert person.date_of_birth == datetime.date(1980, 3, 4)
    event = AuditEvent.objects.get(verb="worker_identity_settled")
    assert event.details == {"from_employment_id": second.pk, "fields": ["date_of_birth"]}
    # The other record is the employer's own and stays as it supplied it.
    first.refresh_from_db()
    assert first.date_of_birth == datetime.date(1980, 4, 3)


def test_a_lead_never_sees_another_areas_values_and_cannot_settle(
    client, postgres, person, local_authority, other_local_authority, lead, other_lead
):
    ours = record(person, EmployerFactory(name="Sunrise Care", local_authority=local_authority))
    record(
        person,
        EmployerFactory(name="Manchester Care", local_authority=other_local_authority),
        date_of_birth=datetime.date(1979, 1, 1),
        home_postcode="M1 1AE",
    )
    client.force_login(lead)
    url = reverse("workers:detail", args=[person.pk])
    text = client.get(url).text
    assert "Sunrise Care: 3 April 1980" in text
    assert "An employer outside your area gave different details" in text
    for secret in ("1979", "M1 1AE", "Manchester"):
        assert secret not in text
    assert "Use these details" not in text and "Record used for invitations" not in text
    assert client.post(url, {"employment": ours.pk}).status_code == 403
    person.refresh_from_db()
    assert person.date_of_birth == datetime.date(1980, 4, 3)

    # Manchester's lead is told of the same difference for their own employment.
    client.force_login(other_lead)
    text = client.get(url).text
    assert "Manchester Care: 1 January 1979" in text and "outside your area" in text
    assert "Sunrise" not in text and "3 April 1980" not in text


def test_an_administrator_settles_across_areas(
    client, postgres, person, local_authority, other_local_authority
):
    record(person, EmployerFactory(local_authority=local_authority))
    theirs = record(
        person,
        EmployerFactory(name="Manchester Care", local_authority=other_local_authority),
        date_of_birth=datetime.date(1979, 1, 1),
    )
    client.force_login(make_user(Role.ADMINISTRATOR))
    url = reverse("workers:detail", args=[person.pk])
    assert "Manchester Care: 1 January 1979" in client.get(url).text
    assert client.post(url, {"employment": theirs.pk}).status_code == 302
    person.refresh_from_db()
    assert person.date_of_birth == datetime.date(1979, 1, 1)


def test_the_review_page_tells_the_lead_and_never_the_employer(
    client, postgres, person, local_authority, other_local_authority, lead
):
    employer = EmployerFactory(local_authority=local_authority)
    ours = record(person, employer, last_name="Okafor-Smith")
    record(person, EmployerFactory(local_authority=other_local_authority))
    url = reverse("workers:employment", args=[ours.pk])
    client.force_login(lead)
    assert "differ from the record used for invitations" in client.get(url).text
    client.force_login(make_user(Role.EMPLOYER, employer=employer))
    page = client.get(url)
    if page.status_code == 200:
        assert "differ" not in page.text
    staff = client.get(reverse("employers:employment", args=[ours.pk])).text
    assert "differ" not in staff and "Okafor-Smith" in staff


def test_the_worker_list_names_people_by_what_the_lead_may_see(
    client, postgres, person, local_authority, other_local_authority, lead
):
    record(person, EmployerFactory(local_authority=local_authority), first_name="Amy")
    person.first_name = "Secret"
    person.save()
    client.force_login(lead)
    listing = client.get(reverse("workers:list")).text
    assert "Amy Okafor" in listing and "Secret" not in listing
    assert "Amy" in client.get(reverse("workers:list"), {"q": "Okafor"}).text
    # Found by a name only an employer outside the area supplied: not at all.
    record(person, EmployerFactory(local_authority=other_local_authority), last_name="Hidden")
    assert "Amy" not in client.get(reverse("workers:list"), {"q": "Hidden"}).text
