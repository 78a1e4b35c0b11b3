"""Eligibility reads: the local lead's review queue with its filters and counts, what an
employer sees of each worker's status, and one employment's decision history."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.apps import apps
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from workers.models import EligibilityDecision, Employment, InformationRequest

Outcome = EligibilityDecision.Outcome


class State:
    """Where an employment is in the lead's work."""

    TO_REVIEW = "to_review"  # assessed, waiting for a lead (answered questions included)
    WAITING = "waiting"  # a question to the employer is open
    DECIDED = "decided"
    ALL = "all"

    choices = [
        (TO_REVIEW, "To review"),
        (WAITING, "Waiting for the employer"),
        (DECIDED, "Decided"),
        (ALL, "All"),
    ]


SORTS = {
    "name": ("last_name", "first_name", "pk"),
    "employer": ("employer__name", "last_name", "pk"),
    "outcome": ("eligibility_outcome", "last_name", "pk"),
    "newest": ("-created_at", "-pk"),
    "oldest": ("created_at", "pk"),
}
SORT_CHOICES = [
    ("name", "Name"),
    ("employer", "Employer"),
    ("outcome", "Assessment"),
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
]


@dataclass(frozen=True)
class QueueFilters:
    state: str = State.TO_REVIEW
    employer: int | None = None
    outcome: str = ""
    job_role: str = ""
    work_setting: str = ""
    employment_type: str = ""
    upload: int | None = None
    added_from: datetime.date | None = None
    added_to: datetime.date | None = None
    sort: str = "name"


def _in_state(queryset: QuerySet, state: str) -> QuerySet:
    if state == State.TO_REVIEW:
        return queryset.filter(eligibility_decided=False, information_requested=False)
    if state == State.WAITING:
        return queryset.filter(eligibility_decided=False, information_requested=True)
    if state == State.DECIDED:
        return queryset.filter(eligibility_decided=True)
    return queryset


def review_scope(user) -> QuerySet:
    """Current employments the user may review, before any filter."""
    return Employment.objects.visible_to(user).filter(status=Employment.Status.ACTIVE)


def review_queue(user, filters: QueueFilters, *, sort: bool = True) -> QuerySet:
    """The employments the lead's queue shows for ``filters`` (scoped to the user)."""
    queryset = _in_state(review_scope(user), filters.state)
    exact = {
        "employer_id": filters.employer,
        "eligibility_outcome": filters.outcome,
        "job_role": filters.job_role,
        "work_setting": filters.work_setting,
        "employment_type": filters.employment_type,
        "upload_changes__upload_id": filters.upload,
        "created_at__date__gte": filters.added_from,
        "created_at__date__lte": filters.added_to,
    }
    queryset = queryset.filter(**{key: value for key, value in exact.items() if value})
    if sort:
        queryset = queryset.order_by(*SORTS.get(filters.sort, SORTS["name"]))
    return queryset


def actionable(queryset: QuerySet) -> QuerySet:
    """Of ``queryset``, the employments a bulk decision may act on."""
    return queryset.filter(eligibility_decided=False, information_requested=False)


def outcome_counts(queryset: QuerySet) -> dict[str, int]:
    """How many of ``queryset`` the rules assessed each way, in one query."""
    return queryset.order_by().aggregate(
        total=Count("pk"),
        eligible=Count("pk", filter=Q(eligibility_outcome=Outcome.ELIGIBLE)),
        needs_information=Count("pk", filter=Q(eligibility_outcome=Outcome.NEEDS_INFORMATION)),
        not_eligible=Count("pk", filter=Q(eligibility_outcome=Outcome.NOT_ELIGIBLE)),
    )


def employer_is_visible(user, employer_id: int) -> bool:
    """Whether ``employer_id`` names an employer the user may see (a filter naming any other
    is refused, as an out-of-scope object is)."""
    employer_model = apps.get_model("employers", "Employer")
    return employer_model.objects.visible_to(user).filter(pk=employer_id).exists()


def employer_choices(user, *, only: int | None = None) -> list[tuple[int, str]]:
    """Every employer with current staff the user may review, by name: the queue's employer
    filter. Read from the employers the user may see (one index probe each for current
    staff), not by grouping every employment, so it costs the same however many workers an
    authority has. ``only``: just that employer, if it is one of them."""
    employer_model = apps.get_model("employers", "Employer")
    employers = employer_model.objects.visible_to(user)
    if only is not None:
        # A page acting on one employer's set needs to know only that one is a choice.
        employers = employers.filter(pk=only)
    return list(
        employers.filter(Exists(review_scope(user).order_by().filter(employer_id=OuterRef("pk"))))
        .order_by("name", "pk")
        .values_list("pk", "name")
    )


def employer_counts(queryset: QuerySet, limit: int = 100) -> list[dict]:
    """Per employer, how many of ``queryset`` were assessed each way (largest first)."""
    return list(
        queryset.order_by()
        .values("employer_id", "employer__name", "employer__status")
        .annotate(
            total=Count("pk"),
            eligible=Count("pk", filter=Q(eligibility_outcome=Outcome.ELIGIBLE)),
            needs_information=Count("pk", filter=Q(eligibility_outcome=Outcome.NEEDS_INFORMATION)),
            not_eligible=Count("pk", filter=Q(eligibility_outcome=Outcome.NOT_ELIGIBLE)),
        )
        .order_by("-total", "employer__name")[:limit]
    )


def staff_status_counts(queryset: QuerySet) -> dict[str, int]:
    """What an employer's staff list counts: each status of Employment.eligibility_status."""
    undecided = Q(eligibility_decided=False, information_requested=False)
    return queryset.order_by().aggregate(
        awaiting_review=Count("pk", filter=undecided),
        information_requested=Count(
            "pk", filter=Q(eligibility_decided=False, information_requested=True)
        ),
        eligible=Count("pk", filter=Q(eligibility_decided=True, eligibility_outcome="eligible")),
        not_eligible=Count(
            "pk", filter=Q(eligibility_decided=True, eligibility_outcome="not_eligible")
        ),
    )


def decision_history(employment: Employment) -> QuerySet:
    return employment.eligibility_decisions.select_related("decided_by").order_by(
        "-decided_at", "-pk"
    )


def conversation(employment: Employment) -> QuerySet:
    return employment.information_requests.select_related("asked_by", "answered_by")


def open_questions(user) -> QuerySet:
    """Questions waiting for the user's answer (employer users), oldest first."""
    return (
        InformationRequest.objects.visible_to(user)
        .filter(status=InformationRequest.Status.OPEN)
        .select_related("employment__worker", "employment__employer", "asked_by")
        .order_by("asked_at", "pk")
    )


def approved_letters(user, *, employer_id: int | None = None) -> QuerySet:
    """Current employments with a local lead's "eligible" decision (each has a code)."""
    queryset = (
        Employment.objects.visible_to(user)
        .filter(
            status=Employment.Status.ACTIVE,
            eligibility_decided=True,
            eligibility_outcome=Outcome.ELIGIBLE,
            current_decision__verification_code__isnull=False,
        )
        .select_related("worker", "employer__local_authority", "current_decision")
        .order_by("last_name", "first_name", "pk")
    )
    if employer_id is not None:
        queryset = queryset.filter(employer_id=employer_id)
    return queryset


def shown_records(user, worker_ids) -> dict[int, Employment]:
    """For each worker, the record ``user`` sees them by: their oldest employment in the
    user's scope. Pages that name a person use it, never the person's own record, whose
    values may have come from an employer the user may not see (docs/decisions/0011)."""
    shown: dict[int, Employment] = {}
    for employment in (
        Employment.objects.visible_to(user)
        .filter(worker_id__in=list(worker_ids))
        .order_by("worker_id", "pk")
    ):
        shown.setdefault(employment.worker_id, employment)
    return shown


def attach_shown_records(user, rows, *, worker_id: str = "worker_id") -> list:
    """Give each of ``rows`` (workers, routes, invitations…) a ``shown`` record to name
    the person by; returns them as a list."""
    rows = list(rows)
    shown = shown_records(user, {getattr(row, worker_id) for row in rows})
    for row in rows:
        row.shown = shown.get(getattr(row, worker_id))
    return rows


def workers_named(user, query: str):
    """Workers in the user's scope, found by a last name one of their visible records has."""
    from workers.models import Worker

    workers = Worker.objects.visible_to(user)
    if query:
        named = Employment.objects.visible_to(user).filter(
            worker_id=OuterRef("pk"), last_name__icontains=query
        )
        workers = workers.filter(Exists(named))
    return workers


def invitations_of(user, worker) -> list:
    """The worker's invitations the user may see: a lead sees the invitation of anyone
    employed in their area, whichever area's approval sent it (docs/decisions/0011). Read
    through the reverse relation, so this app does not import the bookings app."""
    return list(worker.invitations.visible_to(user).select_related("site").order_by("-queued_at"))
