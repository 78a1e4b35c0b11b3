"""Signing in through the real allauth pages, as a person would (password, then code)."""

from django.urls import reverse

from tests.factories import PASSWORD, totp_code


def sign_in(client, user, *, password: str = PASSWORD, with_code: bool = True):
    """POST the sign-in form, and the security code when the user has an authenticator app."""
    response = client.post(reverse("account_login"), {"login": user.email, "password": password})
    if with_code and response.status_code == 302 and response.url == reverse("mfa_authenticate"):
        response = client.post(reverse("mfa_authenticate"), {"code": totp_code(user)})
    return response


def confirm_password(client, response, *, password: str = PASSWORD):
    """Answer allauth's "confirm your password" step if ``response`` led to it."""
    if response.status_code == 302 and response.url.startswith(reverse("account_reauthenticate")):
        response = client.post(response.url, {"password": password})
    return response
