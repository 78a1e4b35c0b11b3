"""The Django admin's import (django-import-export) goes through the same StaffResource and
bulk service: a dry run shows errors and stores nothing; a confirmed import imports."""

import pytest
from django.urls import reverse

from employers.models import StaffUpload
from portal.roles import Role
from tests.factories import make_user
from tests.uploads.conftest import csv_bytes, person
from workers.models import Employment

pytestmark = pytest.mark.django_db


def test_admin_import_checks_then_imports(postgres, client, employer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(make_user(Role.ADMINISTRATOR))
    url = reverse("admin:employers_staffupload_import")
    page = client.get(url)
    assert page.status_code == 200
    assert b"Date of birth" in page.content  # the Resource's columns are listed

    def dry_run(content):
        return client.post(
            url,
            {
                "import_file": SimpleUploadedFile("staff.csv", content),
                "format": "0",
                "resource": "0",
                "employer": employer.pk,
                "mode": "add",
            },
        )

    bad = dry_run(csv_bytes([person(1), person(2, date_of_birth="31/02/1980")]))
    assert bad.status_code == 200
    assert b"31/02/1980 is not a real date" in bad.content
    assert StaffUpload.objects.count() == 0

    good = dry_run(csv_bytes([person(1), person(2)]))
    assert good.status_code == 200
    confirm = good.context["confirm_form"]
    assert StaffUpload.objects.count() == 0
    done = client.post(reverse("admin:employers_staffupload_process_import"), confirm.initial)
    assert done.status_code == 302
    assert Employment.objects.filter(employer=employer).count() == 2
    upload = StaffUpload.objects.get()
    assert (upload.status, upload.new_count) == (StaffUpload.Status.IMPORTED, 2)
