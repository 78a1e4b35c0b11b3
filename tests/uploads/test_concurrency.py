"""Two at once (PostgreSQL, real threads and connections): the same file uploaded twice, a
double confirm, and two lists with the same people imported together never duplicate."""

import threading

import pytest
from django.db import connection

from employers.imports import commit_staff_upload, create_upload, request_import
from employers.models import StaffUpload
from tests.factories import EmployerFactory
from tests.uploads.conftest import check, csv_bytes, person
from workers.models import Employment, Worker

shared_database = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def at_once(*calls):
    """Run the calls in threads released together; returns their results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@shared_database
def test_same_file_uploaded_twice_at_once_gives_one_upload(postgres):
    employer = EmployerFactory()
    content = csv_bytes([person(n) for n in range(20)])

    def upload():
        return create_upload(
            user=None, employer=employer, content=content, filename="a.csv", enqueue=False
        ).pk

    first, second = at_once(upload, upload)
    assert first == second
    assert StaffUpload.objects.count() == 1


@shared_database
def test_double_confirm_imports_once(postgres):
    employer = EmployerFactory()
    upload = check(employer, csv_bytes([person(n) for n in range(30)]))
    results = at_once(
        lambda: commit_staff_upload(user=None, upload=upload).status,
        lambda: commit_staff_upload(user=None, upload=upload).status,
    )
    assert results == ["imported", "imported"]
    assert Worker.objects.count() == 30
    assert Employment.objects.count() == 30
    upload.refresh_from_db()
    assert upload.changes.count() == 30
    assert request_import(user=None, upload=upload).status == "imported"


@shared_database
def test_same_people_imported_at_once_by_one_or_two_employers_are_never_duplicated(postgres):
    first_employer, second_employer = EmployerFactory(), EmployerFactory()
    people = [person(n, nhs_number="" if n % 2 else person(n)["nhs_number"]) for n in range(40)]
    uploads = [
        check(first_employer, csv_bytes(people)),
        check(first_employer, csv_bytes(list(reversed(people)))),
        check(second_employer, csv_bytes(people)),
    ]
    assert all(upload.new_count == 40 for upload in uploads)
    results = at_once(*[lambda u=u: commit_staff_upload(user=None, upload=u) for u in uploads])
    assert all(result.status == "imported" for result in results), results
    assert Worker.objects.count() == 40
    assert Employment.objects.filter(employer=first_employer).count() == 40
    assert Employment.objects.filter(employer=second_employer).count() == 40
    assert sorted(result.new_count for result in results[:2]) == [0, 40]
