"""Colleague invitations: a signed, expiring, single-use link into the inviter's own scope,
with a clear page (and an audit event) for every link that cannot be used."""

import re
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from employers.models import EmployerMembership
from portal import invitations
from portal.models import AuditEvent, ColleagueInvitation, User
from portal.roles import Role
from tests.factories import PASSWORD, EmployerFactory, make_user
from tests.sign_in import sign_in

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a long and unusual passphrase"


def invite(client, inviter, django_capture_on_commit_callbacks, **data):
    client.force_login(inviter)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("invite_colleague"), data)
    client.logout()
    return response


def link_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/colleagues/join/\S+/)", message.body).group(1)


def create_account(client, path, full_name="Sam Colleague"):
    return client.post(
        path, {"full_name": full_name, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )


def test_lead_invites_a_colleague_who_joins_their_authority_and_must_enrol_mfa(
    client, django_capture_on_commit_callbacks
):
    lead = make_user(Role.LOCAL_LEAD)
    response = invite(client, lead, django_capture_on_commit_callbacks, email="Sam@Example.org")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["sam@example.org"]
    assert AuditEvent.objects.filter(verb="colleague_invited", actor=lead).exists()

    path = link_path(mail.outbox[0])
    page = client.get(path)
    assert page.status_code == 200
    assert "Create your account" in page.content.decode()
    assert create_account(client, path).status_code == 302

    colleague = User.objects.get(email="sam@example.org")
    assert colleague.role == Role.LOCAL_LEAD
    assert colleague.local_authority == lead.local_authority
    assert colleague.check_password(NEW_PASSWORD)
    assert client.session["_auth_user_id"] == str(colleague.pk)
    grant = AuditEvent.objects.get(verb="role_granted", object_id=str(colleague.pk))
    assert grant.actor == lead
    assert AuditEvent.objects.filter(verb="colleague_invitation_accepted").exists()
    # A lead must set up an authenticator app before anything else.
    assert client.get(reverse("employers:list")).url == reverse("mfa_activate_totp")


def test_employer_user_invites_into_one_of_their_employers(
    client, django_capture_on_commit_callbacks
):
    mine, also_mine, theirs = EmployerFactory(), EmployerFactory(), EmployerFactory()
    inviter = make_user(Role.EMPLOYER, employer=mine)
    EmployerMembership.objects.create(user=inviter, employer=also_mine)
    client.force_login(inviter)
    form = client.get(reverse("invite_colleague")).content.decode()
    assert mine.name in form and also_mine.name in form
    assert theirs.name not in form
    client.logout()

    invite(
        client,
        inviter,
        django_capture_on_commit_callbacks,
        email="new@example.org",
        employer=also_mine.pk,
    )
    create_account(client, link_path(mail.outbox[0]))
    colleague = User.objects.get(email="new@example.org")
    assert colleague.role == Role.EMPLOYER
    assert colleague.local_authority is None
    assert list(colleague.employer_memberships.values_list("employer", flat=True)) == [also_mine.pk]
    # An employer user has no MFA requirement: straight to their organisations.
    assert client.get(reverse("employers:list")).status_code == 200


def test_a_forged_employer_id_is_refused(client, django_capture_on_commit_callbacks):
    mine, theirs = EmployerFactory(), EmployerFactory()
    inviter = make_user(Role.EMPLOYER, employer=mine)
    response = invite(
        client,
        inviter,
        django_capture_on_commit_callbacks,
        email="x@example.org",
        employer=theirs.pk,
    )
    assert response.status_code == 200
    assert "Select one of your organisations." in response.content.decode()
    assert not ColleagueInvitation.objects.exists()
    assert not mail.outbox
    # The service checks the scope itself, whatever a caller's form offered.
    with pytest.raises(invitations.InvitationError, match="organisations you act for"):
        invitations.invite_colleague(inviter=inviter, email="x@example.org", employer_id=theirs.pk)


def test_other_roles_cannot_invite(client):
    staff = make_user(Role.SITE_STAFF)
    client.force_login(staff)
    assert client.get(reverse("invite_colleague")).status_code == 403
    with pytest.raises(invitations.InvitationError):
        invitations.invite_colleague(inviter=staff, email="x@example.org")


def test_a_used_link_cannot_be_used_again(client, django_capture_on_commit_callbacks):
    lead = make_user(Role.LOCAL_LEAD)
    invite(client, lead, django_capture_on_commit_callbacks, email="once@example.org")
    path = link_path(mail.outbox[0])
    create_account(client, path)
    client.logout()

    again = client.get(path)
    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    refused = AuditEvent.objects.get(verb="colleague_invitation_refused")
    assert refused.details == {"reason": "used"}
    assert User.objects.filter(email="once@example.org").count() == 1


def test_an_expired_link_gets_a_clear_page(client):
    lead = make_user(Role.LOCAL_LEAD)
    invitation, token = invitations.invite_colleague(inviter=lead, email="late@example.org")
    ColleagueInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    path = reverse("colleague_invitation", args=[token])
    response = client.get(path)
    assert response.status_code == 410
    assert "has expired" in response.content.decode()
    assert create_account(client, path).status_code == 410
    assert not User.objects.filter(email="late@example.org").exists()
    assert AuditEvent.objects.filter(
        verb="colleague_invitation_refused", object_id=str(invitation.pk)
    ).exists()


def test_a_link_older_than_seven_days_expires_by_its_signature(client, settings):
    lead = make_user(Role.LOCAL_LEAD)
    invitation, _ = invitations.invite_colleague(inviter=lead, email="old@example.org")
    # A token signed eight days ago: the signature itself carries the age.
    eight_days_ago = signing.TimestampSigner(salt=invitations.SALT)
    eight_days_ago.timestamp = lambda: signing.b62_encode(
        int((timezone.now() - timedelta(days=8)).timestamp())
    )
    old_token = eight_days_ago.sign_object({"i": invitation.pk, "s": "x"}, compress=True)
    response = client.get(reverse("colleague_invitation", args=[old_token]))
    assert response.status_code == 410
    assert "has expired" in response.content.decode()


def test_a_tampered_link_is_refused(client):
    lead = make_user(Role.LOCAL_LEAD)
    _, token = invitations.invite_colleague(inviter=lead, email="t@example.org")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = client.get(reverse("colleague_invitation", args=[tampered]))
    assert response.status_code == 410
    assert "not valid" in response.content.decode()
    assert AuditEvent.objects.get(verb="colleague_invitation_refused").details == {
        "reason": "invalid"
    }
    # A well-signed token for an invitation with another secret is refused too.
    forged = signing.dumps({"i": ColleagueInvitation.objects.get().pk, "s": "guess"}, salt="x")
    assert client.get(reverse("colleague_invitation", args=[forged])).status_code == 410


def test_someone_who_already_has_an_account_is_told_to_sign_in(
    client, django_capture_on_commit_callbacks
):
    employer = EmployerFactory()
    inviter = make_user(Role.EMPLOYER, employer=employer)
    existing = make_user(Role.EMPLOYER, employer=EmployerFactory(), email="has@example.org")
    invite(
        client,
        inviter,
        django_capture_on_commit_callbacks,
        email="has@example.org",
        employer=employer.pk,
    )
    path = link_path(mail.outbox[0])
    page = client.get(path)
    html = page.content.decode()
    assert page.status_code == 200
    assert "You already have an account" in html
    assert "next=" in html
    # Creating a second account is refused even if the form is posted anyway.
    assert create_account(client, path).status_code == 200
    assert User.objects.filter(email="has@example.org").count() == 1

    sign_in(client, existing, password=PASSWORD)
    assert "Accept the invitation" in client.get(path).content.decode()
    assert client.post(path).status_code == 302
    assert EmployerMembership.objects.filter(user=existing, employer=employer).exists()


def test_signed_in_as_someone_else(client, django_capture_on_commit_callbacks):
    lead = make_user(Role.LOCAL_LEAD)
    invite(client, lead, django_capture_on_commit_callbacks, email="right@example.org")
    other = make_user(Role.EMPLOYER, employer=EmployerFactory())
    client.force_login(other)
    response = client.post(link_path(mail.outbox[0]))
    assert response.status_code == 409
    assert "different email address" in response.content.decode()
    assert not ColleagueInvitation.objects.get().accepted_at


def test_signup_form_errors_are_shown(client):
    lead = make_user(Role.LOCAL_LEAD)
    _, token = invitations.invite_colleague(inviter=lead, email="weak@example.org")
    response = client.post(
        reverse("colleague_invitation", args=[token]),
        {"full_name": "", "password1": "short", "password2": "other"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in html
    assert "Enter your full name." in html
    assert "The passwords do not match" in html
    assert not User.objects.filter(email="weak@example.org").exists()
