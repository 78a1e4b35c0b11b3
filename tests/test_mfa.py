"""Multi-factor authentication: local leads, NHS team members and administrators reach
nothing but enrolment until they have an authenticator app, and then sign in with a code."""

import pytest
from allauth.mfa.models import Authenticator
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token

from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import (
    EmployerFactory,
    UserFactory,
    enrol_totp,
    make_user,
    totp_code,
    totp_code_for_secret,
)
from tests.sign_in import confirm_password, sign_in

pytestmark = pytest.mark.django_db

OPEN_WHILE_ENROLLING = {
    "mfa_activate_totp",
    "mfa_index",
    "account_reauthenticate",
    "account_logout",
    "healthz",
}


def _pages_without_arguments(patterns=None, namespace=""):
    """Every named URL that reverses without arguments: new pages are covered automatically."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _pages_without_arguments(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            name = namespace + entry.name
            try:
                yield name, reverse(name)
            except Exception:  # noqa: S112 (needs arguments: not a main page)
                continue


@pytest.fixture
def tolerant_totp(settings):
    # One 30-second step either side, so a code computed just before a step boundary counts.
    settings.MFA_TOTP_TOLERANCE = 1


@pytest.mark.parametrize("role", [Role.LOCAL_LEAD, Role.NHS_TEAM, Role.ADMINISTRATOR])
def test_unenrolled_user_is_sent_to_enrolment_from_every_page(client, role):
    user = make_user(role, mfa=False)
    client.force_login(user)
    checked = 0
    for name, url in _pages_without_arguments():
        if name in OPEN_WHILE_ENROLLING or "logout" in name:
            continue
        response = client.get(url)
        checked += 1
        if url.startswith("/api/"):
            assert response.status_code == 403, name
        else:
            assert response.status_code == 302, name
            assert response.url == reverse("mfa_activate_totp"), name
    assert checked > 20
    # Enrolment stays open; allauth first asks a session without a fresh sign-in to confirm
    # the password, and that page stays open too.
    enrol = client.get(reverse("mfa_activate_totp"))
    assert enrol.status_code == 302
    assert enrol.url.startswith(reverse("account_reauthenticate"))
    assert client.get(enrol.url).status_code == 200


def test_superuser_without_role_must_enrol_too(client):
    admin = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(admin)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp")


def test_employer_user_is_not_asked_to_enrol(client):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    client.force_login(user)
    assert client.get(reverse("employers:list")).status_code == 200


def test_api_token_of_unenrolled_lead_is_refused(client):
    lead = make_user(Role.LOCAL_LEAD, mfa=False)
    token = Token.objects.create(user=lead)
    url = reverse("api-employer-list")
    response = client.get(url, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 403
    assert "multi-factor" in response.json()["detail"]

    Authenticator.objects.create(user=lead, type=Authenticator.Type.TOTP, data={"secret": "x"})
    assert client.get(url, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


def test_lead_enrols_with_a_real_code_then_reaches_their_pages(
    client, tolerant_totp, django_capture_on_commit_callbacks
):
    lead = make_user(Role.LOCAL_LEAD, mfa=False)
    response = sign_in(client, lead)
    assert response.status_code == 302

    assert client.get(reverse("employers:list")).url == reverse("mfa_activate_totp")
    confirmed = confirm_password(client, client.get(reverse("mfa_activate_totp")))
    assert confirmed.url == reverse("mfa_activate_totp")
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    html = page.content.decode()
    secret = page.context["form"].secret
    assert 'src="data:image/svg+xml;base64,' in html
    assert secret in html
    assert "<script" not in html.split("<main", 1)[1]

    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert wrong.status_code == 200
    assert "There is a problem" in wrong.content.decode()
    assert not Authenticator.objects.filter(user=lead, type=Authenticator.Type.TOTP).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mfa_activate_totp"), {"code": totp_code_for_secret(secret)})
    assert response.status_code == 302
    assert response.url == reverse("mfa_view_recovery_codes")
    assert Authenticator.objects.filter(user=lead, type=Authenticator.Type.TOTP).exists()
    assert AuditEvent.objects.filter(verb="mfa_enrolled", object_id=str(lead.pk)).exists()

    assert client.get(reverse("mfa_view_recovery_codes")).status_code == 200
    assert client.get(reverse("employers:list")).status_code == 200
    assert client.get(reverse("workers:list")).status_code == 200


def test_enrolled_user_needs_the_code_to_sign_in(client, tolerant_totp):
    lead = make_user(Role.LOCAL_LEAD)
    response = sign_in(client, lead, with_code=False)
    assert response.status_code == 302
    assert response.url == reverse("mfa_authenticate")
    # The password alone does not sign in.
    assert client.get(reverse("employers:list")).status_code == 302
    assert not AuditEvent.objects.filter(verb="signed_in").exists()

    wrong = client.post(reverse("mfa_authenticate"), {"code": "123456"})
    assert wrong.status_code == 200
    assert "The code is wrong" in wrong.content.decode()
    assert AuditEvent.objects.filter(verb="mfa_code_failed", object_id=str(lead.pk)).exists()

    right = client.post(reverse("mfa_authenticate"), {"code": totp_code(lead)})
    assert right.status_code == 302
    assert client.get(reverse("employers:list")).status_code == 200
    assert AuditEvent.objects.filter(verb="signed_in", actor=lead).exists()


def test_lead_cannot_turn_off_their_authenticator_app(client, tolerant_totp):
    lead = make_user(Role.LOCAL_LEAD)
    sign_in(client, lead)
    confirm_password(client, client.get(reverse("mfa_deactivate_totp")))
    page = client.get(reverse("mfa_deactivate_totp"))
    assert "you cannot turn it off" in page.content.decode()
    client.post(reverse("mfa_deactivate_totp"))
    assert Authenticator.objects.filter(user=lead, type=Authenticator.Type.TOTP).exists()


def test_employer_user_can_turn_off_an_optional_app(client, tolerant_totp):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    enrol_totp(user)
    sign_in(client, user)
    confirm_password(client, client.get(reverse("mfa_deactivate_totp")))
    response = client.post(reverse("mfa_deactivate_totp"))
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert AuditEvent.objects.filter(verb="mfa_removed", object_id=str(user.pk)).exists()


def test_admin_sign_in_goes_through_allauth(client, tolerant_totp):
    response = client.get(reverse("admin:login") + "?next=/admin/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))

    employer_user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    client.force_login(employer_user)
    assert client.get(reverse("admin:login")).status_code == 403

    admin = make_user(Role.ADMINISTRATOR)
    client.logout()
    sign_in(client, admin)
    assert client.get(reverse("admin:index")).status_code == 200


def test_administrator_resets_a_lost_authenticator_in_admin_and_it_is_audited(client):
    admin = make_user(Role.ADMINISTRATOR)
    lead = make_user(Role.LOCAL_LEAD)
    authenticator = Authenticator.objects.get(user=lead, type=Authenticator.Type.TOTP)
    client.force_login(admin)
    url = reverse("admin:mfa_authenticator_delete", args=[authenticator.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    event = AuditEvent.objects.get(verb="mfa_removed")
    assert (event.actor, event.object_id) == (admin, str(lead.pk))
    # The lead must enrol again before reaching any page.
    client.force_login(lead)
    assert client.get(reverse("employers:list")).url == reverse("mfa_activate_totp")
