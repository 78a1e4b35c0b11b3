"""What an employer's pages show of a person another employer also supplied: only its own
values, never the stored person's (docs/decisions/0011). Each test reproduces a way an
employer's page once showed another employer's values."""

import pytest
from django.urls import reverse

from employers.imports import commit_staff_upload
from employers.models import Employer
from portal.models import LocalAuthority
from portal.roles import Role
from tests.factories import EmployerFactory, make_user
from tests.uploads.conftest import check, csv_bytes, person

pytestmark = pytest.mark.django_db

NHS = person(7)["nhs_number"]


def imported(employer, rows):
    return commit_staff_upload(user=None, upload=check(employer, csv_bytes(rows)))


@pytest.fixture
def westminster_employer(local_authority):
    employer = EmployerFactory(name="Westminster Care", local_authority=local_authority)
    imported(
        employer,
        [
            person(
                7,
                first_name="Alice",
                last_name="Zeta",
                date_of_birth="12/03/1981",
                home_postcode="W9 1AB",
                email="alice@westminster.example",
            )
        ],
    )
    return employer


def uploader(status=Employer.Status.APPROVED, gss="E08000035"):
    employer = EmployerFactory(
        name="Leeds Care",
        local_authority=LocalAuthority.objects.get(gss_code=gss),
        status=status,
    )
    return employer, make_user(Role.EMPLOYER, employer=employer)


def pages(client, user, employer):
    client.force_login(user)
    staff = client.get(reverse("employers:staff", args=[employer.pk]))
    assert staff.status_code == 200
    [employment] = staff.context["page"].object_list
    detail = client.get(reverse("employers:employment", args=[employment.pk]))
    assert detail.status_code == 200
    return staff.text + detail.text


@pytest.mark.parametrize("status", [Employer.Status.APPROVED, Employer.Status.PENDING])
def test_a_matching_row_shows_what_the_uploader_typed(
    client, postgres, westminster_employer, status
):
    """Reproduction: a row typed as A,B,12/03/1981,<NHS>,LS1 1UR displayed "Alice Zeta …
    W9 1AB" on the uploader's pages (unapproved, and approved in another region)."""
    employer, user = uploader(status)
    upload = imported(
        employer,
        [
            person(
                7,
                first_name="A",
                last_name="B",
                date_of_birth="12/03/1981",
                home_postcode="LS1 1UR",
                email="a.b@leeds.example",
            )
        ],
    )
    if status == Employer.Status.PENDING:
        assert upload.status == "waiting"
        lead = make_user(Role.LOCAL_LEAD, local_authority_obj=employer.local_authority)
        from employers.imports import import_waiting
        from employers.services import approve_employer

        approve_employer(lead=lead, employer=employer)
        assert import_waiting(employer_id=employer.pk) == 1

    text = pages(client, user, employer)

    assert "LS1 1UR" in text and "B, A" in text
    for secret in ("Alice", "Zeta", "W9 1AB", "alice@westminster.example", "Westminster"):
        assert secret not in text


def test_a_row_without_an_nhs_number_never_shows_anothers(client, postgres, westminster_employer):
    """Reproduction: a row with a name, date of birth and postcode but no NHS number
    displayed the NHS number another employer had supplied."""
    employer, user = uploader()
    imported(
        employer,
        [
            person(
                7,
                first_name="Alice",
                last_name="Zeta",
                date_of_birth="12/03/1981",
                home_postcode="W9 1AB",
                nhs_number="",
            )
        ],
    )
    text = pages(client, user, employer)
    assert NHS not in text and f"{NHS[:3]} {NHS[3:6]} {NHS[6:]}" not in text
    assert "Not given" in text


def test_the_staff_search_finds_only_what_the_employer_supplied(
    client, postgres, westminster_employer
):
    employer, user = uploader()
    imported(employer, [person(7, first_name="A", last_name="B", date_of_birth="12/03/1981")])
    client.force_login(user)
    url = reverse("employers:staff", args=[employer.pk])
    assert len(client.get(url, {"q": "Zeta"}).context["page"].object_list) == 0
    assert len(client.get(url, {"q": "B"}).context["page"].object_list) == 1
