"""One person behind several employers' records: where what the employers supplied differs
from the record the programme holds, what each viewer may be shown of that, and settling it
(docs/decisions/0011). Employers never reach this module: they see only their own records."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from portal import audit
from portal.roles import is_administrator, is_local_lead
from workers.models import Employment, Worker
from workers.validation import match_key

# The identity an employer supplies, in the order pages show it.
IDENTITY_FIELDS = (
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("date_of_birth", "Date of birth"),
    ("nhs_number", "NHS number"),
    ("home_postcode", "Home postcode"),
)


def _comparable(name: str, value):
    if name in ("first_name", "last_name"):
        return " ".join((value or "").split()).casefold()
    return value


def differing_fields(employment: Employment, worker: Worker) -> list[str]:
    """The identity fields where this employer's record differs from the person's record.
    An NHS number the employer did not give differs from nothing."""
    names = []
    for name, _label in IDENTITY_FIELDS:
        supplied = getattr(employment, name)
        if name == "nhs_number" and not supplied:
            continue
        if _comparable(name, supplied) != _comparable(name, getattr(worker, name)):
            names.append(name)
    return names


def shown_value(name: str, value) -> str:
    if value in (None, ""):
        return "Not given"
    if name == "date_of_birth":
        return f"{value.day} {value:%B %Y}"
    return str(value)


@dataclass
class Difference:
    """One identity field on which the records of a person disagree, as one viewer sees it:
    the values of the records they may see, and whether others they may not see disagree."""

    name: str
    label: str
    values: list[tuple[str, str]] = field(default_factory=list)
    outside_scope: bool = False


@dataclass
class IdentityReview:
    differences: list[Difference]
    # Whether the viewer may see every employer's record of this person (and so the record
    # the programme holds), and whether they may settle which one it takes.
    sees_every_record: bool
    may_settle: bool
    record: list[tuple[str, str]]


def _records(worker: Worker) -> list[Employment]:
    # Every employer's record of the person, to compare: what a viewer is shown of them is
    # decided below, record by record, by the same scope as every other page.
    return list(Employment.objects.filter(worker=worker).select_related("employer").order_by("pk"))


def may_settle(user, worker: Worker, records: list[Employment] | None = None) -> bool:
    """An administrator settles any person; a local lead only a person every one of whose
    records is in their area (they may see all the values)."""
    if is_administrator(user):
        return True
    if not is_local_lead(user):
        return False
    records = _records(worker) if records is None else records
    return bool(records) and all(
        employment.employer.local_authority_id == user.local_authority_id for employment in records
    )


def identity_review(*, user, worker: Worker) -> IdentityReview:
    """What ``user`` may be told of where the records of ``worker`` disagree."""
    records = _records(worker)
    visible = set(
        Employment.objects.visible_to(user).filter(worker=worker).values_list("pk", flat=True)
    )
    sees_every_record = bool(records) and all(e.pk in visible for e in records)
    differences = []
    for name, label in IDENTITY_FIELDS:
        held = _comparable(name, getattr(worker, name))
        disagree = {
            e.pk
            for e in records
            if not (name == "nhs_number" and not e.nhs_number)
            and _comparable(name, getattr(e, name)) != held
        }
        if not disagree:
            continue
        difference = Difference(name=name, label=label)
        seen_values = set()
        for employment in records:
            if employment.pk not in visible:
                continue
            value = getattr(employment, name)
            seen_values.add(_comparable(name, value))
            difference.values.append((employment.employer.name, shown_value(name, value)))
        hidden_values = {
            _comparable(name, getattr(e, name)) for e in records if e.pk not in visible
        }
        if not sees_every_record:
            hidden_values.add(held)
        difference.outside_scope = bool(hidden_values - seen_values)
        if sees_every_record:
            difference.values.append(("Record used for invitations", shown_value(name, held)))
        differences.append(difference)
    record = []
    if sees_every_record:
        record = [
            (label, shown_value(name, getattr(worker, name))) for name, label in IDENTITY_FIELDS
        ]
    return IdentityReview(
        differences=differences,
        sees_every_record=sees_every_record,
        may_settle=bool(differences) and may_settle(user, worker, records),
        record=record,
    )


@transaction.atomic
def settle_identity(*, user, employment: Employment, request=None) -> Worker:
    """Make the person's record take the identity this employer supplied (names, date of
    birth, postcode, and the NHS number where it gave one), recorded in the audit log."""
    worker = Worker.objects.select_for_update().get(pk=employment.worker_id)
    if not may_settle(user, worker):
        raise PermissionDenied(
            "Only a national administrator can settle the details of a person whose records "
            "are held by employers in more than one area."
        )
    employment = Employment.objects.get(pk=employment.pk, worker=worker)
    if employment.date_of_birth is None:
        raise ValidationError("This employer's record has no date of birth to use.")
    nhs_number = employment.nhs_number or worker.nhs_number
    if (
        nhs_number
        and nhs_number != worker.nhs_number
        and Worker.objects.filter(nhs_number=nhs_number).exclude(pk=worker.pk).exists()
    ):
        raise ValidationError(
            "Another person's record has this NHS number. Ask a national administrator to "
            "check both records."
        )
    before = {name: str(getattr(worker, name) or "") for name, _label in IDENTITY_FIELDS}
    worker.first_name = employment.first_name
    worker.last_name = employment.last_name
    worker.date_of_birth = employment.date_of_birth
    worker.nhs_number = nhs_number
    worker.home_postcode = employment.home_postcode
    worker.match_key = match_key(
        worker.first_name, worker.last_name, worker.date_of_birth, worker.home_postcode
    )
    worker.save()
    changed = [
        name for name, _label in IDENTITY_FIELDS if before[name] != str(getattr(worker, name) or "")
    ]
    audit.record(
        verb="worker_identity_settled",
        actor=user,
        target=worker,
        details={"from_employment_id": employment.pk, "fields": changed},
        request=request,
    )
    return worker
