"""Changes to employers: registration by an employer user, approval or rejection by the local
lead of its authority, and marking a member of staff as left. Each is one transaction with
its audit event."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from employers.imports import release_waiting_uploads
from employers.models import Employer, EmployerMembership
from portal import audit
from portal.models import LocalAuthority, User
from portal.roles import (
    Role,
    is_employer_user,
    may_act_for_employers,
    may_decide_employers,
    may_register_employer,
)
from portal.throttle import count_attempt
from workers.models import Employment
from workers.services import assess_employments

DUPLICATE_CQC_MESSAGE = (
    "An organisation with this CQC location ID is already registered. Ask the person who "
    "registered it to invite you: they can do this from 'Invite a colleague'."
)


class RegistrationRefused(Exception):
    """The registration cannot go ahead; ``field`` and the message say what to change."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class StaleDecision(Exception):
    """Someone decided on the employer first; ``employer`` carries their decision."""

    def __init__(self, employer: Employer):
        super().__init__(f"{employer} is already {employer.get_status_display().lower()}")
        self.employer = employer


def _site_url(path: str) -> str:
    return settings.SITE_URL + path


def _send_after_commit(*, subject: str, template: str, context: dict, recipients: list[str]):
    recipients = sorted({address.strip().lower() for address in recipients if address})
    if not recipients:
        return
    message = render_to_string(template, context)
    transaction.on_commit(
        lambda: send_mail(
            subject=subject, message=message, from_email=None, recipient_list=recipients
        )
    )


@transaction.atomic
def register_employer(
    *,
    user: User,
    name: str,
    kind: str,
    postcode: str,
    local_authority: LocalAuthority,
    cqc_location_id: str | None = None,
    address_line_1: str = "",
    address_line_2: str = "",
    town: str = "",
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
    request=None,
) -> Employer:
    """Register an organisation awaiting approval; ``user`` becomes an employer user of it.

    Values arrive cleaned by ``EmployerRegistrationForm``. A CQC location ID that is already
    registered is refused without saying who holds it.
    """
    if not may_register_employer(user):
        raise PermissionDenied("Only care employers can register an organisation.")
    cqc_location_id = cqc_location_id or None
    if kind == Employer.Kind.CQC_LOCATION and not cqc_location_id:
        raise RegistrationRefused(
            "Enter the CQC location ID of a CQC-registered location.", field="cqc_location_id"
        )
    if cqc_location_id and Employer.objects.filter(cqc_location_id=cqc_location_id).exists():
        raise RegistrationRefused(DUPLICATE_CQC_MESSAGE, field="cqc_location_id")
    try:
        # A savepoint, so a registration racing ours for the same location ends in the same
        # plain message rather than an error page.
        with transaction.atomic():
            employer = Employer.objects.create(
                name=name,
                kind=kind,
                cqc_location_id=cqc_location_id,
                address_line_1=address_line_1,
                address_line_2=address_line_2,
                town=town,
                postcode=postcode,
                local_authority=local_authority,
                contact_name=contact_name,
                contact_email=contact_email,
                contact_phone=contact_phone,
                status=Employer.Status.PENDING,
            )
    except IntegrityError as exc:
        raise RegistrationRefused(DUPLICATE_CQC_MESSAGE, field="cqc_location_id") from exc
    EmployerMembership.objects.create(user=user, employer=employer)
    if not is_employer_user(user):
        user.role = Role.EMPLOYER
        user.save(update_fields=["role"])
    audit.record(
        verb="employer_registered",
        actor=user,
        target=employer,
        details={
            "name": employer.name,
            "kind": employer.kind,
            "cqc_location_id": employer.cqc_location_id,
            "local_authority": local_authority.gss_code,
        },
        request=request,
    )
    leads = User.objects.filter(
        role=Role.LOCAL_LEAD, local_authority=local_authority, is_active=True
    ).values_list("email", flat=True)
    _send_after_commit(
        subject="A care employer is waiting for your approval",
        template="emails/employer_awaiting_approval.txt",
        context={
            "employer": employer,
            "url": _site_url(reverse("employers:decide", kwargs={"pk": employer.pk})),
        },
        recipients=list(leads),
    )
    return employer


def _decide(
    *, lead: User, employer: Employer, status: str, reason: str, verb: str, request=None
) -> Employer:
    if not may_decide_employers(lead):
        raise PermissionDenied("Only local leads and administrators decide on employers.")
    # Lock the row inside the lead's scope: out of scope is DoesNotExist (the view's 404),
    # and of two leads deciding at once the second waits, then sees the first's decision.
    locked = (
        Employer.objects.visible_to(lead)
        .select_for_update(of=("self",))
        .select_related("local_authority", "decided_by")
        .get(pk=employer.pk)
    )
    if locked.status != Employer.Status.PENDING:
        raise StaleDecision(employer=locked)
    locked.status = status
    locked.status_reason = reason
    locked.decided_by = lead
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "status_reason", "decided_by", "decided_at"])
    # The rules look at the employer's approval: its undecided staff are assessed again.
    assess_employments(employer_id=locked.pk)
    # Lists it confirmed while waiting are imported now, or discarded if it was rejected.
    release_waiting_uploads(employer=locked)
    audit.record(
        verb=verb,
        actor=lead,
        target=locked,
        details={"reason": reason, "local_authority": locked.local_authority.gss_code},
        request=request,
    )
    members = User.objects.filter(
        employer_memberships__employer=locked, is_active=True
    ).values_list("email", flat=True)
    approved = status == Employer.Status.APPROVED
    _send_after_commit(
        subject=(
            f"{locked.name} is approved on Carevax"
            if approved
            else f"{locked.name} was not approved on Carevax"
        ),
        template="emails/employer_approved.txt" if approved else "emails/employer_rejected.txt",
        context={
            "employer": locked,
            "url": _site_url(reverse("employers:detail", kwargs={"pk": locked.pk})),
        },
        recipients=[*members, locked.contact_email],
    )
    return locked


@transaction.atomic
def approve_employer(*, lead: User, employer: Employer, reason: str = "", request=None) -> Employer:
    """Approve a pending employer; its users are told by email once the approval commits."""
    return _decide(
        lead=lead,
        employer=employer,
        status=Employer.Status.APPROVED,
        reason=reason.strip(),
        verb="employer_approved",
        request=request,
    )


@transaction.atomic
def reject_employer(*, lead: User, employer: Employer, reason: str, request=None) -> Employer:
    """Reject a pending employer with the reason its users will read."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A rejection needs a reason the employer can act on.")
    return _decide(
        lead=lead,
        employer=employer,
        status=Employer.Status.REJECTED,
        reason=reason,
        verb="employer_rejected",
        request=request,
    )


@transaction.atomic
def mark_employment_left(*, user: User, employment: Employment, request=None) -> Employment:
    """Record that a member of staff has left this employer (their other jobs are untouched).

    Marking someone who has already left changes nothing and records nothing.
    """
    if not may_act_for_employers(user):
        raise PermissionDenied("Only the employer can mark a member of staff as left.")
    in_scope = Employment.objects.visible_to(user).filter(pk=employment.pk)
    # visible_to may add DISTINCT, which PostgreSQL will not lock; lock the row by its key.
    locked = Employment.objects.select_for_update().get(pk__in=in_scope.values("pk"))
    if locked.status == Employment.Status.LEFT:
        return locked
    locked.status = Employment.Status.LEFT
    locked.left_at = timezone.now()
    locked.save(update_fields=["status", "left_at", "updated_at"])
    audit.record(
        verb="employment_left",
        actor=user,
        target=locked,
        details={"employer_id": locked.employer_id, "worker_id": locked.worker_id},
        request=request,
    )
    return locked


UPLOAD_LIMIT_MESSAGE = (
    "You have checked a lot of staff list files in the last hour. Wait an hour, then try "
    "again. If you need to check more, contact your local authority."
)


def staff_file_allowed(*, user: User, organisation: str) -> bool:
    """Count one staff list file checked by ``user`` for ``organisation`` (e.g.
    ``employer:12``); False once either is over its hourly limit (docs/decisions/0011)."""
    # Both are counted, refused attempts too, so hammering keeps the window full.
    counts = [
        (
            count_attempt(f"staff-file:user:{user.pk}", window=3600),
            settings.UPLOAD_LIMIT_PER_ACCOUNT,
        ),
        (
            count_attempt(f"staff-file:{organisation}", window=3600),
            settings.UPLOAD_LIMIT_PER_ORGANISATION,
        ),
    ]
    return not any(limit and count > limit for count, limit in counts)
