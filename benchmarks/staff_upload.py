"""``bench import``: the staff list import against a national-size table of workers.

Builds (once, with COPY) a million existing workers employed by a marked benchmark employer,
writes a staff list of ``--rows`` rows (some people already known, some without an NHS
number), checks and imports it, and compares the speed with django-import-export's default
``ModelResource`` import of the same kind of rows into the same tables."""

from __future__ import annotations

import csv
import datetime
import io
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from unittest import mock

from django.db import connection, transaction
from django.utils import timezone

EXISTING_EMPLOYER = "Carevax benchmark: existing staff"
RUN_EMPLOYER = "Carevax benchmark: import run"
FIRST_NAMES = [
    "Amara", "Ben", "Chloe", "Dev", "Ella", "Femi", "Grace", "Hassan", "Isla", "Jack",
    "Kavya", "Liam", "Maya", "Noah", "Olivia", "Priya", "Quinn", "Ruth", "Sam", "Tomasz",
]  # fmt: skip
LAST_NAMES = [
    "Okafor", "Smith", "Jones", "Patel", "Khan", "Williams", "Brown", "Taylor", "Nowak",
    "Davies", "Evans", "Wilson", "Thomas", "Roberts", "Johnson", "Lewis", "Walker", "Wright",
]  # fmt: skip
HEADER = [
    "First name", "Last name", "Date of birth", "NHS number", "Home postcode", "Email",
    "Mobile", "Job role", "Work setting", "Employment type",
    "Direct contact with clinically vulnerable people", "Staff reference", "Ethnicity",
]  # fmt: skip
JOB_ROLES = ["Care worker", "Senior care worker", "Support worker", "Registered nurse"]
SETTINGS = ["Care home for older adults", "Domiciliary care", "Supported living", "Nursing home"]


def add_arguments(parser) -> None:
    parser.add_argument("--rows", type=int, default=50_000, help="Rows in the staff list.")
    parser.add_argument(
        "--existing", type=int, default=1_000_000, help="Workers stored before the import."
    )
    parser.add_argument(
        "--baseline-rows", type=int, default=2_000, help="Rows for the ModelResource baseline."
    )
    parser.add_argument("--seed", type=int, default=2021)


def nhs_number(serial: int) -> str | None:
    """A valid NHS number made from ``serial`` (None where no check digit exists)."""
    body = f"{serial:09d}"
    total = sum(int(digit) * weight for digit, weight in zip(body, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 10:
        return None
    return body + str(0 if check == 11 else check)


def _outward_codes() -> list[str]:
    from portal.postcodes import DATA, is_valid_postcode

    with open(DATA, newline="") as handle:
        return [
            row["outcode"]
            for row in csv.DictReader(handle)
            if row["country"] == "England" and is_valid_postcode(f"{row['outcode']} 1AB")
        ]


def _person(rng: random.Random, serial: int, outcodes: list[str]) -> dict:
    return {
        "first_name": rng.choice(FIRST_NAMES),
        "last_name": f"{rng.choice(LAST_NAMES)}{serial}",
        "date_of_birth": datetime.date(1960, 1, 1) + datetime.timedelta(days=rng.randrange(14000)),
        "nhs_number": nhs_number(serial),
        "home_postcode": f"{rng.choice(outcodes)} {rng.randrange(10)}AB",
    }


@contextmanager
def _peak_rss():
    """Sample this process's resident memory every 20 ms; yields a dict given the peak (MB)."""
    figures = {"peak_mb": 0.0}
    stop = threading.Event()

    def rss_mb() -> float:
        with open(f"/proc/{os.getpid()}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def sample():
        while not stop.is_set():
            figures["peak_mb"] = max(figures["peak_mb"], rss_mb())
            stop.wait(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    figures["peak_mb"] = rss_mb()
    thread.start()
    try:
        yield figures
    finally:
        stop.set()
        thread.join()


@contextmanager
def _count_queries():
    counted = {"queries": 0}

    def count(execute, sql, params, many, context):
        counted["queries"] += 1
        return execute(sql, params, many, context)

    from portal import bulk

    real_copy = bulk._copy_into

    def counted_copy(*args, **kwargs):
        counted["queries"] += 1
        return real_copy(*args, **kwargs)

    with connection.execute_wrapper(count), mock.patch.object(bulk, "_copy_into", counted_copy):
        yield counted


def _database_cpu_clock():
    """A function giving the CPU seconds used so far by the PostgreSQL server process behind
    this connection, read from /proc; it gives None when that process is not on this
    machine (or the database is not PostgreSQL)."""
    if connection.vendor != "postgresql":
        return lambda: None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    ticks = os.sysconf("SC_CLK_TCK")

    def seconds() -> float | None:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # utime and stime, the 14th and 15th fields (the split starts at the 3rd).
        return (int(fields[11]) + int(fields[12])) / ticks

    return seconds


def _difference(end: float | None, start: float | None) -> float | None:
    return None if end is None or start is None else round(end - start, 3)


def ensure_existing_workers(count: int, stdout, seed: int) -> object:
    """The marked employer whose staff are the stored workers; built with COPY if short."""
    from employers.models import Employer
    from portal.models import LocalAuthority
    from workers.models import Employment

    employer, _ = Employer.objects.get_or_create(
        name=EXISTING_EMPLOYER,
        defaults={
            "kind": Employer.Kind.NON_REGISTERED,
            "postcode": "SW1A 1AA",
            "local_authority": LocalAuthority.objects.get(gss_code="E09000033"),
            "status": Employer.Status.APPROVED,
        },
    )
    have = Employment.objects.filter(employer=employer).count()
    if have >= count:
        stdout.write(f"{have} existing workers already stored.")
        return employer
    stdout.write(f"Storing {count - have} more existing workers with COPY...")
    started = time.perf_counter()
    people = _existing_people(random.Random(seed + have), 400_000_000 + have, count - have)
    if connection.vendor == "postgresql":
        _copy_existing_workers(employer.pk, people)
    else:
        _save_existing_workers(employer.pk, people)
    stdout.write(f"Stored in {time.perf_counter() - started:.1f} s.")
    return employer


def _existing_people(rng: random.Random, first_serial: int, count: int) -> Iterator[dict]:
    from workers.validation import match_key

    outcodes = _outward_codes()
    for serial in range(first_serial, first_serial + count):
        person = _person(rng, serial, outcodes)
        person["match_key"] = match_key(
            person["first_name"],
            person["last_name"],
            person["date_of_birth"],
            person["home_postcode"],
        )
        person["serial"] = serial + 1
        yield person


# The existing staff's employment details, as stored (codes, not labels).
_EXISTING_JOB = ("care_worker", "care_home_older_adults", "employed")
_FIXTURE_TABLES = ("workers_worker", "workers_employment")
_FIXTURE_CHUNK = 100_000
NULL = "\\N"


def _copy_existing_workers(employer_id: int, people: Iterator[dict]) -> None:
    """Workers and their employments in one transaction: the two tables' secondary indexes,
    unique and foreign key constraints are dropped first and built once at the end, so a
    million rows are one sequential write each instead of a million index insertions and
    deferred foreign key checks. DDL is transactional: a failure restores everything."""
    from portal.bulk import take_ids

    now = timezone.now().isoformat()
    job_role, work_setting, employment_type = _EXISTING_JOB
    worker_columns = "id, first_name, last_name, date_of_birth, nhs_number, home_postcode"
    worker_columns += ", ethnicity, match_key, created_at, updated_at"
    employment_columns = "id, worker_id, employer_id, staff_reference, email, mobile, job_role"
    employment_columns += ", work_setting, employment_type, direct_contact, status, left_at"
    employment_columns += ", created_at, updated_at, current_decision_id"
    employment_columns += ", eligibility_decided, eligibility_outcome, information_requested"
    employment_columns += ", first_name, last_name, date_of_birth, nhs_number, home_postcode"
    employment_columns += ", ethnicity, match_key"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        # Foreign key checks still pending (an employer made earlier in the same transaction)
        # would forbid changing the tables' constraints: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"LOCK TABLE {', '.join(_FIXTURE_TABLES)} IN ACCESS EXCLUSIVE MODE")
        rebuild = _drop_secondary_indexes(cursor, _FIXTURE_TABLES)
        while chunk := list(islice(people, _FIXTURE_CHUNK)):
            worker_ids = take_ids(cursor, "workers_worker", len(chunk))
            employment_ids = take_ids(cursor, "workers_employment", len(chunk))
            workers, employments = io.StringIO(), io.StringIO()
            for worker_id, employment_id, person in zip(
                worker_ids, employment_ids, chunk, strict=True
            ):
                serial = person["serial"]
                nhs = person["nhs_number"] or NULL
                workers.write(
                    f"{worker_id}\t{person['first_name']}\t{person['last_name']}\t"
                    f"{person['date_of_birth'].isoformat()}\t{nhs}\t"
                    f"{person['home_postcode']}\tZ\t{person['match_key']}\t{now}\t{now}\n"
                )
                # The employer's own copy of who the person is (docs/decisions/0011).
                identity = (
                    f"{person['first_name']}\t{person['last_name']}\t"
                    f"{person['date_of_birth'].isoformat()}\t{nhs}\t"
                    f"{person['home_postcode']}\tZ\t{person['match_key']}"
                )
                employments.write(
                    f"{employment_id}\t{worker_id}\t{employer_id}\tEX{serial}\t"
                    f"existing{serial}@example.org\t\t{job_role}\t{work_setting}\t"
                    f"{employment_type}\tt\tactive\t{NULL}\t{now}\t{now}\t{NULL}\tf\t\tf\t"
                    f"{identity}\n"
                )
            for table, columns, buffer in (
                ("workers_worker", worker_columns, workers),
                ("workers_employment", employment_columns, employments),
            ):
                buffer.seek(0)
                cursor.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)
        for statement in rebuild:
            cursor.execute(statement)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    with connection.cursor() as cursor:
        for table in _FIXTURE_TABLES:
            cursor.execute(f"ANALYZE {table}")


def _drop_secondary_indexes(cursor, tables: tuple[str, ...]) -> list[str]:
    """Drop every index, unique and foreign key constraint of ``tables`` but the primary
    keys (which other tables' foreign keys need); return the statements that rebuild them."""
    rebuild_indexes, rebuild_constraints = [], []
    for table in tables:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            rebuild_constraints.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = %s::regclass AND NOT indisprimary",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f"DROP INDEX {name}")
            rebuild_indexes.append(definition)
    # Unique constraints before foreign keys: a foreign key may need a referenced key's index.
    return rebuild_indexes + sorted(rebuild_constraints, key=lambda s: "FOREIGN KEY" in s)


def _save_existing_workers(employer_id: int, people: Iterator[dict]) -> None:
    """The same rows through the import's own batch writer (databases without COPY)."""
    from workers.services import StaffBatch, save_staff_batch

    job_role, work_setting, employment_type = _EXISTING_JOB
    now = timezone.now()
    while chunk := list(islice(people, 10_000)):
        batch = StaffBatch()
        for person in chunk:
            serial = person.pop("serial")
            batch.new_employments.append(
                {
                    "new_worker": len(batch.new_workers),
                    "staff_reference": f"EX{serial}",
                    "email": f"existing{serial}@example.org",
                    "mobile": "",
                    "job_role": job_role,
                    "work_setting": work_setting,
                    "employment_type": employment_type,
                    "direct_contact": True,
                    **person,
                    "ethnicity": "Z",
                }
            )
            batch.new_workers.append({**person, "ethnicity": "Z"})
        with transaction.atomic():
            save_staff_batch(employer_id=employer_id, batch=batch, now=now)


def staff_list(rows: int, existing_employer, run_number: int, seed: int) -> bytes:
    """A CSV staff list: 20% people already stored, 10% without an NHS number."""
    from workers.models import Worker

    rng = random.Random(seed + run_number)
    outcodes = _outward_codes()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    # Each run takes its known people from a fresh slice of the stored workers, so earlier
    # runs (which gave those people a second employment) do not change what a run measures.
    first = (run_number - 1) * (rows // 5)
    known = list(
        Worker.objects.filter(employments__employer=existing_employer)
        .order_by("id")
        .values(*["first_name", "last_name", "date_of_birth", "nhs_number", "home_postcode"])[
            first : first + rows // 5
        ]
    )
    new_serial = 600_000_000 + run_number * rows * 2
    for index in range(rows):
        if index % 5 == 0 and known:
            person = known.pop()
        else:
            person = _person(rng, new_serial, outcodes)
            new_serial += 1
        number = person["nhs_number"] if index % 10 != 3 else None
        writer.writerow(
            [
                person["first_name"],
                person["last_name"],
                person["date_of_birth"].strftime("%d/%m/%Y"),
                number or "",
                person["home_postcode"],
                f"staff{run_number}.{index}@example.org",
                f"07700 900{index % 1000:03d}" if index % 2 else "",
                rng.choice(JOB_ROLES),
                rng.choice(SETTINGS),
                "",
                "Yes",
                f"R{run_number}-{index}",
                rng.choice(["A", "British", "N", ""]),
            ]
        )
    return buffer.getvalue().encode()


def baseline(rows: int, employer, seed: int) -> float:
    """Rows/s of django-import-export's default ModelResource import into the same tables."""
    import tablib
    from import_export import fields, resources, widgets

    from employers.models import Employer
    from workers.models import Employment, Worker
    from workers.validation import match_key

    class WorkerResource(resources.ModelResource):
        class Meta:
            model = Worker
            fields = ["id", "first_name", "last_name", "date_of_birth", "nhs_number"]
            fields += ["home_postcode", "ethnicity", "match_key"]

    class EmploymentResource(resources.ModelResource):
        worker = fields.Field("worker", "worker", widgets.ForeignKeyWidget(Worker, "nhs_number"))
        employer = fields.Field("employer", "employer", widgets.ForeignKeyWidget(Employer))

        class Meta:
            model = Employment
            fields = ["id", "worker", "employer", "staff_reference", "email", "job_role"]
            fields += ["work_setting", "employment_type", "direct_contact"]

    rng = random.Random(seed)
    outcodes = _outward_codes()
    people = [_person(rng, 800_000_000 + serial, outcodes) for serial in range(rows * 2)]
    people = [person for person in people if person["nhs_number"]][:rows]
    workers = tablib.Dataset(headers=WorkerResource.Meta.fields)
    employments = tablib.Dataset(headers=EmploymentResource.Meta.fields)
    for index, person in enumerate(people):
        key = match_key(
            person["first_name"],
            person["last_name"],
            person["date_of_birth"],
            person["home_postcode"],
        )
        workers.append(
            [None, person["first_name"], person["last_name"], person["date_of_birth"]]
            + [person["nhs_number"], person["home_postcode"], "Z", key]
        )
        employments.append(
            [None, person["nhs_number"], employer.pk, f"B{index}", f"b{index}@example.org"]
            + ["care_worker", "care_home_older_adults", "employed", True]
        )
    started = time.perf_counter()
    with transaction.atomic():
        worker_result = WorkerResource().import_data(workers, dry_run=False)
        employment_result = EmploymentResource().import_data(employments, dry_run=False)
        elapsed = time.perf_counter() - started
        if worker_result.has_errors() or employment_result.has_errors():
            raise RuntimeError("The baseline import failed")
        # The baseline only measures speed; its rows are not kept.
        transaction.set_rollback(True)
    return len(people) / elapsed


def run(options: dict, stdout) -> dict:
    """Check and import a staff list against a national-size worker table."""
    from employers.imports import commit_staff_upload, create_upload, validate_upload
    from employers.models import Employer, StaffUpload
    from portal.models import LocalAuthority
    from workers.models import Employment, Worker

    rows, existing, seed = options["rows"], options["existing"], options["seed"]
    existing_employer = ensure_existing_workers(existing, stdout, seed)
    run_number = Employer.objects.filter(name__startswith=RUN_EMPLOYER).count() + 1
    employer = Employer.objects.create(
        name=f"{RUN_EMPLOYER} {run_number}",
        kind=Employer.Kind.NON_REGISTERED,
        postcode="SW1A 1AA",
        local_authority=LocalAuthority.objects.get(gss_code="E09000033"),
        status=Employer.Status.APPROVED,
    )
    content = staff_list(rows, existing_employer, run_number, seed)
    stdout.write(f"Staff list of {rows} rows, {len(content) / 2**20:.1f} MB.")
    highest_worker = Worker.objects.order_by("-id").values_list("id", flat=True).first() or 0

    database_cpu = _database_cpu_clock()
    load_before = os.getloadavg()[0]
    with _peak_rss() as memory, _count_queries() as counted:
        started = time.perf_counter()
        cpu_started = time.process_time()
        db_started = database_cpu()
        upload = create_upload(
            user=None,
            employer=employer,
            content=content,
            filename="bench.csv",
            mode=StaffUpload.Mode.ADD,
            enqueue=False,
        )
        upload = validate_upload(upload.pk)
        checked = time.perf_counter()
        cpu_checked = time.process_time()
        db_checked = database_cpu()
        validate_queries = counted["queries"]
        upload = commit_staff_upload(user=None, upload=upload)
        finished = time.perf_counter()
        cpu_finished = time.process_time()
        db_finished = database_cpu()
    load_after = os.getloadavg()[0]
    if upload.status != StaffUpload.Status.IMPORTED or upload.error_count:
        raise RuntimeError(
            f"The benchmark upload did not import: {upload.error_count} rows with errors, "
            f"{upload.failure_reason}"
        )
    stored = Employment.objects.filter(employer=employer).count()
    stdout.write(
        f"Imported {stored} employments: {upload.new_count} new "
        f"({Worker.objects.filter(id__gt=highest_worker).count()} new workers)."
    )
    baseline_rows_per_s = baseline(options["baseline_rows"], existing_employer, seed)
    end_to_end = rows / (finished - started)
    return {
        "rows": rows,
        "existing_workers": Employment.objects.filter(employer=existing_employer).count(),
        "validate_seconds": round(checked - started, 3),
        "commit_seconds": round(finished - checked, 3),
        "validate_rows_per_s": round(rows / (checked - started), 1),
        "commit_rows_per_s": round(rows / (finished - checked), 1),
        "end_to_end_rows_per_s": round(end_to_end, 1),
        # CPU time of this process alone: what the figures would be on an idle machine,
        # leaving out waiting for the database and for other processes.
        "validate_cpu_seconds": round(cpu_checked - cpu_started, 3),
        "commit_cpu_seconds": round(cpu_finished - cpu_checked, 3),
        # CPU time of the database server process serving this run (when it is on this
        # machine): the other half of the work, which the process's own figure leaves out.
        "validate_database_cpu_seconds": _difference(db_checked, db_started),
        "commit_database_cpu_seconds": _difference(db_finished, db_checked),
        # How busy the machine was (1-minute load average, before and after; 2 cores here).
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "cpu_count": os.cpu_count(),
        "peak_memory_mb": round(memory["peak_mb"], 1),
        "queries": counted["queries"],
        "validate_queries": validate_queries,
        "baseline_rows": options["baseline_rows"],
        "baseline_rows_per_s": round(baseline_rows_per_s, 1),
        "ratio": round(end_to_end / baseline_rows_per_s, 1),
        "database": connection.vendor,
    }


BENCHMARKS = {"import": (add_arguments, run)}
