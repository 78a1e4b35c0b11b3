"""Sign-in rules on top of django-allauth: repeated failures slowed per email and address (never
a lock-out anyone could cause), one generic message for a wrong, unknown or throttled sign-in,
plain-English forms, no way to turn off MFA for the roles that need it, and API tokens refused
until MFA is set up."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import LoginForm, ResetPasswordForm, SignupForm
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.forms import ActivateTOTPForm
from django import forms
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from portal import audit, throttle
from portal.client_address import client_ip
from portal.models import User
from portal.roles import requires_mfa

WRONG_SIGN_IN_DETAILS = "Your email address or password is wrong. Check them and try again."


def credentials_email(credentials: dict) -> str:
    """The email a sign-in attempt named, as the throttle and the audit key it."""
    return (credentials.get("email") or credentials.get("username") or "").strip().lower()


def record_refused_sign_in(*, verb: str, email: str, request, **details) -> None:
    """Audit a refused sign-in against the account its email names, when there is one."""
    user = User.objects.filter(email__iexact=email).only("pk").first() if email else None
    audit.record(
        verb=verb,
        object_type="portal.user" if user else "",
        object_id=user.pk if user else "",
        details={"email": email[:254], "known_account": user is not None, **details},
        request=request,
    )


def mfa_required_for(user) -> bool:
    """True for users whose role (or admin access) requires an authenticator app."""
    return requires_mfa(user)


def must_enrol_mfa(user) -> bool:
    """True for a signed-in user whose role requires MFA and who has no authenticator app."""
    if not mfa_required_for(user):
        return False
    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "email_password_mismatch": WRONG_SIGN_IN_DETAILS,
        "too_many_login_attempts": (
            "There have been too many attempts to sign in from here. Wait a few minutes, "
            "then try again."
        ),
        "invalid_or_expired_key": "This link has expired or has already been used.",
        "incorrect_password": "The password is wrong. Check it and try again.",
        "enter_current_password": "Enter your current password.",
        "email_taken": "An account already uses this email address. Sign in instead.",
    }

    def pre_authenticate(self, request, **credentials):
        """Refuse, before the password is checked, an attempt from an address that must wait.

        The refusal reads exactly like a wrong password (same message, same status), for a
        known email and an unknown one alike, so it tells a guesser nothing.
        """
        super().pre_authenticate(request, **credentials)
        email = credentials_email(credentials)
        if not email or throttle.sign_in_may_proceed(email=email, request=request):
            return
        record_refused_sign_in(verb="sign_in_throttled", email=email, request=request)
        raise self.validation_error("email_password_mismatch")

    def get_client_ip(self, request) -> str:
        # allauth's per-address limits count the same address as ours; "unknown" (no hop is
        # an address) shares one limit instead of refusing every sign-in.
        return client_ip(request) or "unknown"

    def is_open_for_signup(self, request) -> bool:
        # Anyone may sign up as a care employer; other roles arrive by invitation.
        return True


class MFAAdapter(DefaultMFAAdapter):
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "incorrect_code": "The code is wrong or has expired. Enter the code your app shows now.",
        "cannot_delete_authenticator": (
            "Your role needs an authenticator app, so you cannot turn it off. To move to a new "
            "phone, ask an administrator to reset it."
        ),
        "unverified_email": "Confirm your email address before you set up an authenticator app.",
    }

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        if authenticator.type == Authenticator.Type.TOTP and mfa_required_for(authenticator.user):
            return False
        return super().can_delete_authenticator(authenticator)


def _relabel(form: forms.Form, labels: dict[str, tuple[str, str]]) -> None:
    """Plain-English labels and hints; NHS.UK style uses no placeholders."""
    for name, (label, hint) in labels.items():
        field = form.fields.get(name)
        if field is None:
            continue
        field.label = label
        if hint:
            field.help_text = hint
        field.widget.attrs.pop("placeholder", None)


class SignInForm(LoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(self, {"login": ("Email address", ""), "password": ("Password", "")})
        self.fields["password"].help_text = ""


class EmployerSignupForm(SignupForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(
            self,
            {
                "email": ("Email address", "Use your work email address."),
                "password1": ("Create a password", "Use at least 12 characters."),
                "password2": ("Type the password again", ""),
            },
        )


class PasswordResetRequestForm(ResetPasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(self, {"email": ("Email address", "The one you sign in with.")})


class TOTPActivateForm(ActivateTOTPForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(
            self,
            {"code": ("Security code", "The 6-digit code your authenticator app shows now.")},
        )
        self.fields["code"].widget.attrs.update(inputmode="numeric", spellcheck="false")


class TOTPAuthenticateForm(AuthenticateForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(
            self,
            {
                "code": (
                    "Security code",
                    "The 6-digit code from your authenticator app, or one of your recovery codes.",
                )
            },
        )
        self.fields["code"].widget.attrs.update(spellcheck="false")


class MFAEnrolledTokenAuthentication(TokenAuthentication):
    """API tokens of users who must have MFA work only once they have enrolled it."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if must_enrol_mfa(user):
            raise exceptions.PermissionDenied(
                "Set up multi-factor authentication before using the API."
            )
        return user, token
