"""The API as a whole: no answer under /api/v1/ is kept by browsers or proxies, and its
description (/api/schema/) is public on purpose, since it names endpoints and fields, not
records."""

import pytest
from django.test import Client
from django.urls import reverse

from portal.roles import Role
from tests.factories import EmployerFactory, make_user

pytestmark = pytest.mark.django_db


def test_every_api_answer_is_sent_with_no_store(client, postgres):
    employer = EmployerFactory()
    client.force_login(make_user(Role.EMPLOYER, employer=employer))
    for url in (
        reverse("api-employer-list"),
        reverse("api-employer-detail", args=[employer.pk]),
        reverse("api-site-list"),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
    refused = Client().get(reverse("api-employer-list"))
    assert refused.status_code == 403
    assert "no-store" in refused["Cache-Control"]


def test_the_api_schema_is_public_and_shows_no_records(postgres):
    employer = EmployerFactory(name="Schema Test Care Ltd")
    response = Client().get(reverse("api-docs"))
    assert response.status_code == 200
    schema = response.content.decode()
    assert schema.startswith("openapi:")
    assert "/api/v1/employers/{id}/" in schema
    assert employer.name not in schema
