"""Audit receivers for sign-in, sign-out, failed sign-in, MFA enrolment and role changes,
and the signal that lets a domain app apply a colleague invitation's scope."""

from allauth.mfa.signals import authenticator_added, authenticator_removed
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal, receiver

from portal import audit
from portal.models import User

# Sent inside the acceptance transaction with ``user`` and ``invitation``.
colleague_joined = Signal()


@receiver(user_logged_in)
def _audit_sign_in(sender, request, user, **kwargs):
    from portal.accounts import clear_failed_sign_ins

    clear_failed_sign_ins(user)
    audit.record(verb="signed_in", actor=user, target=user, request=request)


@receiver(user_logged_out)
def _audit_sign_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record(verb="signed_out", actor=user, target=user, request=request)


@receiver(user_login_failed)
def _audit_failed_sign_in(sender, credentials, request=None, **kwargs):
    from portal.accounts import note_failed_sign_in

    email = (credentials.get("email") or credentials.get("username") or "").strip().lower()
    user = User.objects.filter(email__iexact=email).first() if email else None
    locked = note_failed_sign_in(user) if user is not None else False
    audit.record(
        verb="sign_in_failed",
        actor=None,
        object_type="portal.user",
        object_id=user.pk if user else "",
        details={"email": email[:254], "known_account": user is not None, "locked": locked},
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


@receiver(authenticator_removed)
def _audit_mfa_removed(sender, request, user, authenticator, **kwargs):
    audit.record(
        verb="mfa_removed",
        actor=user,
        target=user,
        details={"type": authenticator.type},
        request=request,
    )


_ROLE_FIELDS = ("role", "local_authority_id", "region_code", "is_superuser", "is_staff")


@receiver(pre_save, sender=User)
def _remember_role(sender, instance, **kwargs):
    instance._previous_role = None
    if instance.pk:
        previous = User.objects.filter(pk=instance.pk).values(*_ROLE_FIELDS).first()
        instance._previous_role = previous


@receiver(post_save, sender=User)
def _audit_role_change(sender, instance, created, **kwargs):
    current = {field: getattr(instance, field) for field in _ROLE_FIELDS}
    previous = getattr(instance, "_previous_role", None)
    if created:
        if instance.role or instance.is_superuser:
            audit.record(
                verb="role_granted",
                target=instance,
                details={"to": _jsonable(current)},
            )
        return
    if previous is not None and previous != current:
        audit.record(
            verb="role_changed",
            target=instance,
            details={"from": _jsonable(previous), "to": _jsonable(current)},
        )


def _jsonable(values: dict) -> dict:
    return {
        key: value if isinstance(value, str | bool | int) or value is None else str(value)
        for key, value in values.items()
    }
