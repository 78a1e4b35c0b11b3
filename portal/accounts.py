"""Sign-in rules on top of django-allauth: per-account lock-out after repeated failures."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from portal.models import User

LOCKED_MESSAGE = (
    "This account is locked for {minutes} minutes because of too many failed sign-in "
    "attempts. Try again later, or reset your password."
)


def note_failed_sign_in(user: User) -> bool:
    """Count a failure; lock the account once the limit is reached. Returns True if locked."""
    User.objects.filter(pk=user.pk).update(failed_login_count=F("failed_login_count") + 1)
    user.refresh_from_db(fields=["failed_login_count", "locked_until"])
    if user.failed_login_count >= settings.LOGIN_FAILURE_LIMIT and not user.is_locked:
        user.locked_until = timezone.now() + settings.LOGIN_LOCKOUT
        User.objects.filter(pk=user.pk).update(locked_until=user.locked_until)
        return True
    return user.is_locked


def clear_failed_sign_ins(user: User) -> None:
    if user.failed_login_count or user.locked_until:
        User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
        user.failed_login_count = 0
        user.locked_until = None


def lockout_minutes() -> int:
    return int(settings.LOGIN_LOCKOUT.total_seconds() // 60)


class AccountAdapter(DefaultAccountAdapter):
    def pre_authenticate(self, request, **credentials):
        super().pre_authenticate(request, **credentials)
        email = (credentials.get("email") or credentials.get("username") or "").strip()
        if not email:
            return
        user = User.objects.filter(email__iexact=email).only("locked_until").first()
        if user is not None and user.is_locked:
            raise forms.ValidationError(LOCKED_MESSAGE.format(minutes=lockout_minutes()))

    def is_open_for_signup(self, request) -> bool:
        # Anyone may sign up as a care employer; other roles arrive by invitation.
        return True
