"""The upload pages through HTTP: form, refusal message, progress, summary above the errors,
error download, confirm, history, and scoping (another employer's upload is a 404)."""

import pytest
from django.urls import reverse

from employers.models import StaffUpload
from portal.roles import Role
from tests.factories import make_user
from tests.uploads.conftest import csv_bytes, person
from workers.models import Employment

pytestmark = pytest.mark.django_db


def post_file(client, employer, content, name="staff.csv", mode="add"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        reverse("employers:upload_new", args=[employer.pk]),
        {"file": SimpleUploadedFile(name, content), "mode": mode},
    )
    return response


def test_upload_check_review_and_confirm(
    postgres, client, employer, employer_user, django_capture_on_commit_callbacks
):
    client.force_login(employer_user)
    form = client.get(reverse("employers:upload_new", args=[employer.pk]))
    assert form.status_code == 200
    assert b'type="file"' in form.content

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_file(client, employer, csv_bytes([person(1), person(2)]))
    upload = StaffUpload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("employers:upload_detail", args=[upload.pk])
    assert len(callbacks) == 1  # the check job is queued only once the upload is committed

    checking = client.get(response["Location"])
    assert b'http-equiv="refresh"' in checking.content
    assert b"hx-get" in checking.content
    progress = client.get(reverse("employers:upload_progress", args=[upload.pk]))
    assert b"Checking rows: 0 of 2" in progress.content
    assert "HX-Refresh" not in progress

    from employers.tasks import validate_staff_upload_task

    validate_staff_upload_task(upload.pk)
    progress = client.get(reverse("employers:upload_progress", args=[upload.pk]))
    assert progress["HX-Refresh"] == "true"
    review = client.get(response["Location"])
    assert b'id="count-new">2<' in review.content
    assert b"Import 2 staff" in review.content
    assert b'http-equiv="refresh"' not in review.content

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("employers:upload_confirm", args=[upload.pk]))
        client.post(reverse("employers:upload_confirm", args=[upload.pk]))
    assert len(callbacks) == 1  # a double click queues one import
    from employers.tasks import import_staff_upload_task

    import_staff_upload_task(upload.pk, employer_user.pk)
    import_staff_upload_task(upload.pk, employer_user.pk)
    upload.refresh_from_db()
    assert upload.status == StaffUpload.Status.IMPORTED
    assert Employment.objects.filter(employer=employer).count() == 2
    done = client.get(response["Location"])
    assert b"See your staff list" in done.content
    history = client.get(reverse("employers:upload_list", args=[employer.pk]))
    assert b"staff.csv" in history.content and b"Imported" in history.content


def test_errors_are_listed_under_the_summary_and_downloadable(
    postgres, client, employer, employer_user, django_capture_on_commit_callbacks
):
    client.force_login(employer_user)
    rows = [person(n, date_of_birth="31/02/1980" if n % 2 else "03/04/1980") for n in range(250)]
    with django_capture_on_commit_callbacks(execute=False):
        post_file(client, employer, csv_bytes(rows))
    upload = StaffUpload.objects.get()
    from employers.tasks import validate_staff_upload_task

    validate_staff_upload_task(upload.pk)
    page = client.get(reverse("employers:upload_detail", args=[upload.pk])).content.decode()
    assert page.index('id="count-errors">125<') < page.index('id="upload-errors"')
    assert "Import" not in page.split('id="upload-errors"')[0].split("Nothing has been imported")[1]
    assert page.count('<td class="nhsuk-table__cell nhsuk-table__cell--numeric">') == 100
    second = client.get(reverse("employers:upload_detail", args=[upload.pk]) + "?page=2")
    assert b'id="count-errors">125<' in second.content
    download = client.get(reverse("employers:upload_errors_csv", args=[upload.pk]))
    assert "no-store" in download["Cache-Control"]
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert len(lines) == 126
    assert lines[1].startswith("3,Date of birth,31/02/1980,")
    assert client.post(reverse("employers:upload_confirm", args=[upload.pk])).status_code == 302
    upload.refresh_from_db()
    assert upload.status == StaffUpload.Status.READY
    assert Employment.objects.count() == 0


def test_unreadable_file_is_refused_on_the_form(postgres, client, employer, employer_user):
    client.force_login(employer_user)
    response = post_file(client, employer, csv_bytes([]))
    assert response.status_code == 200
    assert "The file has column names but no staff" in response.content.decode()
    assert "There is a problem" in response.content.decode()
    assert StaffUpload.objects.count() == 0


def test_uploads_are_scoped(
    postgres, client, employer, other_employer, employer_user, django_capture_on_commit_callbacks
):
    other_user = make_user(Role.EMPLOYER, employer=other_employer)
    client.force_login(other_user)
    with django_capture_on_commit_callbacks(execute=False):
        post_file(client, other_employer, csv_bytes([person(1)]))
    theirs = StaffUpload.objects.get()
    client.force_login(employer_user)
    for name in ("upload_detail", "upload_progress", "upload_errors_csv"):
        assert client.get(reverse(f"employers:{name}", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("employers:upload_confirm", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("employers:upload_new", args=[other_employer.pk])).status_code == 404
    lead = make_user(Role.LOCAL_LEAD)
    client.force_login(lead)
    assert client.get(reverse("employers:upload_detail", args=[theirs.pk])).status_code == 200
    assert client.get(reverse("employers:upload_new", args=[other_employer.pk])).status_code == 403
