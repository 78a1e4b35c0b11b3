"""Colleague invitations: signed, expiring, single-use links that bring a colleague into the
inviter's own scope (a local lead's authority, an employer user's employer)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal import audit
from portal.models import ColleagueInvitation, User
from portal.roles import Role
from portal.signals import colleague_joined

SALT = "carevax.colleague-invitation"


class InvitationError(Exception):
    """The link cannot be used; the message says why in plain English."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def invitation_url(token: str) -> str:
    return settings.SITE_URL + reverse("colleague_invitation", kwargs={"token": token})


@transaction.atomic
def invite_colleague(
    *, inviter: User, email: str, grant: dict | None = None, request=None
) -> tuple[ColleagueInvitation, str]:
    """Invite ``email`` into the inviter's own role and scope; returns the invitation and token.

    Local leads invite into their authority; employer users into one of their employers
    (``grant={"employer_id": ...}``, checked by the caller against the inviter's scope).
    """
    if inviter.role not in (Role.LOCAL_LEAD, Role.EMPLOYER):
        raise InvitationError("Only local leads and employer users can invite colleagues.")
    secret = secrets.token_urlsafe(32)
    invitation = ColleagueInvitation.objects.create(
        email=email.strip().lower(),
        role=inviter.role,
        local_authority=inviter.local_authority if inviter.role == Role.LOCAL_LEAD else None,
        grant=grant or {},
        invited_by=inviter,
        token_hash=_hash(secret),
        expires_at=timezone.now() + settings.COLLEAGUE_INVITATION_MAX_AGE,
    )
    token = signing.dumps({"i": invitation.pk, "s": secret}, salt=SALT, compress=True)
    audit.record(
        verb="colleague_invited",
        actor=inviter,
        target=invitation,
        details={"email": invitation.email, "role": invitation.role, "grant": invitation.grant},
        request=request,
    )
    url = invitation_url(token)
    context = {"invitation": invitation, "url": url, "inviter": inviter}
    transaction.on_commit(
        lambda: send_mail(
            subject="You have been invited to use Carevax",
            message=render_to_string("emails/colleague_invitation.txt", context),
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
        raise InvitationError(
            "This invitation link has expired. Ask your colleague to send you a new one."
        ) from exc
    except signing.BadSignature as exc:
        raise InvitationError(
            "This invitation link is not valid. Check you copied the whole link from the email."
        ) from exc
    invitation = ColleagueInvitation.objects.filter(pk=payload.get("i")).first()
    if invitation is None or not secrets.compare_digest(
        invitation.token_hash, _hash(str(payload.get("s", "")))
    ):
        raise InvitationError(
            "This invitation link is not valid. Check you copied the whole link from the email."
        )
    if invitation.accepted_at is not None:
        raise InvitationError(
            "This invitation link has already been used. Sign in with the account you created."
        )
    if invitation.is_expired:
        raise InvitationError(
            "This invitation link has expired. Ask your colleague to send you a new one."
        )
    return invitation


@transaction.atomic
def accept_invitation(
    *, token: str, full_name: str = "", password: str = "", user: User | None = None, request=None
) -> User:
    """Use an invitation once: create the account (or extend a signed-in one) with its scope."""
    invitation = invitation_from_token(token)
    invitation = ColleagueInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise InvitationError(
            "This invitation link has already been used. Sign in with the account you created."
        )
    if user is None:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise InvitationError(
                "You already have an account. Sign in, then open the invitation link again."
            )
        user = User.objects.create_user(
            email=invitation.email,
            password=password,
            full_name=full_name,
            role=invitation.role,
            local_authority=invitation.local_authority,
        )
        from allauth.account.models import EmailAddress

        # The link reached this address, which proves the person controls it.
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    else:
        if user.email.lower() != invitation.email:
            raise InvitationError(
                f"This invitation is for {invitation.email}. Sign out and open the link again."
            )
        if user.role and user.role != invitation.role:
            raise InvitationError(
                "Your account already has a different role. Ask an administrator for help."
            )
        if (
            user.role == Role.LOCAL_LEAD
            and user.local_authority_id != invitation.local_authority_id
        ):
            raise InvitationError("A local lead can belong to one local authority only.")
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
