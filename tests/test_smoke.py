"""The portal starts, serves its start page and scopes the basic pages by role."""

import pytest
from django.urls import reverse

from portal.roles import Role
from tests.factories import EmployerFactory, EmploymentFactory, make_user

pytestmark = pytest.mark.django_db


def test_start_page_for_anonymous_visitor(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert b"Sign in" in response.content
    assert "Content-Security-Policy" in response.headers


def test_local_authorities_loaded():
    from portal.models import LocalAuthority

    assert LocalAuthority.objects.count() == 151
    westminster = LocalAuthority.objects.get(gss_code="E09000033")
    assert westminster.region_name == "London"


def test_employer_user_sees_only_own_employer(client):
    mine = EmployerFactory(name="Mine Care Ltd")
    theirs = EmployerFactory(name="Theirs Care Ltd")
    EmploymentFactory(employer=theirs)
    user = make_user(Role.EMPLOYER, employer=mine)
    client.force_login(user)
    listing = client.get(reverse("employers:list"))
    assert b"Mine Care Ltd" in listing.content
    assert b"Theirs Care Ltd" not in listing.content
    assert client.get(reverse("employers:detail", args=[theirs.pk])).status_code == 404
