"""Audit receivers for sign-in, sign-out, failed sign-in (counted by the sign-in throttle),
password reset, MFA enrolment and removal, and role changes, and the signal that lets a
domain app apply a colleague invitation's scope."""

from allauth.account.signals import password_reset
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authentication_failed, authenticator_added
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import Signal, receiver

from portal import audit, throttle
from portal.models import User

# Sent inside the acceptance transaction with ``user`` and ``invitation``.
colleague_joined = Signal()


@receiver(user_logged_in)
def _audit_sign_in(sender, request, user, **kwargs):
    throttle.clear_sign_in_failures(email=user.email, request=request)
    audit.record(verb="signed_in", actor=user, target=user, request=request)


@receiver(user_logged_out)
def _audit_sign_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record(verb="signed_out", actor=user, target=user, request=request)


@receiver(user_login_failed)
def _audit_failed_sign_in(sender, credentials, request=None, **kwargs):
    from portal.accounts import credentials_email, record_refused_sign_in

    email = credentials_email(credentials)
    failures = throttle.note_sign_in_failure(email=email, request=request) if email else None
    record_refused_sign_in(
        verb="sign_in_failed",
        email=email,
        request=request,
        failures_from_address=failures,
    )


@receiver(password_reset)
def _clear_failures_after_password_reset(sender, request, user, **kwargs):
    """Proving control of the mailbox by resetting the password lets this address try again
    at once."""
    cleared = throttle.clear_sign_in_failures(email=user.email, request=request)
    audit.record(
        verb="password_reset",
        actor=user,
        target=user,
        details={"failures_cleared": cleared},
        request=request,
    )


@receiver(authentication_failed, sender=Authenticator)
def _audit_mfa_code_failed(sender, request, user, authenticator, reauthentication, **kwargs):
    audit.record(
        verb="mfa_code_failed",
        target=user,
        details={"type": authenticator.type, "reauthentication": reauthentication},
        request=request,
    )


@receiver(authenticator_added)
def _audit_mfa_enrolled(sender, request, user, authenticator, **kwargs):
    audit.record(
        verb="mfa_enrolled",
        actor=user,
        target=user,
        details={"type": authenticator.type},
        request=request,
    )


@receiver(post_delete, sender=Authenticator)
def _audit_mfa_removed(sender, instance, **kwargs):
    """Any removal counts, by the user or by an administrator resetting a lost phone in admin;
    the actor and address come from the request being served."""
    audit.record(
        verb="mfa_removed",
        object_type="portal.user",
        object_id=instance.user_id,
        details={"type": instance.type},
    )


_ROLE_FIELDS = (
    "role",
    "local_authority_id",
    "region_code",
    "is_superuser",
    "is_staff",
    "is_active",
)
_ROLE_UPDATE_FIELDS = frozenset(_ROLE_FIELDS) | {"local_authority"}


@receiver(pre_save, sender=User)
def _remember_role(sender, instance, update_fields=None, **kwargs):
    instance._previous_role = None
    # Saves of other fields (last_login on every sign-in) skip the extra read.
    if update_fields is not None and not _ROLE_UPDATE_FIELDS & set(update_fields):
        return
    if instance.pk:
        instance._previous_role = User.objects.filter(pk=instance.pk).values(*_ROLE_FIELDS).first()


@receiver(post_save, sender=User)
def _audit_role_change(sender, instance, created, **kwargs):
    """Record every grant or change of role and scope; the actor comes from the request (or
    ``audit.acting_as``) because a model signal has no other way to know it."""
    current = {field: getattr(instance, field) for field in _ROLE_FIELDS}
    if created:
        if instance.role or instance.is_superuser or instance.is_staff:
            audit.record(verb="role_granted", target=instance, details={"to": _jsonable(current)})
        return
    previous = getattr(instance, "_previous_role", None)
    if previous is not None and previous != current:
        changed = sorted(key for key in current if current[key] != previous[key])
        audit.record(
            verb="role_changed",
            target=instance,
            details={
                "changed": changed,
                "from": _jsonable({key: previous[key] for key in changed}),
                "to": _jsonable({key: current[key] for key in changed}),
            },
        )


def _jsonable(values: dict) -> dict:
    return {
        key: value if isinstance(value, str | bool | int) or value is None else str(value)
        for key, value in values.items()
    }
