"""Employer pages: the staff list with search, filters, counts and pagination; one member of
staff's employment; marking someone as left."""

import pytest
from django.urls import reverse

from employers.models import Employer
from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import EmployerFactory, EmploymentFactory, WorkerFactory, make_user
from workers.models import Employment

pytestmark = pytest.mark.django_db


@pytest.fixture
def employer():
    return EmployerFactory(name="Riverside Care Home")


@pytest.fixture
def owner(employer):
    return make_user(Role.EMPLOYER, employer=employer)


def staff_url(employer):
    return reverse("employers:staff", args=[employer.pk])


def names(response):
    return [str(employment.worker) for employment in response.context["page"].object_list]


def test_staff_list_searches_filters_counts_and_paginates(
    client, employer, owner, django_assert_max_num_queries
):
    for number in range(55):
        EmploymentFactory(
            employer=employer,
            worker=WorkerFactory(first_name="Care", last_name=f"Worker{number:02d}"),
        )
    EmploymentFactory(
        employer=employer,
        worker=WorkerFactory(first_name="Mary", last_name="Seacole", nhs_number="9434765919"),
        staff_reference="RS-0042",
        job_role="registered_nurse",
        work_setting="nursing_home",
        employment_type=Employment.EmploymentType.BANK,
    )
    EmploymentFactory(
        employer=employer,
        worker=WorkerFactory(first_name="Florence", last_name="Nightingale"),
        status=Employment.Status.LEFT,
    )
    EmploymentFactory(worker=WorkerFactory(first_name="Mary", last_name="Elsewhere"))
    client.force_login(owner)

    with django_assert_max_num_queries(12):
        first_page = client.get(staff_url(employer))
    assert first_page.status_code == 200
    assert first_page.context["counts"] == {"current": 56, "left": 1}
    assert len(first_page.context["page"].object_list) == 50
    assert b"56 current members of staff and 1 who has left" in first_page.content
    with django_assert_max_num_queries(12):
        second_page = client.get(staff_url(employer), {"page": 2})
    # Sorted by last name: Seacole comes before the Worker00… names.
    assert names(first_page)[0] == "Mary Seacole"
    assert names(second_page) == [f"Care Worker{number}" for number in range(49, 55)]

    assert names(client.get(staff_url(employer), {"q": "seacole"})) == ["Mary Seacole"]
    assert names(client.get(staff_url(employer), {"q": "mary sea"})) == ["Mary Seacole"]
    assert names(client.get(staff_url(employer), {"q": "rs-0042"})) == ["Mary Seacole"]
    assert names(client.get(staff_url(employer), {"q": "943 476 5919"})) == ["Mary Seacole"]
    assert names(client.get(staff_url(employer), {"job_role": "registered_nurse"})) == [
        "Mary Seacole"
    ]
    assert names(client.get(staff_url(employer), {"work_setting": "nursing_home"})) == [
        "Mary Seacole"
    ]
    assert names(client.get(staff_url(employer), {"employment_type": "bank"})) == ["Mary Seacole"]
    assert names(client.get(staff_url(employer), {"status": "left"})) == ["Florence Nightingale"]
    everyone = client.get(staff_url(employer), {"status": "", "q": "Nightingale"})
    assert names(everyone) == ["Florence Nightingale"]
    # Another employer's staff never appear, whatever the search.
    assert names(client.get(staff_url(employer), {"q": "Elsewhere"})) == []
    filtered = client.get(staff_url(employer), {"q": "mary"})
    assert filtered.context["counts"] == {"current": 1, "left": 0}


def test_staff_list_filter_choices_come_from_the_employers_own_list(client, employer, owner):
    EmploymentFactory(employer=employer, job_role="support_worker")
    EmploymentFactory(job_role="social_worker")
    client.force_login(owner)
    response = client.get(staff_url(employer))
    choices = dict(response.context["form"].fields["job_role"].choices)
    assert choices["support_worker"] == "Support worker"
    assert "social_worker" not in choices
    assert b'<option value="support_worker">Support worker</option>' in response.content


def test_other_employers_pages_answer_404(client, owner):
    theirs = EmploymentFactory()
    client.force_login(owner)
    assert client.get(staff_url(theirs.employer)).status_code == 404
    assert client.get(reverse("employers:employment", args=[theirs.pk])).status_code == 404
    left_url = reverse("employers:employment_left", args=[theirs.pk])
    assert client.get(left_url).status_code == 404
    assert client.post(left_url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Employment.Status.ACTIVE


def test_employment_page_shows_what_the_employer_gave(client, employer, owner):
    employment = EmploymentFactory(
        employer=employer,
        worker=WorkerFactory(first_name="Mary", last_name="Seacole"),
        staff_reference="RS-0042",
        mobile="07700 900123",
    )
    client.force_login(owner)
    response = client.get(reverse("employers:employment", args=[employment.pk]))
    assert response.status_code == 200
    for text in (b"Mary Seacole", b"RS-0042", b"07700 900123", b"Care worker", b"Mark as left"):
        assert text in response.content


def test_mark_as_left_asks_first_then_changes_only_this_employment(client, employer, owner):
    employment = EmploymentFactory(employer=employer)
    elsewhere = EmploymentFactory(worker=employment.worker)
    url = reverse("employers:employment_left", args=[employment.pk])
    client.force_login(owner)

    confirmation = client.get(url)
    assert confirmation.status_code == 200
    assert b"Yes, mark as left" in confirmation.content
    employment.refresh_from_db()
    assert employment.status == Employment.Status.ACTIVE

    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == staff_url(employer)
    employment.refresh_from_db()
    elsewhere.refresh_from_db()
    assert employment.status == Employment.Status.LEFT
    assert employment.left_at is not None
    assert elsewhere.status == Employment.Status.ACTIVE
    event = AuditEvent.objects.get(verb="employment_left")
    assert event.actor == owner
    assert event.object_id == str(employment.pk)

    # Doing it twice changes and records nothing more.
    client.post(url)
    assert AuditEvent.objects.filter(verb="employment_left").count() == 1


def test_local_lead_sees_staff_but_cannot_mark_them_as_left(client, employer):
    employment = EmploymentFactory(employer=employer)
    lead = make_user(Role.LOCAL_LEAD, local_authority_obj=employer.local_authority)
    client.force_login(lead)
    assert client.get(staff_url(employer)).status_code == 200
    page = client.get(reverse("employers:employment", args=[employment.pk]))
    assert page.status_code == 200
    assert b"Mark as left" not in page.content
    url = reverse("employers:employment_left", args=[employment.pk])
    assert client.post(url).status_code == 403
    employment.refresh_from_db()
    assert employment.status == Employment.Status.ACTIVE


def test_employer_page_shows_counts_and_pending_status(client, owner, employer):
    Employer.objects.filter(pk=employer.pk).update(status=Employer.Status.PENDING)
    EmploymentFactory.create_batch(3, employer=employer)
    client.force_login(owner)
    response = client.get(reverse("employers:detail", args=[employer.pk]))
    assert response.status_code == 200
    assert b"3 current members of staff" in response.content
    assert b"is checking your registration" in response.content
    assert staff_url(employer).encode() in response.content
