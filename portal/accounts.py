"""Sign-in rules on top of django-allauth: per-account lock-out after repeated failures, one
generic message for a wrong email or password, plain-English forms, no way to turn off MFA
for the roles that need it, and API tokens refused until MFA is set up."""

from __future__ import annotations

from datetime import datetime

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import LoginForm, ResetPasswordForm, SignupForm
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.forms import ActivateTOTPForm
from django import forms
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from portal import audit
from portal.client_address import client_ip
from portal.models import User

WRONG_SIGN_IN_DETAILS = "Your email address or password is wrong. Check them and try again."


def lockout_minutes() -> int:
    return int(settings.LOGIN_LOCKOUT.total_seconds() // 60)


def locked_message(locked_until: datetime) -> str:
    remaining = max(1, -(-int((locked_until - timezone.now()).total_seconds()) // 60))
    local_time = timezone.localtime(locked_until)
    return (
        f"This account is locked for {lockout_minutes()} minutes after "
        f"{settings.LOGIN_FAILURE_LIMIT} failed attempts to sign in. "
        f"Try again after {local_time:%H:%M} (in {remaining} "
        f"minute{'s' if remaining != 1 else ''}), or reset your password."
    )


def note_failed_sign_in(user: User) -> bool:
    """Count one failed sign-in; lock the account when the limit is reached.

    Returns True when this failure locked the account. The row is locked while counting so
    parallel attempts cannot slip past the limit; an expired lock starts a fresh count.
    """
    with transaction.atomic():
        row = (
            User.objects.select_for_update()
            .only("failed_login_count", "locked_until")
            .get(pk=user.pk)
        )
        now = timezone.now()
        count = row.failed_login_count
        if row.locked_until is not None and row.locked_until <= now:
            count = 0
        count += 1
        locked_until = None
        if count >= settings.LOGIN_FAILURE_LIMIT:
            locked_until = now + settings.LOGIN_LOCKOUT
        # update() rather than save(): no role-change signal work for a counter.
        User.objects.filter(pk=user.pk).update(failed_login_count=count, locked_until=locked_until)
    user.failed_login_count, user.locked_until = count, locked_until
    return locked_until is not None


def clear_failed_sign_ins(user: User) -> None:
    if user.failed_login_count or user.locked_until:
        User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
        user.failed_login_count = 0
        user.locked_until = None


def mfa_required_for(user) -> bool:
    """True for users whose role (or admin access) requires an authenticator app."""
    return bool(
        user.is_authenticated
        and (user.role in settings.MFA_REQUIRED_ROLES or user.is_superuser or user.is_staff)
    )


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
        super().pre_authenticate(request, **credentials)
        email = (credentials.get("email") or credentials.get("username") or "").strip()
        if not email:
            return
        user = User.objects.filter(email__iexact=email).only("locked_until").first()
        if user is not None and user.is_locked:
            audit.record(
                verb="sign_in_refused_locked",
                target=user,
                details={"locked_until": user.locked_until.isoformat()},
                request=request,
            )
            raise forms.ValidationError(locked_message(user.locked_until))

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
