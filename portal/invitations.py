"""Colleague invitations: signed, expiring, single-use links that bring a colleague into the
inviter's own scope (a local lead's authority, an employer user's employer)."""

from __future__ import annotations

import hashlib
import secrets

from allauth.account.models import EmailAddress
from django.apps import apps
from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal import audit
from portal.models import ColleagueInvitation, User
from portal.roles import is_employer_user, is_local_lead, may_take_role
from portal.signals import colleague_joined

SALT = "carevax.colleague-invitation"

MESSAGES = {
    "expired": "This invitation link has expired. Ask your colleague to send you a new one.",
    "invalid": (
        "This invitation link is not valid. Check you copied the whole link from the email."
    ),
    "used": ("This invitation link has already been used. Sign in with the account you created."),
    "account_exists": (
        "You already have an account. Sign in, then open the invitation link again."
    ),
    "wrong_account": "This invitation is for a different email address.",
    "other_role": ("Your account already has a different role. Ask an administrator to change it."),
    "other_authority": "A local lead can belong to one local authority only.",
    "not_allowed": "Only local leads and employer users can invite colleagues.",
    "employer_out_of_scope": "You can only invite colleagues into organisations you act for.",
}


class InvitationError(Exception):
    """The link cannot be used; ``str(error)`` says why in plain English."""

    def __init__(self, reason: str, *, invitation: ColleagueInvitation | None = None):
        super().__init__(MESSAGES[reason])
        self.reason = reason
        self.invitation = invitation


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def invitation_url(token: str) -> str:
    return settings.SITE_URL + reverse("colleague_invitation", kwargs={"token": token})


def invitable_employers(inviter: User) -> list[tuple[int, str]]:
    """The employers an employer user may invite colleagues into: those they act for.

    Looked up through the app registry so that portal imports no domain app.
    """
    employer_model = apps.get_model("employers", "Employer")
    return list(
        employer_model.objects.visible_to(inviter).order_by("name").values_list("pk", "name")
    )


@transaction.atomic
def invite_colleague(
    *, inviter: User, email: str, employer_id: int | None = None, request=None
) -> tuple[ColleagueInvitation, str]:
    """Invite ``email`` into the inviter's own role and scope; returns the invitation and token.

    Local leads invite into their authority; employer users into one of their own employers,
    checked here against the inviter's scope whatever the form offered.
    """
    grant: dict = {}
    if is_employer_user(inviter):
        allowed = {pk for pk, _name in invitable_employers(inviter)}
        if employer_id not in allowed:
            raise InvitationError("employer_out_of_scope")
        grant = {"employer_id": employer_id}
    elif not is_local_lead(inviter):
        raise InvitationError("not_allowed")
    secret = secrets.token_urlsafe(32)
    invitation = ColleagueInvitation.objects.create(
        email=email.strip().lower(),
        role=inviter.role,
        local_authority=inviter.local_authority if is_local_lead(inviter) else None,
        grant=grant,
        invited_by=inviter,
        token_hash=_hash(secret),
        expires_at=timezone.now() + settings.COLLEAGUE_INVITATION_MAX_AGE,
    )
    token = signing.dumps({"i": invitation.pk, "s": secret}, salt=SALT, compress=True)
    audit.record(
        verb="colleague_invited",
        actor=inviter,
        target=invitation,
        details={"email": invitation.email, "role": invitation.role, "grant": grant},
        request=request,
    )
    context = {"invitation": invitation, "url": invitation_url(token), "inviter": inviter}
    message = render_to_string("emails/colleague_invitation.txt", context)
    transaction.on_commit(
        lambda: send_mail(
            subject="You have been invited to use Carevax",
            message=message,
            from_email=None,
            recipient_list=[invitation.email],
        )
    )
    return invitation, token


def invitation_from_token(token: str) -> ColleagueInvitation:
    """The invitation a link stands for, or InvitationError saying why it cannot be used."""
    max_age = settings.COLLEAGUE_INVITATION_MAX_AGE.total_seconds()
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise InvitationError("expired") from exc
    except signing.BadSignature as exc:
        raise InvitationError("invalid") from exc
    invitation = ColleagueInvitation.objects.filter(pk=payload.get("i")).first()
    if invitation is None or not secrets.compare_digest(
        invitation.token_hash, _hash(str(payload.get("s", "")))
    ):
        raise InvitationError("invalid")
    if invitation.accepted_at is not None:
        raise InvitationError("used", invitation=invitation)
    if invitation.is_expired:
        raise InvitationError("expired", invitation=invitation)
    return invitation


def has_account(invitation: ColleagueInvitation) -> bool:
    return User.objects.filter(email__iexact=invitation.email).exists()


def record_refusal(error: InvitationError, *, request=None) -> None:
    """Audit a link that could not be used (expired, reused, tampered with, wrong account)."""
    invitation = error.invitation
    audit.record(
        verb="colleague_invitation_refused",
        object_type="portal.colleagueinvitation",
        object_id=invitation.pk if invitation else "",
        details={"reason": error.reason},
        request=request,
    )


def _check_existing_account(user: User, invitation: ColleagueInvitation) -> None:
    if user.email.lower() != invitation.email:
        raise InvitationError("wrong_account", invitation=invitation)
    if not may_take_role(user, invitation.role):
        raise InvitationError("other_role", invitation=invitation)
    if is_local_lead(user) and user.local_authority_id != invitation.local_authority_id:
        raise InvitationError("other_authority", invitation=invitation)


@transaction.atomic
def accept_invitation(
    *, token: str, full_name: str = "", password: str = "", user: User | None = None, request=None
) -> User:
    """Use an invitation once: create the account (or extend a signed-in one) with its scope."""
    invitation = invitation_from_token(token)
    invitation = ColleagueInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise InvitationError("used", invitation=invitation)
    # The role is granted on the inviter's word: the audit trail names them as its actor.
    with audit.acting_as(invitation.invited_by):
        if user is None:
            if has_account(invitation):
                raise InvitationError("account_exists", invitation=invitation)
            user = User.objects.create_user(
                email=invitation.email,
                password=password,
                full_name=full_name,
                role=invitation.role,
                local_authority=invitation.local_authority,
            )
            # The link reached this address, which proves the person controls it.
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        else:
            _check_existing_account(user, invitation)
            user.role = invitation.role
            if invitation.local_authority_id:
                user.local_authority = invitation.local_authority
            user.save()
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    colleague_joined.send(sender=ColleagueInvitation, user=user, invitation=invitation)
    audit.record(
        verb="colleague_invitation_accepted",
        actor=user,
        target=invitation,
        details={"role": invitation.role, "grant": invitation.grant},
        request=request,
    )
    return user
