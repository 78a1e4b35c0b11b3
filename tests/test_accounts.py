"""Signing in and out through allauth's pages: the generic wrong-details message, lock-out
after repeated failures, the pages' NHS.UK markup, and the page for a user with no role."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from portal.models import AuditEvent, User
from portal.roles import Role
from tests.factories import PASSWORD, EmployerFactory, UserFactory, make_user
from tests.sign_in import sign_in

pytestmark = pytest.mark.django_db

WRONG = "Your email address or password is wrong"


WRONG_PASSWORD = "not the password"


def attempt(client, email, password=WRONG_PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_sign_in_page_has_labels_and_no_placeholders(client):
    html = client.get(reverse("account_login")).content.decode()
    assert '<label class="nhsuk-label" for="id_login">Email address</label>' in html
    assert '<label class="nhsuk-label" for="id_password">Password</label>' in html
    assert "placeholder" not in html
    assert "<h1>Sign in</h1>" in html
    assert reverse("account_reset_password") in html


def test_wrong_password_shows_error_summary_and_is_audited(client):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    response = attempt(client, user.email)
    html = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in html
    assert WRONG in html
    assert "<title>Error: Sign in" in html
    event = AuditEvent.objects.get(verb="sign_in_failed")
    assert event.object_id == str(user.pk)
    assert event.details["known_account"] is True
    user.refresh_from_db()
    assert user.failed_login_count == 1


def test_unknown_email_gets_the_same_message_and_is_audited(client):
    make_user(Role.EMPLOYER, employer=EmployerFactory(), email="known@example.org")
    known = attempt(client, "known@example.org").content.decode()
    unknown = attempt(client, "nobody@example.org").content.decode()
    assert WRONG in unknown
    assert known.count(WRONG) == unknown.count(WRONG)
    event = AuditEvent.objects.filter(verb="sign_in_failed").first()
    assert event.details == {
        "email": "nobody@example.org",
        "known_account": False,
        "failed_count": None,
    }


def test_five_failures_lock_the_account_even_for_the_right_password(client, settings):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        assert WRONG in attempt(client, user.email).content.decode()
    assert not AuditEvent.objects.filter(verb="account_locked").exists()

    fifth = attempt(client, user.email)
    user.refresh_from_db()
    assert user.is_locked
    assert user.locked_until - timezone.now() > timedelta(minutes=14)
    lock = AuditEvent.objects.get(verb="account_locked")
    assert lock.object_id == str(user.pk)
    assert lock.details["failed_count"] == 5
    assert fifth.status_code == 200

    right = attempt(client, user.email, PASSWORD)
    html = right.content.decode()
    assert right.status_code == 200
    assert "This account is locked for 15 minutes" in html
    assert "Try again after" in html
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(verb="sign_in_refused_locked").exists()


def test_lock_expires_and_a_success_resets_the_count(client):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    User.objects.filter(pk=user.pk).update(
        failed_login_count=5, locked_until=timezone.now() - timedelta(seconds=1)
    )
    # One more failure after the lock ran out starts a fresh count, not a fresh lock.
    attempt(client, user.email)
    user.refresh_from_db()
    assert (user.failed_login_count, user.locked_until) == (1, None)

    response = sign_in(client, user)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.failed_login_count == 0
    assert AuditEvent.objects.filter(verb="signed_in", actor=user).exists()


def test_password_reset_lifts_a_lock(client, django_capture_on_commit_callbacks):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    User.objects.filter(pk=user.pk).update(
        failed_login_count=5, locked_until=timezone.now() + timedelta(minutes=15)
    )
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password/reset/key/" in line)
    path = link[link.index("/accounts/") :].strip()
    form_page = client.get(path, follow=True)
    assert "Create a new password" in form_page.content.decode()
    new_password = "a brand new long passphrase"
    done = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else path,
        {"password1": new_password, "password2": new_password},
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert not user.is_locked
    assert user.failed_login_count == 0
    assert AuditEvent.objects.get(verb="password_reset").details == {"unlocked": True}
    assert sign_in(client, user, password=new_password).status_code == 302


def test_sign_out_asks_then_signs_out_and_is_audited(client):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    client.force_login(user)
    page = client.get(reverse("account_logout"))
    assert "<h1>Do you want to sign out?</h1>" in page.content.decode()
    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(verb="signed_out", actor=user).exists()


def test_signup_sends_a_verification_email(client):
    page = client.get(reverse("account_signup")).content.decode()
    assert "<h1>Create an account</h1>" in page
    assert '<label class="nhsuk-label" for="id_email">Email address</label>' in page
    response = client.post(
        reverse("account_signup"),
        {"email": "new.employer@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert "Check your email" in client.get(response.url).content.decode()
    assert mail.outbox and mail.outbox[0].to == ["new.employer@example.org"]


def test_signup_errors_use_the_nhs_error_summary(client):
    response = client.post(
        reverse("account_signup"), {"email": "not-an-email", "password1": "a", "password2": "b"}
    )
    html = response.content.decode()
    assert "There is a problem" in html
    assert 'href="#id_email"' in html
    assert "nhsuk-form-group--error" in html


@pytest.mark.parametrize(
    "url_name",
    ["account_login", "account_signup", "account_reset_password", "account_reset_password_done"],
)
def test_account_pages_use_the_nhs_layout(client, url_name):
    html = client.get(reverse(url_name)).content.decode()
    assert "nhsuk-header" in html
    assert html.count("<h1") == 1
    assert 'style="' not in html


def test_password_change_page(client):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    client.force_login(user)
    html = client.get(reverse("account_change_password")).content.decode()
    assert "<h1>Change your password</h1>" in html
    assert 'for="id_oldpassword"' in html


def test_user_with_no_role_sees_how_to_get_access(client):
    user = UserFactory()
    client.force_login(user)
    response = client.get(reverse("home"))
    html = response.content.decode()
    assert response.status_code == 403
    assert "You do not have access yet" in html
    assert "ask a colleague who uses it to invite you" in html


def test_no_role_page_links_to_employer_registration(client, monkeypatch):
    from portal import views

    client.force_login(UserFactory())
    html = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("employers:register")}"' in html
    # Without the employers app's registration page, the rest of the page still stands.
    monkeypatch.setattr(views, "_url_or_none", lambda name: None)
    html = client.get(reverse("home")).content.decode()
    assert "register your organisation" not in html
    assert "ask a colleague who uses it to invite you" in html
