"""Eligibility writes: rule assessment of employments, rule set publishing, local leads'
decisions (one or in bulk), questions to employers and their answers. Every function is one
transaction that records its audit event; bulk work is set-based (a fixed number of queries
however many employments it touches)."""

from __future__ import annotations

import datetime
import functools
import hashlib
import io
import itertools
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from portal import audit
from portal.bulk import copy_column, copy_value, insert_rows, take_ids, update_rows
from portal.roles import is_administrator, may_act_for_employers, may_review_eligibility
from workers import notifications
from workers.models import (
    EligibilityDecision,
    Employment,
    InformationRequest,
    Reassessment,
    RuleSet,
    Worker,
)
from workers.rules import Assessor, Facts, RuleError, compile_rules
from workers.signals import approvals_reversed, employments_approved

Outcome = EligibilityDecision.Outcome
Source = EligibilityDecision.Source
APPROVED_EMPLOYER = "approved"  # employers.Employer.Status.APPROVED, named by value
CHUNK_SIZE = 10_000

# Crockford's base32 without I, L, O and U: nothing on a letter can be misread.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_PREFIX = "CVX"


class EligibilityError(Exception):
    """A decision that cannot be made as asked; the message says what to do instead."""


class StaleDecision(EligibilityError):
    """Someone decided (or the rules re-assessed) the employment since the form was shown."""

    def __init__(self, current: EligibilityDecision | None):
        self.current = current
        who = "the rules"
        if current is not None and current.by_lead:
            who = str(current.decided_by or "another local lead")
        super().__init__(
            f"This worker's eligibility changed while you were looking: {who} recorded "
            f"“{current.get_outcome_display() if current else 'no decision'}”. "
            "Check the latest decision below before you decide again."
        )


class SetChanged(EligibilityError):
    """The records behind a confirmation page are no longer exactly those shown."""

    def __init__(self, count: int):
        self.count = count
        super().__init__(
            f"The workers in this set changed since you looked: it now has {count}. "
            "Check the number and confirm again."
        )


# --- Facts and snapshots ----------------------------------------------------------------

_FACT_COLUMNS = (
    "pk",
    "job_role",
    "work_setting",
    "employment_type",
    "direct_contact",
    "employer__status",
    "staff_reference",
    "status",
)


def facts_for(
    *,
    job_role: str,
    work_setting: str,
    employment_type: str,
    direct_contact: bool,
    employer_approved: bool,
) -> Facts:
    """The facts the rules look at, from an employment's details (stored or still in a file):
    a blank employment type means employed (docs/data-formats.md)."""
    return Facts(
        job_role=job_role,
        work_setting=work_setting,
        employment_type=employment_type or Employment.EmploymentType.EMPLOYED,
        direct_contact=bool(direct_contact),
        employer_approved=employer_approved,
    )


def _facts(row: Sequence) -> Facts:
    return _facts_of(*row[1:6])


# A big assessment or bulk decision holds tens of thousands of rows but a handful of distinct
# facts: each combination is made (and turned into a snapshot's dict) once.
@functools.lru_cache(maxsize=4096)
def _facts_of(job_role, work_setting, employment_type, direct_contact, employer_status) -> Facts:
    return facts_for(
        job_role=job_role,
        work_setting=work_setting,
        employment_type=employment_type,
        direct_contact=direct_contact,
        employer_approved=employer_status == APPROVED_EMPLOYER,
    )


@functools.lru_cache(maxsize=4096)
def _facts_dict(facts: Facts) -> dict:
    return facts.as_dict()


def _snapshot(row: Sequence, facts: Facts) -> dict:
    """The employment's details as the decision saw them (no personal identifiers)."""
    return {**_facts_dict(facts), "staff_reference": row[6], "status": row[7]}


def employment_facts(employment: Employment) -> Facts:
    """The facts the rules look at, read from one employment object."""
    return facts_for(
        job_role=employment.job_role,
        work_setting=employment.work_setting,
        employment_type=employment.employment_type,
        direct_contact=employment.direct_contact,
        employer_approved=employment.employer.status == APPROVED_EMPLOYER,
    )


_DECISION_COLUMNS = (
    "employment_id",
    "outcome",
    "reasons",
    "rule_set_version",
    "source",
    "decided_by_id",
    "decided_at",
    "snapshot",
    "batch",
    "verification_code",
)


def _record_decisions(rows: list[tuple], *, batch: uuid.UUID, decided: bool) -> None:
    """Insert decision rows (values in ``_DECISION_COLUMNS`` order, all of ``batch``) and make
    each its employment's current decision. On PostgreSQL: ids taken from the sequence,
    one COPY (building a model object per row would cost more than the write), then one
    UPDATE joined to the ids as arrays, a plan that does not depend on statistics of rows
    written moments ago."""
    if connection.vendor != "postgresql":
        EligibilityDecision.objects.bulk_create(
            EligibilityDecision(**dict(zip(_DECISION_COLUMNS, row, strict=True))) for row in rows
        )
        _point_at_batch(batch, decided=decided)
        return
    if not rows:
        return

    def column_text(values: tuple) -> Iterable[str]:
        # A batch repeats most values on every row (outcome, reasons, version, who, when,
        # the batch): a column with one value throughout is rendered once.
        if values.count(values[0]) == len(values):
            return itertools.repeat(copy_value(values[0]), len(values))
        return copy_column(values)

    table = EligibilityDecision._meta.db_table
    employment = Employment._meta.db_table
    with connection.cursor() as cursor:
        ids = take_ids(cursor, table, len(rows))
        columns = [map(str, ids)] + [column_text(values) for values in zip(*rows, strict=True)]
        buffer = io.StringIO()
        buffer.write("\n".join(map("\t".join, zip(*columns, strict=True))))
        buffer.write("\n")
        buffer.seek(0)
        cursor.cursor.copy_expert(
            f"COPY {table} (id, {', '.join(_DECISION_COLUMNS)}) FROM STDIN", buffer
        )
        cursor.execute(
            f"UPDATE {employment} SET current_decision_id = d.id, "  # noqa: S608 (table names)
            "eligibility_outcome = d.outcome, eligibility_decided = %s "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[]) "
            f"AS d(employment_id, id, outcome) WHERE {employment}.id = d.employment_id",
            [decided, [row[0] for row in rows], ids, [row[1] for row in rows]],
        )


def _point_at_batch(batch: uuid.UUID, *, decided: bool) -> None:
    """Make each employment's decision from ``batch`` its current one, in one statement
    (UPDATE ... FROM joins the batch's rows; PostgreSQL and SQLite 3.33+ both have it)."""
    employment = Employment._meta.db_table
    decision = EligibilityDecision._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {employment} SET current_decision_id = d.id, "  # noqa: S608 (table names)
            f"eligibility_outcome = d.outcome, eligibility_decided = %s "
            f"FROM {decision} d WHERE d.batch = %s AND d.employment_id = {employment}.id",
            [decided, batch.hex if connection.vendor == "sqlite" else batch],
        )


# --- Rule assessment --------------------------------------------------------------------


def current_rule_set() -> RuleSet:
    rule_set = RuleSet.objects.current()
    if rule_set is None:
        raise EligibilityError("No rule set has been published. An administrator must publish one.")
    return rule_set


def _assess_chunk(queryset, assessor: Assessor, version: int, after_id: int, limit: int):
    """Assess up to ``limit`` employments after ``after_id``; returns (last id, seen, written).

    An employment whose outcome, reasons, rule version and details are unchanged gets no new
    row, so running twice writes nothing the second time.
    """
    # Three plain queries rather than one join: the first walks the primary key, the others
    # are key lookups, so the plans stay good even on statistics an import has made stale.
    found = list(
        queryset.filter(pk__gt=after_id)
        .order_by("pk")
        .values_list(
            "pk",
            "job_role",
            "work_setting",
            "employment_type",
            "direct_contact",
            "employer_id",
            "staff_reference",
            "status",
            "current_decision_id",
        )[:limit]
    )
    if not found:
        return after_id, 0, 0
    employers = Employment._meta.get_field("employer").related_model.objects
    status = dict(employers.filter(pk__in={row[5] for row in found}).values_list("pk", "status"))
    current = {
        pk: values
        for pk, *values in EligibilityDecision.objects.filter(
            pk__in=[row[8] for row in found if row[8]]
        ).values_list("pk", "outcome", "reasons", "rule_set_version", "snapshot")
    }
    none = (None, None, None, None)
    rows = [(*row[:5], status[row[5]], row[6], row[7], *current.get(row[8], none)) for row in found]
    now = timezone.now()
    batch = uuid.uuid4()
    decisions = []
    for row in rows:
        facts = _facts(row)
        outcome, reasons = assessor(facts)
        snapshot = _snapshot(row, facts)
        if (row[8], row[9], row[10], row[11]) == (outcome, list(reasons), version, snapshot):
            continue
        decisions.append(
            (row[0], outcome, list(reasons), version, Source.ASSESSMENT, None, now, snapshot)
            + (batch, None)
        )
    if decisions:
        _record_decisions(decisions, batch=batch, decided=False)
        audit.record(
            verb="eligibility_assessed",
            object_type="workers.eligibilitydecision.batch",
            object_id=batch,
            details={
                "count": len(decisions),
                "rule_set_version": version,
                "employment_ids": [decision[0] for decision in decisions],
            },
        )
    return rows[-1][0], len(rows), len(decisions)


def _undecided():
    return Employment.objects.filter(eligibility_decided=False, status=Employment.Status.ACTIVE)


def assess_employments(
    *,
    employment_ids: Iterable[int] | None = None,
    employer_id: int | None = None,
    rule_set: RuleSet | None = None,
) -> int:
    """Assess undecided, current employments (those given, an employer's, or all) under
    ``rule_set`` (default: the current one); returns how many got a new assessment.

    Employments a local lead has decided keep their decision and its rule version.
    """
    rule_set = rule_set or current_rule_set()
    assessor = Assessor(rule_set.rules)
    queryset = _undecided()
    if employer_id is not None:
        queryset = queryset.filter(employer_id=employer_id)
    written, cursor = 0, 0
    if employment_ids is not None:
        # Chunk by the ids themselves: each chunk's query carries only its own ids.
        ids = sorted(set(employment_ids))
        with transaction.atomic():
            for start in range(0, len(ids), CHUNK_SIZE):
                chunk = queryset.filter(pk__any_of=ids[start : start + CHUNK_SIZE])
                written += _assess_chunk(chunk, assessor, rule_set.version, 0, CHUNK_SIZE)[2]
        return written
    with transaction.atomic():
        while True:
            cursor, seen, changed = _assess_chunk(
                queryset, assessor, rule_set.version, cursor, CHUNK_SIZE
            )
            written += changed
            if seen < CHUNK_SIZE:
                return written


@transaction.atomic
def publish_rule_set(*, rule_set: RuleSet, user) -> RuleSet:
    """Publish a draft as the next version and queue re-assessment of undecided employments."""
    if not is_administrator(user):
        raise PermissionDenied("Only administrators publish rule sets.")
    draft = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
    if draft.is_published:
        raise EligibilityError(f"{draft} is already published.")
    try:
        compile_rules(draft.rules)
    except RuleError as exc:
        raise EligibilityError(str(exc)) from exc
    latest = RuleSet.objects.published().order_by("-version").values_list("version", flat=True)
    version = (latest.first() or 0) + 1
    now = timezone.now()
    RuleSet.objects.filter(pk=draft.pk, published_at__isnull=True).update(
        version=version, published_at=now, published_by=user
    )
    draft.refresh_from_db()
    reassessment = Reassessment.objects.create(
        rule_set=draft, total=_undecided().count(), status=Reassessment.Status.QUEUED
    )
    audit.record(
        verb="rule_set_published",
        actor=user,
        target=draft,
        details={"version": version, "reassessment_id": reassessment.pk},
    )
    from workers.tasks import reassess_undecided_task

    transaction.on_commit(lambda: reassess_undecided_task.delay(reassessment.pk))
    return draft


def run_reassessment(*, reassessment_id: int, chunk_size: int = CHUNK_SIZE) -> Reassessment:
    """Re-assess undecided employments under the reassessment's rule set, chunk by chunk,
    saving progress after each; a re-run carries on from the last finished chunk."""
    reassessment = Reassessment.objects.select_related("rule_set").get(pk=reassessment_id)
    if reassessment.status == Reassessment.Status.DONE:
        return reassessment
    rule_set = reassessment.rule_set
    if RuleSet.objects.current().pk != rule_set.pk:
        # A newer version was published meanwhile; its own run does the work.
        Reassessment.objects.filter(pk=reassessment.pk).update(
            status=Reassessment.Status.DONE, finished_at=timezone.now()
        )
        reassessment.refresh_from_db()
        return reassessment
    assessor = Assessor(rule_set.rules)
    Reassessment.objects.filter(pk=reassessment.pk).update(status=Reassessment.Status.RUNNING)
    cursor = reassessment.last_employment_id
    while True:
        with transaction.atomic():
            cursor, seen, changed = _assess_chunk(
                _undecided(), assessor, rule_set.version, cursor, chunk_size
            )
            Reassessment.objects.filter(pk=reassessment.pk).update(
                done=F("done") + seen, changed=F("changed") + changed, last_employment_id=cursor
            )
        if seen < chunk_size:
            break
    Reassessment.objects.filter(pk=reassessment.pk).update(
        status=Reassessment.Status.DONE, finished_at=timezone.now()
    )
    reassessment.refresh_from_db()
    return reassessment


# --- Local leads' decisions -------------------------------------------------------------


def _require_lead(user) -> None:
    if not may_review_eligibility(user):
        raise PermissionDenied("Only local leads decide eligibility.")


# Every two characters of the code alphabet, indexed by the 10 bits they stand for.
_CODE_PAIRS = tuple(first + second for first in CODE_ALPHABET for second in CODE_ALPHABET)


def new_verification_codes(count: int) -> list[str]:
    """``count`` distinct codes like ``CVX-7F3K-9Q2P`` not yet given to anyone (one query)."""
    codes: set[str] = set()
    while len(codes) < count:
        wanted = count - len(codes)
        fresh = set()
        while len(fresh) < wanted:
            # 40 random bits are exactly eight characters of the 32-letter alphabet: one
            # call for all the bits, and each 10 bits (two characters) looked up at once.
            need = wanted - len(fresh)
            bits = secrets.token_bytes(5 * need)
            pairs = _CODE_PAIRS
            for start in range(0, 5 * need, 5):
                n = int.from_bytes(bits[start : start + 5], "big")
                fresh.add(
                    f"{CODE_PREFIX}-{pairs[n >> 30]}{pairs[(n >> 20) & 1023]}"
                    f"-{pairs[(n >> 10) & 1023]}{pairs[n & 1023]}"
                )
        fresh -= codes
        taken = set(
            EligibilityDecision.objects.filter(verification_code__any_of=fresh).values_list(
                "verification_code", flat=True
            )
        )
        codes |= fresh - taken
    return list(codes)


def normalise_code(raw: str) -> str:
    """What a person typed, as stored: case, spaces and dashes ignored; O read as 0 and
    I or L as 1, as Crockford's alphabet intends."""
    text = "".join(char for char in (raw or "").upper() if char.isalnum())
    if text.startswith(CODE_PREFIX):
        text = text[len(CODE_PREFIX) :]
    text = text.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if len(text) != 8 or any(char not in CODE_ALPHABET for char in text):
        return ""
    return f"{CODE_PREFIX}-{text[:4]}-{text[4:]}"


_LOCK_COLUMNS = (
    *_FACT_COLUMNS,
    "current_decision_id",
    "eligibility_decided",
    "information_requested",
    "eligibility_outcome",
)


def set_digest(pairs: Iterable[tuple[int, int | None]]) -> str:
    """A fingerprint of a set of employments and the decision each has now: a confirmation
    page carries it, and the action refuses to run if the set is no longer the same."""
    digest = hashlib.sha256()
    for employment_id, decision_id in sorted(pairs):
        digest.update(f"{employment_id}:{decision_id or 0};".encode())
    return digest.hexdigest()


def _lock_set(*, lead, employment_ids: Sequence[int], digest: str | None) -> list[tuple]:
    """Lock the employments of a bulk decision (``_LOCK_COLUMNS`` of each, by id) and check
    they are the set the lead confirmed: all in the lead's area, unchanged since the
    confirmation page, none decided or waiting for the employer meanwhile."""
    _require_lead(lead)
    wanted = set(employment_ids)
    if not wanted:
        raise EligibilityError(
            "There are no workers in this set. Change the filters or choose some."
        )
    rows = list(
        Employment.objects.visible_to(lead)
        .filter(pk__any_of=list(wanted))
        .select_for_update(of=("self",))
        .order_by("pk")
        .values_list(*_LOCK_COLUMNS)
    )
    if len(rows) != len(wanted):
        raise Employment.DoesNotExist("Some of these workers are not in your area.")
    if digest is not None and set_digest((row[0], row[8]) for row in rows) != digest:
        raise SetChanged(len(rows))
    if any(row[9] or row[10] for row in rows):
        waiting = sum(1 for row in rows if row[9] or row[10])
        raise SetChanged(len(rows) - waiting)
    return rows


def _decide_in_bulk(*, lead, rows: list[tuple], outcome: str, reason: str) -> uuid.UUID:
    """Record the lead's ``outcome`` for each locked row (from ``_lock_set``) as one batch
    and make it each employment's current decision."""
    if outcome == Outcome.ELIGIBLE:
        unapproved = sum(1 for row in rows if row[5] != APPROVED_EMPLOYER)
        if unapproved:
            raise EligibilityError(
                f"{unapproved} of these workers work for an employer that is not approved yet. "
                "Approve the employer first, or leave those workers out."
            )
    now = timezone.now()
    batch = uuid.uuid4()
    reasons = [reason]
    codes = iter(new_verification_codes(len(rows)) if outcome == Outcome.ELIGIBLE else ())
    # The rule version recorded is the one that proposed what the lead confirms or overrides.
    # Read by id, not joined to the lock: a join to the whole history made the planner scan it.
    versions = dict(
        EligibilityDecision.objects.filter(
            pk__any_of=[row[8] for row in rows if row[8] is not None]
        ).values_list("pk", "rule_set_version")
    )
    _record_decisions(
        [
            (row[0], outcome, reasons, versions.get(row[8]), Source.LEAD, lead.pk, now)
            + (_snapshot(row, _facts(row)), batch, next(codes, None))
            for row in rows
        ],
        batch=batch,
        decided=True,
    )
    return batch


def _bulk_reason(reason: str, *, outcome: str, rows_assessed_eligible: bool) -> str:
    reason = (reason or "").strip()
    if reason:
        return reason
    if outcome == Outcome.ELIGIBLE and rows_assessed_eligible:
        return "Approved by the local lead: assessed eligible under the cohort 2b rules"
    raise EligibilityError("Give a reason for this decision.")


@transaction.atomic
def approve_employments(
    *,
    lead,
    employment_ids: Sequence[int],
    digest: str | None = None,
    reason: str = "",
    request=None,
) -> int:
    """Decide "eligible" for every employment given (all undecided, in the lead's area,
    with approved employers); a reason is needed unless all were assessed eligible."""
    rows = _lock_set(lead=lead, employment_ids=employment_ids, digest=digest)
    all_eligible = all(row[11] == Outcome.ELIGIBLE for row in rows)
    reason = _bulk_reason(reason, outcome=Outcome.ELIGIBLE, rows_assessed_eligible=all_eligible)
    batch = _decide_in_bulk(lead=lead, rows=rows, outcome=Outcome.ELIGIBLE, reason=reason)
    ids = [row[0] for row in rows]
    audit.record(
        verb="eligibility_approved",
        actor=lead,
        object_type="workers.eligibilitydecision.batch",
        object_id=batch,
        details={"count": len(ids), "reason": reason, "employment_ids": ids},
        request=request,
    )
    employments_approved.send(sender=Employment, employment_ids=ids)
    return len(ids)


@transaction.atomic
def reject_employments(
    *, lead, employment_ids: Sequence[int], reason: str, digest: str | None = None, request=None
) -> int:
    """Decide "not eligible", with the lead's reason, for every employment given."""
    reason = _bulk_reason(reason, outcome=Outcome.NOT_ELIGIBLE, rows_assessed_eligible=False)
    rows = _lock_set(lead=lead, employment_ids=employment_ids, digest=digest)
    batch = _decide_in_bulk(lead=lead, rows=rows, outcome=Outcome.NOT_ELIGIBLE, reason=reason)
    ids = [row[0] for row in rows]
    audit.record(
        verb="eligibility_rejected",
        actor=lead,
        object_type="workers.eligibilitydecision.batch",
        object_id=batch,
        details={"count": len(ids), "reason": reason, "employment_ids": ids},
        request=request,
    )
    return len(ids)


def _lock_one(user, employment_id: int) -> Employment:
    _require_lead(user)
    employment = (
        Employment.objects.visible_to(user)
        .select_for_update(of=("self",))
        .select_related("employer")
        .get(pk=employment_id)
    )
    return employment


def _write_lead_decision(
    *,
    lead,
    employment: Employment,
    outcome: str,
    reason: str,
    verb: str,
    request=None,
    extra: dict | None = None,
) -> EligibilityDecision:
    facts = employment_facts(employment)
    previous = employment.current_decision
    decision = EligibilityDecision.objects.create(
        employment=employment,
        outcome=outcome,
        reasons=[reason],
        rule_set_version=previous.rule_set_version if previous else None,
        source=Source.LEAD,
        decided_by=lead,
        snapshot={
            **facts.as_dict(),
            "staff_reference": employment.staff_reference,
            "status": employment.status,
        },
        batch=uuid.uuid4(),
        verification_code=new_verification_codes(1)[0] if outcome == Outcome.ELIGIBLE else None,
    )
    employment.current_decision = decision
    employment.eligibility_outcome = outcome
    employment.eligibility_decided = True
    employment.information_requested = False
    employment.save(
        update_fields=[
            "current_decision",
            "eligibility_outcome",
            "eligibility_decided",
            "information_requested",
            "updated_at",
        ]
    )
    InformationRequest.objects.filter(
        employment=employment, status=InformationRequest.Status.OPEN
    ).update(status=InformationRequest.Status.CLOSED)
    audit.record(
        verb=verb,
        actor=lead,
        target=decision,
        details={
            "employment_id": employment.pk,
            "outcome": outcome,
            "reason": reason,
            "previous_decision_id": previous.pk if previous else None,
            **(extra or {}),
        },
        request=request,
    )
    return decision


@transaction.atomic
def decide_employment(
    *,
    lead,
    employment_id: int,
    outcome: str,
    reason: str,
    seen_decision_id: int | None,
    request=None,
) -> EligibilityDecision:
    """A local lead's decision on one worker. ``seen_decision_id`` is the decision the lead
    was shown: if another has been made since, nothing is written (StaleDecision)."""
    employment = _lock_one(lead, employment_id)
    if employment.current_decision_id != seen_decision_id:
        raise StaleDecision(employment.current_decision)
    if outcome not in (Outcome.ELIGIBLE, Outcome.NOT_ELIGIBLE):
        raise EligibilityError("Choose eligible or not eligible.")
    reason = (reason or "").strip()
    if not reason:
        if outcome == Outcome.ELIGIBLE and employment.eligibility_outcome == Outcome.ELIGIBLE:
            reason = "Approved by the local lead: assessed eligible under the cohort 2b rules"
        else:
            raise EligibilityError("Give a reason for this decision.")
    if outcome == Outcome.ELIGIBLE and employment.employer.status != APPROVED_EMPLOYER:
        raise EligibilityError(
            "The employer is not approved yet. Approve the employer before approving its workers."
        )
    if employment.status != Employment.Status.ACTIVE:
        raise EligibilityError("This worker has left this employer, so there is nothing to decide.")
    employment_outcome_before = (
        employment.current_decision.outcome
        if (employment.current_decision and employment.eligibility_decided)
        else None
    )
    decision = _write_lead_decision(
        lead=lead,
        employment=employment,
        outcome=outcome,
        reason=reason,
        verb="eligibility_decided",
        request=request,
    )
    _announce(decision, previous_outcome=employment_outcome_before)
    return decision


@transaction.atomic
def reverse_decision(
    *, lead, employment_id: int, reason: str, seen_decision_id: int | None, request=None
) -> EligibilityDecision:
    """Reverse a local lead's decision (eligible ↔ not eligible) with a reason. The reversed
    decision stays in the history; a reversed approval's letter code stops verifying."""
    employment = _lock_one(lead, employment_id)
    current = employment.current_decision
    if employment.current_decision_id != seen_decision_id:
        raise StaleDecision(current)
    if current is None or not current.by_lead:
        raise EligibilityError("Only a local lead's decision can be reversed.")
    reason = (reason or "").strip()
    if not reason:
        raise EligibilityError("Give a reason for reversing this decision.")
    outcome = Outcome.NOT_ELIGIBLE if current.outcome == Outcome.ELIGIBLE else Outcome.ELIGIBLE
    if outcome == Outcome.ELIGIBLE and employment.employer.status != APPROVED_EMPLOYER:
        raise EligibilityError(
            "The employer is not approved yet. Approve the employer before approving its workers."
        )
    decision = _write_lead_decision(
        lead=lead,
        employment=employment,
        outcome=outcome,
        reason=reason,
        verb="eligibility_reversed",
        request=request,
        extra={"reversed_decision_id": current.pk},
    )
    _announce(decision, previous_outcome=current.outcome)
    return decision


def _announce(decision: EligibilityDecision, *, previous_outcome: str | None) -> None:
    """Tell the later steps, inside this transaction, that an approval was made or undone."""
    ids = [decision.employment_id]
    if decision.outcome == Outcome.ELIGIBLE and previous_outcome != Outcome.ELIGIBLE:
        employments_approved.send(sender=Employment, employment_ids=ids)
    elif decision.outcome != Outcome.ELIGIBLE and previous_outcome == Outcome.ELIGIBLE:
        approvals_reversed.send(sender=Employment, employment_ids=ids)


# --- Questions to employers -------------------------------------------------------------


@transaction.atomic
def request_information(
    *, lead, employment_ids: Sequence[int], question: str, request=None
) -> list[InformationRequest]:
    """Ask the employers of the chosen workers a question; each employer is emailed once."""
    _require_lead(lead)
    question = (question or "").strip()
    if not question:
        raise EligibilityError("Write the question you want the employer to answer.")
    wanted = set(employment_ids)
    if not wanted:
        raise EligibilityError("Choose at least one worker to ask about.")
    rows = list(
        Employment.objects.visible_to(lead)
        .filter(pk__any_of=list(wanted))
        .select_for_update(of=("self",))
        .values_list("pk", "employer_id", "eligibility_decided")
    )
    if len(rows) != len(wanted):
        raise Employment.DoesNotExist("Some of these workers are not in your area.")
    if any(decided for _, _, decided in rows):
        raise EligibilityError(
            "Some of these workers already have a decision. Reverse it first if you need to ask."
        )
    now = timezone.now()
    created = InformationRequest.objects.bulk_create(
        InformationRequest(employment_id=pk, question=question, asked_by=lead, asked_at=now)
        for pk, _, _ in rows
    )
    ids = [pk for pk, _, _ in rows]
    Employment.objects.filter(pk__any_of=ids).update(information_requested=True)
    audit.record(
        verb="eligibility_information_requested",
        actor=lead,
        object_type="workers.employment",
        object_id=ids[0] if len(ids) == 1 else "",
        details={"count": len(ids), "question": question, "employment_ids": ids},
        request=request,
    )
    employer_ids = sorted({employer_id for _, employer_id, _ in rows})
    transaction.on_commit(lambda: notifications.questions_asked(employer_ids=employer_ids))
    return created


@dataclass(frozen=True)
class EmploymentChanges:
    """What an employer may correct when answering: role, setting, contact, or that the
    worker has left. ``None`` leaves a detail as it is."""

    job_role: str | None = None
    work_setting: str | None = None
    direct_contact: bool | None = None
    has_left: bool = False


@transaction.atomic
def answer_information_request(
    *,
    user,
    information_request_id: int,
    answer: str,
    changes: EmploymentChanges | None = None,
    request=None,
) -> InformationRequest:
    """The employer's answer: corrects the employment if asked, returns it to the lead's
    queue re-assessed under the current rules, and emails the lead who asked."""
    if not may_act_for_employers(user):
        raise PermissionDenied("Only the employer answers a local lead's question.")
    question = (
        InformationRequest.objects.visible_to(user)
        .select_related("employment")
        .get(pk=information_request_id)
    )
    question = InformationRequest.objects.select_for_update().get(pk=question.pk)
    if question.status != InformationRequest.Status.OPEN:
        raise EligibilityError("This question has already been answered or decided.")
    answer = (answer or "").strip()
    if not answer:
        raise EligibilityError("Write your answer to the question.")
    employment = Employment.objects.select_for_update().get(pk=question.employment_id)
    changes = changes or EmploymentChanges()
    changed: dict[str, list] = {}
    for field in ("job_role", "work_setting", "direct_contact"):
        value = getattr(changes, field)
        if value is not None and value != getattr(employment, field):
            changed[field] = [getattr(employment, field), value]
            setattr(employment, field, value)
    if changes.has_left and employment.status != Employment.Status.LEFT:
        changed["status"] = [employment.status, Employment.Status.LEFT]
        employment.status = Employment.Status.LEFT
        employment.left_at = timezone.now()
    employment.information_requested = (
        InformationRequest.objects.filter(
            employment=employment, status=InformationRequest.Status.OPEN
        )
        .exclude(pk=question.pk)
        .exists()
    )
    employment.save()
    question.answer = answer
    question.changes = changed
    question.answered_by = user
    question.answered_at = timezone.now()
    question.status = InformationRequest.Status.ANSWERED
    question.save()
    audit.record(
        verb="eligibility_information_answered",
        actor=user,
        target=question,
        details={"employment_id": employment.pk, "changes": changed},
        request=request,
    )
    assess_employments(employment_ids=[employment.pk])
    transaction.on_commit(
        lambda: notifications.question_answered(information_request_id=question.pk)
    )
    return question


# --- Verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    valid: bool
    name: str = ""
    employer: str = ""


def verify_code(*, raw_code: str, request=None) -> Verification:
    """Check a letter's code: valid only while it belongs to the worker's current decision,
    made by a local lead, and the worker still works there. Every check is audited."""
    code = normalise_code(raw_code)
    decision = None
    if code:
        decision = (
            EligibilityDecision.objects.filter(verification_code=code)
            .select_related("employment__worker", "employment__employer")
            .first()
        )
    valid = bool(
        decision
        and decision.employment.current_decision_id == decision.pk
        and decision.outcome == Outcome.ELIGIBLE
        and decision.employment.status == Employment.Status.ACTIVE
    )
    audit.record(
        verb="eligibility_code_checked",
        object_type="workers.eligibilitydecision",
        object_id=decision.pk if decision else "",
        details={"code": code or (raw_code or "")[:20], "valid": valid},
        request=request,
    )
    if not valid:
        return Verification(valid=False)
    employment = decision.employment
    return Verification(
        valid=True,
        name=f"{employment.first_name} {employment.last_name[:1]}.",
        employer=decision.employment.employer.name,
    )


# --- Staff list imports ------------------------------------------------------------------


@dataclass
class StaffBatch:
    """One batch of changes; each dict holds model field values (ids where they exist)."""

    new_workers: list[dict] = dataclass_field(default_factory=list)
    worker_changes: list[dict] = dataclass_field(default_factory=list)
    # New employments name their worker by ``worker_id``, or by ``new_worker`` (an index
    # into ``new_workers``) when the worker is created in this batch.
    new_employments: list[dict] = dataclass_field(default_factory=list)
    employment_changes: list[dict] = dataclass_field(default_factory=list)


WORKER_WRITE_FIELDS = [
    "first_name",
    "last_name",
    "date_of_birth",
    "nhs_number",
    "home_postcode",
    "ethnicity",
    "match_key",
]
EMPLOYMENT_WRITE_FIELDS = [
    # Who the person is as this employer supplied it (docs/decisions/0011), then the job.
    *WORKER_WRITE_FIELDS,
    "staff_reference",
    "email",
    "mobile",
    "job_role",
    "work_setting",
    "employment_type",
    "direct_contact",
    "status",
    "left_at",
]


# What a new employment takes from its row; its employer, status and timestamps are shared.
NEW_EMPLOYMENT_FIELDS = [
    name for name in EMPLOYMENT_WRITE_FIELDS if name not in ("status", "left_at")
]


def save_staff_batch(
    *, employer_id: int, batch: StaffBatch, now: datetime.datetime
) -> tuple[list[int], list[int]]:
    """Store a batch; returns the ids of the new employments and of the changed ones.

    The caller owns the transaction (a staff list import is all or nothing). New employments
    of new workers get their ``worker_id`` filled in.
    """
    stamps = {"created_at": now, "updated_at": now}
    worker_ids = insert_rows(Worker, WORKER_WRITE_FIELDS, batch.new_workers, stamps)
    for values in batch.new_employments:
        index = values.get("new_worker")
        if index is not None:
            values["worker_id"] = worker_ids[index]
    employment_ids = insert_rows(
        Employment,
        ["worker_id", *NEW_EMPLOYMENT_FIELDS],
        batch.new_employments,
        {"employer_id": employer_id, "status": Employment.Status.ACTIVE, "left_at": None, **stamps},
    )
    update_rows(Worker, WORKER_WRITE_FIELDS, batch.worker_changes, now)
    update_rows(Employment, EMPLOYMENT_WRITE_FIELDS, batch.employment_changes, now)
    return employment_ids, [values["id"] for values in batch.employment_changes]
