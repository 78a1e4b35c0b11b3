"""The staff list import service: check every row of an upload in batches, preview what an
import would do, and import a clean upload atomically. Every query works on a batch of rows,
so the number of queries grows with batches, never with rows (docs/decisions/0003, and 0011
for whose records a row is matched against)."""

from __future__ import annotations

import datetime
import functools
import gc
import hashlib
import json
import logging
import operator
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from employers.models import (
    Employer,
    StaffUpload,
    StaffUploadBatch,
    StaffUploadChange,
    StaffUploadError,
    StaffUploadFile,
)
from employers.resources import DateOfBirthWidget, ReferenceValueWidget, StaffResource
from employers.staff_files import (
    UnreadableFile,
    cell_text,
    open_staff_file,
    screen_staff_file,
    sheet_from_table,
)
from portal import audit
from portal.bulk import insert_rows
from workers.models import Employment, Worker
from workers.services import (
    NEW_EMPLOYMENT_FIELDS,
    WORKER_WRITE_FIELDS,
    StaffBatch,
    save_staff_batch,
)
from workers.staff_columns import COLUMNS_BY_KEY, REQUIRED_ONE_OF
from workers.validation import match_key

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
# Serialises imports that may create workers, so two employers importing the same new person
# at once cannot both create them (PostgreSQL advisory lock key: "CVXW").
WORKER_IDENTITY_LOCK = 0x43565857

WORKER_FIELDS = WORKER_WRITE_FIELDS
# What a staff list row gives an employment: who the person is, as this employer supplied
# it, and the job (status and left date are the import's to set).
EMPLOYMENT_FIELDS = NEW_EMPLOYMENT_FIELDS
ROW_FIELDS = [*WORKER_FIELDS, *(name for name in EMPLOYMENT_FIELDS if name not in WORKER_FIELDS)]
MEMO_COLUMNS = [
    "first_name",
    "date_of_birth",
    "home_postcode",
    "job_role",
    "work_setting",
    "employment_type",
    "direct_contact",
    "ethnicity",
]

NOT_APPROVED = (
    "Your organisation was not approved, so this staff list was not imported. Nothing from "
    "it has been kept."
)
CHANGED_SINCE_CHECK = (
    "Some of the people in your file were changed by another upload after we checked it. "
    "Upload the file again to check it against the latest records."
)


class UploadNotReady(Exception):
    """The upload cannot be imported (it has errors, or is not checked yet)."""


@dataclass(slots=True)
class StaffRow:
    """One checked row: the values in their stored form."""

    row_number: int
    first_name: str
    last_name: str
    date_of_birth: datetime.date
    nhs_number: str | None
    home_postcode: str
    ethnicity: str
    match_key: str
    staff_reference: str
    email: str
    mobile: str
    job_role: str
    work_setting: str
    employment_type: str
    direct_contact: bool

    def to_json(self) -> list:
        values = [self.row_number] + [getattr(self, name) for name in ROW_FIELDS]
        values[3] = self.date_of_birth.isoformat()
        return values

    @classmethod
    def from_json(cls, values: list) -> StaffRow:
        row = cls(*values)
        row.date_of_birth = datetime.date.fromisoformat(values[3])
        return row

    def worker_values(self) -> dict:
        return dict(zip(WORKER_FIELDS, _worker_getter(self), strict=True))

    def employment_values(self, **extra) -> dict:
        values = dict(zip(EMPLOYMENT_FIELDS, _employment_getter(self), strict=True))
        values.update(extra)
        return values


_worker_getter = operator.attrgetter(*WORKER_FIELDS)
_employment_getter = operator.attrgetter(*EMPLOYMENT_FIELDS)


@dataclass(slots=True)
class Problem:
    row_number: int
    column: str
    value: str
    message: str

    def as_error(self, upload_id: int) -> StaffUploadError:
        return StaffUploadError(
            upload_id=upload_id,
            row_number=self.row_number,
            column=self.column[:80],
            value=self.value[:255],
            message=self.message[:500],
        )


@dataclass(slots=True)
class Outcome:
    """What importing one row does: a new or existing worker, a new or changed employment."""

    row: StaffRow
    action: str  # "new", "updated" or "unchanged"
    worker_id: int | None = None
    employment_id: int | None = None
    employment_was_active: bool = False
    # The worker's new identity values, when this employer alone may correct them.
    worker_changes: dict = field(default_factory=dict)
    # A new person's record takes the row's NHS number (False when another person holds it).
    new_person_nhs: bool = True


@dataclass
class Tally:
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error_rows: int = 0
    matched_active: int = 0
    employment_ids: set = field(default_factory=set)


class RowChecker:
    """Checks each row's cells with the StaffResource field widgets."""

    def __init__(self, resource: StaffResource | None = None):
        resource = resource or StaffResource()
        # Ages are worked out against one date for the whole file.
        today = timezone.localdate()
        self.fields = []
        for name, resource_field in resource.fields.items():
            column = COLUMNS_BY_KEY[name]
            widget = resource_field.widget
            blank = widget.blank() if isinstance(widget, ReferenceValueWidget) else None
            clean_cell = widget.clean
            if isinstance(widget, DateOfBirthWidget):
                clean_cell = functools.partial(widget.clean, today=today)
            self.fields.append(
                (
                    name,
                    column.header,
                    f"Enter the {column.header.lower()}" if column.required else None,
                    clean_cell,
                    "" if blank is None else blank,
                    # Texts that repeat down a list are checked once per distinct text.
                    {} if name in MEMO_COLUMNS else None,
                )
            )
        self.one_of = []
        for group in REQUIRED_ONE_OF:
            headers = " or ".join(COLUMNS_BY_KEY[name].header.lower() for name in group)
            self.one_of.append(
                (
                    group,
                    COLUMNS_BY_KEY[group[0]].header,
                    f"Enter an {headers}, so we can send the invitation",
                )
            )

    def check(self, row_number: int, values: dict) -> tuple[StaffRow | None, list[Problem]]:
        clean: dict = {}
        problems: list[Problem] = []
        for name, header, missing, clean_cell, blank, memo in self.fields:
            raw = values.get(name)
            if raw is None:
                if missing:
                    problems.append(Problem(row_number, header, "", missing))
                clean[name] = blank
                continue
            if memo is None or raw.__class__ is not str:
                try:
                    clean[name] = clean_cell(raw)
                except ValueError as exc:
                    problems.append(Problem(row_number, header, cell_text(raw), str(exc)))
                continue
            known = memo.get(raw)
            if known is None:
                try:
                    known = memo[raw] = (True, clean_cell(raw))
                except ValueError as exc:
                    known = memo[raw] = (False, str(exc))
            if known[0]:
                clean[name] = known[1]
            else:
                problems.append(Problem(row_number, header, raw, known[1]))
        for group, header, message in self.one_of:
            if not any(values.get(name) is not None for name in group):
                problems.append(Problem(row_number, header, "", message))
        if problems:
            return None, problems
        row = StaffRow(
            row_number=row_number,
            first_name=clean["first_name"],
            last_name=clean["last_name"],
            date_of_birth=clean["date_of_birth"],
            nhs_number=clean["nhs_number"] or None,
            home_postcode=clean["home_postcode"],
            ethnicity=clean["ethnicity"] or "",
            match_key=match_key(
                clean["first_name"],
                clean["last_name"],
                clean["date_of_birth"],
                clean["home_postcode"],
            ),
            staff_reference=clean["staff_reference"],
            email=clean["email"],
            mobile=clean["mobile"],
            job_role=clean["job_role"],
            work_setting=clean["work_setting"],
            employment_type=clean["employment_type"] or Employment.EmploymentType.EMPLOYED,
            direct_contact=bool(clean["direct_contact"]),
        )
        return row, []


class FileDuplicates:
    """Remembers who is in the file so far, to refuse the same person twice."""

    def __init__(self):
        self.nhs: dict[str, int] = {}
        self.references: dict[str, int] = {}
        self.keys: dict[str, int] = {}
        self.employments: dict[int, int] = {}
        self.people: dict[int, int] = {}

    def check(self, row: StaffRow) -> list[Problem]:
        problems = []
        if row.nhs_number:
            first = self.nhs.setdefault(row.nhs_number, row.row_number)
            if first != row.row_number:
                problems.append(
                    Problem(
                        row.row_number,
                        "NHS number",
                        row.nhs_number,
                        f"Row {first} has the same NHS number. Put each person in the file once: "
                        "remove the repeated row or correct the NHS number",
                    )
                )
        if row.staff_reference:
            reference = row.staff_reference.casefold()
            first = self.references.setdefault(reference, row.row_number)
            if first != row.row_number:
                problems.append(
                    Problem(
                        row.row_number,
                        "Staff reference",
                        row.staff_reference,
                        f"Row {first} has the same staff reference. Give each person their own "
                        "reference, or remove the repeated row",
                    )
                )
        first = self.keys.setdefault(row.match_key, row.row_number)
        if first != row.row_number:
            problems.append(
                Problem(
                    row.row_number,
                    "First name",
                    f"{row.first_name} {row.last_name}",
                    f"Row {first} has the same name, date of birth and home postcode. Put each "
                    "person in the file once: remove the repeated row",
                )
            )
        return problems

    def check_employment(self, row: StaffRow, employment_id: int) -> Problem | None:
        """Two rows that are the same record of the employer's own: the first stands."""
        first = self.employments.setdefault(employment_id, row.row_number)
        if first == row.row_number:
            return None
        return Problem(
            row.row_number,
            "First name",
            f"{row.first_name} {row.last_name}",
            f"This is the same person as row {first}. Put each person in the file once: "
            "remove the repeated row",
        )

    def claim_person(self, row: StaffRow, worker_id: int) -> bool:
        """Whether this row may be the person another employer supplied: not when an
        earlier row of the file already is (that is never the uploader's error)."""
        return self.people.setdefault(worker_id, row.row_number) == row.row_number


def batched(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


_WORKER_COLUMNS = ["id", *WORKER_FIELDS]
_OWN_COLUMNS = ["id", "worker_id", "status", *EMPLOYMENT_FIELDS]


class OwnRecords:
    """Where to find the employer's own records of a person: by NHS number, staff reference
    and name + date of birth + postcode as it supplied them. Read once per file (one scan of
    the employer's employments), so no index of its own is written with every employment; a
    file cannot match a record it makes itself, since its in-file duplicate checks refuse
    the same NHS number, reference or name + date of birth + postcode twice."""

    def __init__(self, employer_id: int):
        self.employer_id = employer_id
        self.by_nhs: dict[str, int] = {}
        self.by_reference: dict[str, int] = {}
        self.by_key: dict[str, tuple[int, str | None]] = {}
        # Oldest first, so the newest of two records of one person stands.
        for pk, nhs_number, reference, key in (
            Employment.objects.filter(employer_id=employer_id)
            .order_by("pk")
            .values_list("pk", "nhs_number", "staff_reference", "match_key")
            .iterator(chunk_size=BATCH_SIZE * 5)
        ):
            if nhs_number:
                self.by_nhs[nhs_number] = pk
            if reference:
                self.by_reference[reference] = pk
            self.by_key[key] = (pk, nhs_number)

    def find(self, row: StaffRow) -> int | None:
        """The employer's record this row is, if any."""
        if row.nhs_number and row.nhs_number in self.by_nhs:
            return self.by_nhs[row.nhs_number]
        if row.staff_reference and row.staff_reference in self.by_reference:
            return self.by_reference[row.staff_reference]
        candidate = self.by_key.get(row.match_key)
        # Two different NHS numbers are two different people, whatever their names.
        if candidate is not None and (
            not row.nhs_number or not candidate[1] or candidate[1] == row.nhs_number
        ):
            return candidate[0]
        return None


def match_batch(
    records: OwnRecords, rows: list[StaffRow], duplicates: FileDuplicates, *, find_people: bool
) -> tuple[list[Outcome], list[Problem]]:
    """Find what importing each row would change, with a fixed number of queries per batch
    (docs/decisions/0011).

    A row is first looked for among the employer's *own* records (``records``): that is all
    the check step does, so its answer never depends on what anyone else supplied. Only
    the import (``find_people``, once the employer is approved) matches a row with no record
    here to a person another employer supplied, and that changes nothing the uploader sees.
    """
    employer_id = records.employer_id
    found = {row.row_number: records.find(row) for row in rows}
    wanted = {pk for pk in found.values() if pk is not None}
    values_of = {}
    if wanted:
        values_of = {
            values["id"]: values
            for values in Employment.objects.filter(id__any_of=wanted)
            .order_by()
            .values(*_OWN_COLUMNS)
        }
    own: dict[int, dict] = {
        number: values_of[pk] for number, pk in found.items() if pk in values_of
    }

    people = _People.find(employer_id, rows, own) if find_people else None

    outcomes: list[Outcome] = []
    problems: list[Problem] = []
    for row in rows:
        employment = own.get(row.row_number)
        if employment is None:
            if people is None:
                outcomes.append(Outcome(row=row, action="new"))
            else:
                outcomes.append(people.new_employment(row, duplicates))
            continue
        duplicate = duplicates.check_employment(row, employment["id"])
        if duplicate:
            problems.append(duplicate)
            continue
        worker_changes = people.corrections(row, employment) if people is not None else {}
        was_active = employment["status"] == Employment.Status.ACTIVE
        changed = not was_active or any(
            employment[name] != value for name, value in row.employment_values().items()
        )
        outcomes.append(
            Outcome(
                row=row,
                action="updated" if changed else "unchanged",
                worker_id=employment["worker_id"],
                employment_id=employment["id"],
                employment_was_active=was_active,
                worker_changes=worker_changes,
            )
        )
    return outcomes, problems


class _People:
    """The people behind a batch's rows, for the import only: who each new row is, and
    whether the employer's corrections reach the person's record."""

    def __init__(self, employer_id: int):
        self.employer_id = employer_id
        self.workers: dict[int, dict] = {}
        self.by_nhs: dict[str, int] = {}
        self.by_key: dict[str, list[int]] = {}
        # People who already have an employment here, or another employer's.
        self.employed_here: set[int] = set()
        self.shared: set[int] = set()

    @classmethod
    def find(cls, employer_id: int, rows: list[StaffRow], own: dict[int, dict]) -> _People:
        people = cls(employer_id)
        nhs_numbers = {row.nhs_number for row in rows if row.nhs_number}
        keys = {row.match_key for row in rows if row.row_number not in own}
        own_ids = {employment["worker_id"] for employment in own.values()}
        if not (nhs_numbers or keys or own_ids):
            return people
        # No order_by() on the first: the default ordering would sort every batch for nothing.
        found = Worker.objects.filter(
            Q(nhs_number__any_of=nhs_numbers) | Q(match_key__any_of=keys) | Q(id__any_of=own_ids)
        )
        for values in found.order_by("-id").values(*_WORKER_COLUMNS):
            people.workers[values["id"]] = values
            if values["nhs_number"]:
                people.by_nhs[values["nhs_number"]] = values["id"]
            if values["match_key"] in keys:
                people.by_key.setdefault(values["match_key"], []).append(values["id"])
        if people.workers:
            for worker_id, other_employer in (
                Employment.objects.filter(worker_id__any_of=set(people.workers))
                .order_by()
                .values_list("worker_id", "employer_id")
            ):
                if other_employer == employer_id:
                    people.employed_here.add(worker_id)
                else:
                    people.shared.add(worker_id)
        return people

    def new_employment(self, row: StaffRow, duplicates: FileDuplicates) -> Outcome:
        """A row with no record at this employer: the person another employer supplied, when
        the NHS number (else name + date of birth + postcode) says it is them, else someone
        new. A person already taken by another record here or another row of the file is
        never merged into: the row becomes a person of its own, as if nobody else knew them."""
        candidates: list[int] = []
        if row.nhs_number and row.nhs_number in self.by_nhs:
            candidates = [self.by_nhs[row.nhs_number]]
        else:
            candidates = [
                worker_id
                for worker_id in self.by_key.get(row.match_key, ())
                if not row.nhs_number or not self.workers[worker_id]["nhs_number"]
            ]
        for worker_id in candidates:
            if worker_id not in self.employed_here and duplicates.claim_person(row, worker_id):
                return Outcome(row=row, action="new", worker_id=worker_id)
        # The NHS number is unique to a person's record: one already held elsewhere is kept
        # on this employment only.
        holds_nhs = bool(row.nhs_number) and row.nhs_number not in self.by_nhs
        return Outcome(row=row, action="new", new_person_nhs=holds_nhs)

    def corrections(self, row: StaffRow, employment: dict) -> dict:
        """The person's record follows the employer's corrections only while this employer
        alone supplied the person; otherwise the employment changes and the difference goes
        to the people who settle it (docs/decisions/0011)."""
        worker_id = employment["worker_id"]
        worker = self.workers.get(worker_id)
        if worker is None or worker_id in self.shared:
            return {}
        wanted = row.worker_values()
        holder = self.by_nhs.get(row.nhs_number) if row.nhs_number else None
        if not row.nhs_number or (holder is not None and holder != worker_id):
            wanted["nhs_number"] = worker["nhs_number"]
        if any(worker[name] != value for name, value in wanted.items()):
            return wanted
        return {}


@dataclass
class CheckedBatch:
    """One batch of rows as the checks left it: clean rows with what importing them would do,
    and the problems of the others (in row order)."""

    number: int
    size: int
    outcomes: list[Outcome]
    problems: list[Problem]
    bad_rows: set[int]


def check_batches(
    rows: Iterable[tuple[int, dict]], *, employer_id: int | None
) -> Iterator[CheckedBatch]:
    """Check ``rows`` in batches with the template's widgets and the in-file duplicate checks,
    and for an employer find each row among its own records (never anyone else's, so the
    answer for a row is the same whoever else knows the person). Reads, never writes: the
    upload stores what this finds, the eligibility preview only shows it."""
    checker = RowChecker()
    duplicates = FileDuplicates()
    records = None
    for number, raw_batch in enumerate(batched(rows, BATCH_SIZE)):
        clean: list[StaffRow] = []
        problems: list[Problem] = []
        bad_rows: set[int] = set()
        for row_number, values in raw_batch:
            row, row_problems = checker.check(row_number, values)
            if row is not None:
                row_problems = duplicates.check(row)
            if row_problems:
                problems.extend(row_problems)
                bad_rows.add(row_number)
            else:
                clean.append(row)
        if employer_id is None:
            # No employer: nobody to match against, every clean row would be someone new.
            outcomes = [Outcome(row=row, action="new") for row in clean]
        else:
            records = records or OwnRecords(employer_id)
            outcomes, match_problems = match_batch(records, clean, duplicates, find_people=False)
            problems.extend(match_problems)
            bad_rows.update(problem.row_number for problem in match_problems)
        problems.sort(key=lambda problem: problem.row_number)
        yield CheckedBatch(number, len(raw_batch), outcomes, problems, bad_rows)


@contextmanager
def _cycle_collector_paused():
    """Checking and importing rows makes millions of short-lived objects and no reference
    cycles worth collecting on the way; Python's cycle collector, woken every few hundred
    allocations, would spend about a sixth of the time looking through them. It is paused
    for the batch loop and resumed (if it was running) after, garbage and all."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@_cycle_collector_paused()
def check_rows(
    *, upload: StaffUpload, rows: Iterable[tuple[int, dict]], stage: bool = True
) -> Tally:
    """Check ``rows`` in batches: store problems, stage clean rows, count the preview."""
    tally = Tally()
    for batch in check_batches(rows, employer_id=upload.employer_id):
        if batch.problems:
            StaffUploadError.objects.bulk_create(
                [problem.as_error(upload.pk) for problem in batch.problems], batch_size=BATCH_SIZE
            )
        tally.rows += batch.size
        tally.error_rows += len(batch.bad_rows)
        for outcome in batch.outcomes:
            setattr(tally, outcome.action, getattr(tally, outcome.action) + 1)
            if outcome.employment_id is not None:
                tally.employment_ids.add(outcome.employment_id)
                tally.matched_active += outcome.employment_was_active
        if stage and not tally.error_rows:
            StaffUploadBatch.objects.create(
                upload=upload,
                number=batch.number,
                rows=zlib.compress(
                    json.dumps([outcome.row.to_json() for outcome in batch.outcomes]).encode(), 1
                ),
            )
        StaffUpload.objects.filter(pk=upload.pk).update(
            rows_done=tally.rows, total_rows=max(upload.total_rows, tally.rows)
        )
    return tally


def _active_count(employer_id: int) -> int:
    return Employment.objects.filter(
        employer_id=employer_id, status=Employment.Status.ACTIVE
    ).count()


def create_upload(
    *,
    user,
    employer: Employer,
    content: bytes,
    filename: str,
    mode: str = StaffUpload.Mode.ADD,
    enqueue: bool = True,
) -> StaffUpload:
    """Store an uploaded staff list and queue its check.

    Raises UnreadableFile (nothing stored) if the file's cheap checks find it cannot be read
    as a staff list; the check job reads the rest (a workbook in full). The same file
    uploaded again while an earlier copy is still open returns that upload.
    """
    estimated_rows = screen_staff_file(content, filename)
    file_hash = hashlib.sha256(content).hexdigest()
    open_statuses = [
        StaffUpload.Status.VALIDATING,
        StaffUpload.Status.READY,
        StaffUpload.Status.IMPORTING,
        StaffUpload.Status.WAITING,
    ]
    try:
        with transaction.atomic():
            upload = StaffUpload.objects.create(
                employer=employer,
                uploaded_by=user if user is not None and user.pk else None,
                original_filename=(filename or "staff list")[:255],
                file_hash=file_hash,
                mode=mode,
                total_rows=estimated_rows,
            )
            StaffUploadFile.objects.create(upload=upload, content=content)
            audit.record(
                verb="staff_upload.created",
                actor=user,
                target=upload,
                details={"employer_id": employer.pk, "file_hash": file_hash, "mode": mode},
            )
            if enqueue:
                from employers.tasks import validate_staff_upload_task

                upload_id = upload.pk
                transaction.on_commit(lambda: validate_staff_upload_task.delay(upload_id))
    except IntegrityError:
        # The same file is already being checked or waiting for review: that one wins.
        existing = StaffUpload.objects.filter(
            employer=employer, file_hash=file_hash, status__in=open_statuses
        ).first()
        if existing is None:
            raise
        return existing
    return upload


def validate_upload(upload_id: int) -> StaffUpload:
    """Check a stored upload (idempotent: an upload already checked is left as it is)."""
    upload = StaffUpload.objects.select_related("employer").get(pk=upload_id)
    if upload.status != StaffUpload.Status.VALIDATING:
        return upload
    content = (
        StaffUploadFile.objects.filter(upload_id=upload_id)
        .values_list("content", flat=True)
        .first()
    )
    # A run that died part-way leaves partial results; start again from the first row.
    StaffUploadError.objects.filter(upload_id=upload_id).delete()
    StaffUploadBatch.objects.filter(upload_id=upload_id).delete()
    if content is None:
        return _fail(upload, "The uploaded file is no longer stored. Upload it again.")
    try:
        sheet = open_staff_file(bytes(content), upload.original_filename)
        upload.warnings = sheet.warnings
        upload.save(update_fields=["warnings"])
        tally = check_rows(upload=upload, rows=sheet.rows())
    except UnreadableFile as exc:
        return _fail(upload, exc.message)
    return _finish_check(upload, tally)


def _finish_check(upload: StaffUpload, tally: Tally) -> StaffUpload:
    upload.refresh_from_db()
    upload.total_rows = upload.rows_done = tally.rows
    upload.new_count = tally.new
    upload.updated_count = tally.updated
    upload.unchanged_count = tally.unchanged
    upload.error_count = tally.error_rows
    upload.left_count = 0
    if upload.mode == StaffUpload.Mode.REPLACE:
        upload.left_count = _active_count(upload.employer_id) - tally.matched_active
    upload.status = StaffUpload.Status.READY
    upload.validated_at = timezone.now()
    upload.save()
    if tally.error_rows:
        # An upload with errors can never be imported: keep the errors, drop the people's data.
        _discard_content(upload.pk)
    return upload


def _fail(upload: StaffUpload, reason: str) -> StaffUpload:
    StaffUploadError.objects.filter(upload_id=upload.pk).delete()
    _discard_content(upload.pk)
    StaffUpload.objects.filter(pk=upload.pk).update(
        status=StaffUpload.Status.FAILED, failure_reason=reason
    )
    upload.refresh_from_db()
    return upload


def _discard_content(upload_id: int) -> None:
    StaffUploadBatch.objects.filter(upload_id=upload_id).delete()
    StaffUploadFile.objects.filter(upload_id=upload_id).delete()


def request_import(*, user, upload: StaffUpload) -> StaffUpload:
    """Confirm a clean upload: mark it importing and queue the import, once however often."""
    with transaction.atomic():
        locked = StaffUpload.objects.select_for_update().get(pk=upload.pk)
        if not locked.can_import:
            return locked
        locked.status = StaffUpload.Status.IMPORTING
        locked.imported_by = user if user is not None and user.pk else None
        locked.save(update_fields=["status", "imported_by"])
        from employers.tasks import import_staff_upload_task

        upload_id, user_id = locked.pk, getattr(user, "pk", None)
        transaction.on_commit(lambda: import_staff_upload_task.delay(upload_id, user_id))
    return locked


def commit_staff_upload(*, user, upload: StaffUpload) -> StaffUpload:
    """Import a clean, checked upload in one transaction: all of it or nothing.

    Safe to call twice or at once from two places: the upload row is locked and an upload
    already imported is returned as it is.
    """
    try:
        with transaction.atomic():
            locked = (
                StaffUpload.objects.select_for_update().select_related("employer").get(pk=upload.pk)
            )
            if locked.status == StaffUpload.Status.IMPORTED:
                return locked
            if locked.status not in IMPORTABLE or locked.error_count:
                raise UploadNotReady(
                    "This upload cannot be imported: it has errors or has not been checked."
                )
            _lock_identities(locked.employer_id)
            locked.employer.refresh_from_db(fields=["status"])
            if locked.employer.status == Employer.Status.REJECTED:
                raise _EmployerRejected()
            if locked.employer.status != Employer.Status.APPROVED:
                return _wait_for_approval(locked, user)
            tally = _import_batches(locked)
            now = timezone.now()
            left = 0
            if locked.mode == StaffUpload.Mode.REPLACE:
                left = _mark_left(locked, tally.employment_ids, now)
            locked.status = StaffUpload.Status.IMPORTED
            locked.new_count = tally.new
            locked.updated_count = tally.updated
            locked.unchanged_count = tally.unchanged
            locked.left_count = left
            locked.imported_at = now
            if user is not None and user.pk:
                locked.imported_by = user
            locked.save()
            _discard_content(locked.pk)
            from employers.tasks import assess_imported_staff_task

            employer_id = locked.employer_id
            # New and changed staff are assessed against the eligibility rules once imported.
            transaction.on_commit(lambda: assess_imported_staff_task.delay(employer_id))
            audit.record(
                verb="staff_upload.imported",
                actor=user,
                target=locked,
                details={
                    "employer_id": locked.employer_id,
                    "new": tally.new,
                    "updated": tally.updated,
                    "unchanged": tally.unchanged,
                    "left": left,
                },
            )
            return locked
    except _ChangedSinceCheck:
        return _fail(upload, CHANGED_SINCE_CHECK)
    except _EmployerRejected:
        return _fail(upload, NOT_APPROVED)


IMPORTABLE = (
    StaffUpload.Status.READY,
    StaffUpload.Status.IMPORTING,
    StaffUpload.Status.WAITING,
)


def _wait_for_approval(upload: StaffUpload, user) -> StaffUpload:
    """An organisation not yet approved has its confirmed list kept apart, unmatched and
    unassessed, until its local authority approves it (docs/decisions/0011)."""
    if upload.status != StaffUpload.Status.WAITING:
        upload.status = StaffUpload.Status.WAITING
        if user is not None and user.pk:
            upload.imported_by = user
        upload.save(update_fields=["status", "imported_by"])
        audit.record(
            verb="staff_upload.waiting_for_approval",
            actor=user,
            target=upload,
            details={"employer_id": upload.employer_id},
        )
    return upload


def release_waiting_uploads(*, employer: Employer) -> list[int]:
    """Once ``employer`` is decided: import its waiting lists in the order they were
    confirmed (after the decision commits), or, if it was rejected, discard them."""
    waiting = list(
        StaffUpload.objects.filter(employer=employer, status=StaffUpload.Status.WAITING)
        .order_by("uploaded_at", "pk")
        .values_list("pk", flat=True)
    )
    if not waiting:
        return []
    if employer.status != Employer.Status.APPROVED:
        for upload in StaffUpload.objects.filter(pk__in=waiting):
            _fail(upload, NOT_APPROVED)
        return waiting
    from employers.tasks import import_waiting_uploads_task

    employer_id = employer.pk
    transaction.on_commit(lambda: import_waiting_uploads_task.delay(employer_id))
    return waiting


def import_waiting(*, employer_id: int) -> int:
    """The job behind ``release_waiting_uploads``: import each waiting list in turn (safe to
    run twice: an imported list is left as it is)."""
    done = 0
    for upload in StaffUpload.objects.filter(
        employer_id=employer_id, status=StaffUpload.Status.WAITING
    ).order_by("uploaded_at", "pk"):
        user = upload.imported_by
        if commit_staff_upload(user=user, upload=upload).status == StaffUpload.Status.IMPORTED:
            done += 1
    return done


def import_confirmed_upload(*, upload_id: int, user_id: int | None) -> StaffUpload:
    """The import job's work: the upload was scoped to its employer's user at confirmation."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    upload = StaffUpload.objects.get(pk=upload_id)
    try:
        return commit_staff_upload(user=user, upload=upload)
    except UploadNotReady:
        logger.warning("Staff upload %s was not ready to import", upload_id)
        return upload


class _ChangedSinceCheck(Exception):
    pass


class _EmployerRejected(Exception):
    pass


def _lock_identities(employer_id: int) -> None:
    Employer.objects.select_for_update().filter(pk=employer_id).exists()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WORKER_IDENTITY_LOCK])


def _staged_rows(upload: StaffUpload) -> Iterator[list[StaffRow]]:
    numbers = list(
        StaffUploadBatch.objects.filter(upload=upload)
        .order_by("number")
        .values_list("id", flat=True)
    )
    for batch_id in numbers:
        payload = StaffUploadBatch.objects.filter(pk=batch_id).values_list("rows", flat=True).get()
        yield [StaffRow.from_json(values) for values in json.loads(zlib.decompress(payload))]


@_cycle_collector_paused()
def _import_batches(upload: StaffUpload) -> Tally:
    duplicates = FileDuplicates()
    records = None
    tally = Tally()
    now = timezone.now()
    for rows in _staged_rows(upload):
        for row in rows:
            # Refill the in-file duplicate memory so a person is still refused twice.
            duplicates.check(row)
        records = records or OwnRecords(upload.employer_id)
        outcomes, problems = match_batch(records, rows, duplicates, find_people=True)
        if problems:
            raise _ChangedSinceCheck()
        _write_outcomes(upload=upload, outcomes=outcomes, now=now)
        tally.rows += len(rows)
        for outcome in outcomes:
            setattr(tally, outcome.action, getattr(tally, outcome.action) + 1)
            if outcome.employment_id is not None:
                tally.employment_ids.add(outcome.employment_id)
    return tally


def _write_outcomes(*, upload: StaffUpload, outcomes: list[Outcome], now) -> None:
    batch = StaffBatch()
    for outcome in outcomes:
        row = outcome.row
        if outcome.worker_id is None:
            batch.new_employments.append(row.employment_values(new_worker=len(batch.new_workers)))
            person = row.worker_values()
            if not outcome.new_person_nhs:
                person["nhs_number"] = None
            batch.new_workers.append(person)
            continue
        if outcome.worker_changes:
            batch.worker_changes.append({"id": outcome.worker_id, **outcome.worker_changes})
        if outcome.employment_id is None:
            batch.new_employments.append(row.employment_values(worker_id=outcome.worker_id))
        elif outcome.action == "updated":
            batch.employment_changes.append(
                row.employment_values(
                    id=outcome.employment_id, status=Employment.Status.ACTIVE, left_at=None
                )
            )
    created, updated = save_staff_batch(employer_id=upload.employer_id, batch=batch, now=now)
    for outcome, employment_id in zip(
        (o for o in outcomes if o.employment_id is None), created, strict=True
    ):
        outcome.employment_id = employment_id
    _record_changes(upload, created, StaffUploadChange.Action.CREATED)
    _record_changes(upload, updated, StaffUploadChange.Action.UPDATED)


def _record_changes(upload: StaffUpload, employment_ids: list[int], action: str) -> None:
    insert_rows(
        StaffUploadChange,
        ["employment_id"],
        [{"employment_id": pk} for pk in employment_ids],
        {"upload_id": upload.pk, "action": action},
    )


def _mark_left(upload: StaffUpload, kept_ids: set, now) -> int:
    active_ids = Employment.objects.filter(
        employer_id=upload.employer_id, status=Employment.Status.ACTIVE
    ).values_list("id", flat=True)
    leaving = [pk for pk in active_ids.iterator(chunk_size=BATCH_SIZE) if pk not in kept_ids]
    for ids in batched(leaving, BATCH_SIZE):
        Employment.objects.filter(id__any_of=ids).update(
            status=Employment.Status.LEFT, left_at=now, updated_at=now
        )
        _record_changes(upload, ids, StaffUploadChange.Action.LEFT)
    return len(leaving)


def upload_from_dataset(
    *, user, employer: Employer, dataset, mode: str, file_name: str, dry_run: bool
) -> StaffUpload:
    """Check (and unless ``dry_run``, import) a tablib dataset, as the Django admin does."""
    upload = StaffUpload.objects.create(
        employer=employer,
        uploaded_by=user if user is not None and user.pk else None,
        original_filename=(file_name or "admin import")[:255],
        file_hash=hashlib.sha256(dataset.export("csv").encode()).hexdigest(),
        mode=mode,
        total_rows=len(dataset),
        status=StaffUpload.Status.VALIDATING,
    )
    rows = ((number, cells) for number, cells in enumerate(dataset, start=2))
    try:
        sheet = sheet_from_table("table", dataset.headers or [], rows, len(dataset))
        upload.warnings = sheet.warnings
        upload.save(update_fields=["warnings"])
        tally = check_rows(upload=upload, rows=sheet.rows())
    except UnreadableFile as exc:
        return _fail(upload, exc.message)
    upload = _finish_check(upload, tally)
    if not dry_run and upload.can_import:
        upload = commit_staff_upload(user=user, upload=upload)
    return upload
