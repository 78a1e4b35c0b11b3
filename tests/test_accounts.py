"""Signing in and out through allauth's pages: the generic wrong-details message, the
throttle on repeated failures (which no stranger can turn into a lock-out), the pages' NHS.UK
markup, and the page for a user with no role."""

import re
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse

from portal import throttle
from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import PASSWORD, EmployerFactory, UserFactory, make_user
from tests.sign_in import sign_in

pytestmark = pytest.mark.django_db

WRONG = "Your email address or password is wrong"


WRONG_PASSWORD = "not the password"


OWNER_ADDRESS, GUESSER_ADDRESS = "198.51.100.10", "203.0.113.66"


def attempt(client, email, password=WRONG_PASSWORD, address="127.0.0.1"):
    return client.post(
        reverse("account_login"), {"login": email, "password": password}, REMOTE_ADDR=address
    )


def fail_many_times(email, *, address, times):
    """Failures counted as the sign-in page counts them, without a request (and a wait) each."""
    request = RequestFactory().post("/", REMOTE_ADDR=address)
    for _ in range(times):
        throttle.note_sign_in_failure(email=email, request=request)


def answer(response, email) -> tuple[int, str]:
    """What a person sees: status and page, without the email they typed or the CSRF token."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
    return response.status_code, html.replace(email, "EMAIL")


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
    assert event.details["failures_from_address"] == 1


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
        "failures_from_address": 1,
    }


def test_repeated_failures_from_one_address_are_throttled(client, settings):
    settings.LOGIN_THROTTLE_MAX = timedelta(seconds=2)
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert WRONG in attempt(client, user.email, address=GUESSER_ADDRESS).content.decode()
    assert not AuditEvent.objects.filter(verb="sign_in_throttled").exists()
    # More failures: this address now waits the longest wait (2 seconds here) between tries.
    fail_many_times(user.email, address=GUESSER_ADDRESS, times=3)

    # Inside the wait even the right password is not checked, and the answer does not say so.
    right = attempt(client, user.email, PASSWORD, address=GUESSER_ADDRESS)
    assert right.status_code == 200
    assert WRONG in right.content.decode()
    assert "_auth_user_id" not in client.session
    refused = AuditEvent.objects.get(verb="sign_in_throttled")
    assert (refused.object_id, refused.ip_address) == (str(user.pk), GUESSER_ADDRESS)
    assert AuditEvent.objects.filter(verb="sign_in_failed").count() == 5

    time.sleep(2.1)
    assert attempt(client, user.email, PASSWORD, address=GUESSER_ADDRESS).status_code == 302


@pytest.mark.parametrize(
    ("failures", "account_failures", "wait"),
    [(4, 0, 0), (5, 0, 1), (6, 0, 2), (9, 0, 16), (30, 0, 900), (0, 100, 0), (1, 100, 900)],
)
def test_the_wait_doubles_up_to_the_longest(failures, account_failures, wait):
    assert throttle.sign_in_wait(failures=failures, account_failures=account_failures) == wait


def test_a_strangers_wrong_passwords_do_not_stop_the_owner(client, settings):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    for _ in range(settings.LOGIN_FAILURE_LIMIT + 5):
        attempt(client, user.email, address=GUESSER_ADDRESS)
    response = attempt(client, user.email, PASSWORD, address=OWNER_ADDRESS)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_many_guessing_addresses_slow_each_other_but_not_the_owner(client, settings):
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 3
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    for n in range(3):
        attempt(client, user.email, address=f"203.0.113.{n}")
    # Each guessing address had a single failure, far below LOGIN_FAILURE_LIMIT, yet now waits.
    again = attempt(client, user.email, PASSWORD, address="203.0.113.0")
    assert WRONG in again.content.decode()
    assert AuditEvent.objects.filter(verb="sign_in_throttled").count() == 1
    assert attempt(client, user.email, PASSWORD, address=OWNER_ADDRESS).status_code == 302


def test_throttled_unknown_and_wrong_password_answers_are_identical(client):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory(), email="known@example.org")
    wrong = answer(attempt(client, user.email), user.email)
    unknown = answer(attempt(client, "nobody@example.org"), "nobody@example.org")
    for email in (user.email, "nobody@example.org"):
        fail_many_times(email, address=GUESSER_ADDRESS, times=20)
    throttled = answer(attempt(client, user.email, PASSWORD, address=GUESSER_ADDRESS), user.email)
    throttled_unknown = answer(
        attempt(client, "nobody@example.org", address=GUESSER_ADDRESS), "nobody@example.org"
    )
    assert AuditEvent.objects.filter(verb="sign_in_throttled").count() == 2
    assert wrong[0] == 200
    assert WRONG in wrong[1]
    assert wrong == unknown == throttled == throttled_unknown
    assert "locked" not in wrong[1]


def test_a_success_clears_the_addresss_failures(client, settings):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    fail_many_times(user.email, address="127.0.0.1", times=settings.LOGIN_FAILURE_LIMIT - 1)
    assert sign_in(client, user).status_code == 302
    assert AuditEvent.objects.filter(verb="signed_in", actor=user).exists()
    client.logout()
    attempt(client, user.email)
    assert AuditEvent.objects.get(verb="sign_in_failed").details["failures_from_address"] == 1


def test_password_reset_lets_a_throttled_address_in(client, django_capture_on_commit_callbacks):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    fail_many_times(user.email, address="127.0.0.1", times=20)
    assert attempt(client, user.email, address="127.0.0.1").status_code == 200
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
    assert AuditEvent.objects.get(verb="password_reset").details == {"failures_cleared": True}
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
