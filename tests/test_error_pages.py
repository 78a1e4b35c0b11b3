"""Every refusal, missing page and server error is an NHS.UK page in plain English, with the
status code it always had."""

import pytest
from django.test import Client
from django.urls import path, reverse

from portal import views
from portal.roles import Role
from portal.urls import handler500
from portal.urls import urlpatterns as portal_urlpatterns
from tests.factories import make_user


def _boom(request):
    raise RuntimeError("a deliberate failure for the 500 page test")


# This module is also the URL configuration of the 500 test: the portal's pages plus one
# that fails, with the portal's own handler500.
urlpatterns = [*portal_urlpatterns, path("boom/", _boom)]
__all__ = ["handler500", "urlpatterns"]


@pytest.mark.django_db
def test_a_refusal_is_the_nhsuk_page(client):
    client.force_login(make_user(Role.EMPLOYER))
    response = client.get(reverse("overview"))
    assert response.status_code == 403
    assert [t.name for t in response.templates][:1] == ["403.html"]
    page = response.content.decode()
    assert "nhsuk-header" in page
    assert "<h1>You cannot view this page</h1>" in page


@pytest.mark.django_db
def test_every_app_refuses_with_the_same_page(client):
    client.force_login(make_user(Role.SITE_STAFF))
    for url in (reverse("workers:queue"), reverse("employers:approvals")):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "<h1>You cannot view this page</h1>" in response.content.decode(), url


@pytest.mark.django_db
def test_a_missing_page_is_the_nhsuk_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "nhsuk-header" in page
    assert "<h1>Page not found</h1>" in page


@pytest.mark.django_db
@pytest.mark.urls("tests.test_error_pages")
def test_a_server_error_is_the_nhsuk_page(settings):
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "nhsuk-header" in page
    assert "<h1>Sorry, there is a problem with the service</h1>" in page
    assert settings.SERVICE_NAME in page
    assert "deliberate failure" not in page


def test_the_server_error_page_needs_no_request_or_database():
    """No db fixture: any query here fails the test."""
    response = views.server_error(None)
    assert response.status_code == 500
    assert "nhsuk-header" in response.content.decode()
