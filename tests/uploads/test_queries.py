"""Bulk, not per row: checking and importing 1,000 rows issues no more queries than 100 rows
in the same number of batches (the import works on batches, never row by row:
docs/decisions/0003-identity-matching.md), and the cycle collector is paused only for
the batch loops."""

import gc

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from employers import imports
from employers.imports import commit_staff_upload
from employers.models import StaffUpload
from tests.factories import EmployerFactory, EmploymentFactory, WorkerFactory
from tests.uploads.conftest import check, csv_bytes, person

pytestmark = pytest.mark.django_db


def queries_for(employer, rows) -> tuple[int, int]:
    content = csv_bytes(rows)
    with CaptureQueriesContext(connection) as checking:
        upload = check(employer, content)
    assert upload.error_count == 0
    with CaptureQueriesContext(connection) as importing:
        commit_staff_upload(user=None, upload=upload)
    return len(checking), len(importing)


def known_people(employer, other_employer, size, offset):
    """Every tenth person is known already (through this employer or another)."""
    for number in range(offset, offset + size, 10):
        values = person(number)
        worker = WorkerFactory(
            first_name=values["first_name"],
            last_name=values["last_name"],
            nhs_number=values["nhs_number"],
            match_key=f"amara|{values['last_name'].lower()}|19800403|sw1a2aa",
        )
        EmploymentFactory(worker=worker, employer=employer if number % 20 else other_employer)
    return [
        person(n, job_role="Support worker" if n % 3 else "Care worker")
        for n in range(offset, offset + size)
    ]


def test_query_count_does_not_grow_with_rows(postgres, django_assert_max_num_queries):
    counts = {}
    for size, offset in ((100, 0), (1000, 5000)):
        employer, other_employer = EmployerFactory(), EmployerFactory()
        rows = known_people(employer, other_employer, size, offset)
        with django_assert_max_num_queries(50):
            counts[size] = queries_for(employer, rows)
    # The first check also loads the reference values once; after that, rows cost nothing.
    assert counts[1000][0] <= counts[100][0]
    assert counts[1000][1] == counts[100][1]


def test_the_cycle_collector_is_paused_only_while_rows_are_checked_and_imported(
    postgres, monkeypatch
):
    employer = EmployerFactory()
    seen = []
    real_match = imports.match_batch

    def watching_match(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_match(*args, **kwargs)

    monkeypatch.setattr(imports, "match_batch", watching_match)
    assert gc.isenabled()
    upload = check(employer, csv_bytes([person(1)]))
    assert gc.isenabled()
    commit_staff_upload(user=None, upload=upload)
    assert gc.isenabled()
    assert seen == [False, False]  # paused while checking, and while importing

    monkeypatch.setattr("employers.staff_files.MAX_ROWS", 1)
    failed = check(employer, csv_bytes([person(2), person(3)]))
    assert failed.status == StaffUpload.Status.FAILED
    assert gc.isenabled()  # resumed when the check stopped part-way

    gc.disable()
    try:
        check(employer, csv_bytes([person(4)]))
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
