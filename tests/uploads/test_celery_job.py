"""The check and the import run as Celery jobs in a real worker on Redis: queued on commit,
the check reports progress and its preview, the confirmed import runs once."""

import pytest

from employers.imports import create_upload, request_import
from employers.models import StaffUpload
from portal.celery import app as celery_app
from tests.conftest import database_url, poll
from tests.factories import EmployerFactory
from tests.uploads.conftest import csv_bytes, person
from workers.models import Employment

shared_database = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.mark.celery_worker
@shared_database
def test_check_and_import_jobs_in_a_real_worker(postgres, redis_url, start_worker):
    celery_app.set_current()  # shared tasks are sent through the current app: portal's
    worker = start_worker(DATABASE_URL=database_url(), REDIS_URL=redis_url)
    employer = EmployerFactory()
    rows = [person(n) for n in range(60)]
    upload = create_upload(
        user=None, employer=employer, content=csv_bytes(rows), filename="staff.csv"
    )

    def fetch():
        return StaffUpload.objects.get(pk=upload.pk)

    checked = poll(fetch, lambda u: u.status != StaffUpload.Status.VALIDATING, deadline_seconds=300)
    assert checked.status == StaffUpload.Status.READY, worker.output()
    assert (checked.rows_done, checked.total_rows, checked.new_count) == (60, 60, 60)
    assert Employment.objects.count() == 0

    request_import(user=None, upload=checked)
    request_import(user=None, upload=checked)
    done = poll(fetch, lambda u: u.status == StaffUpload.Status.IMPORTED, deadline_seconds=300)
    assert done.status == StaffUpload.Status.IMPORTED, worker.output()
    assert Employment.objects.filter(employer=employer).count() == 60
    assert done.changes.count() == 60
