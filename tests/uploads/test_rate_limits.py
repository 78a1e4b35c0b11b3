"""Staff list files are checked at most so many times an hour per account and per
organisation, uploads and leads' previews alike (docs/decisions/0011: without a limit the
check step could be asked about people again and again)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from employers.models import StaffUpload
from portal.roles import Role
from tests.factories import make_user
from tests.uploads.conftest import csv_bytes, person

pytestmark = pytest.mark.django_db


def upload(client, employer, number):
    return client.post(
        reverse("employers:upload_new", args=[employer.pk]),
        {"file": SimpleUploadedFile("staff.csv", csv_bytes([person(number)])), "mode": "add"},
    )


def test_one_account_is_limited(client, employer, employer_user, settings, postgres):
    settings.UPLOAD_LIMIT_PER_ACCOUNT = 3
    client.force_login(employer_user)
    assert [upload(client, employer, n).status_code for n in range(3)] == [302, 302, 302]
    refused = upload(client, employer, 3)
    assert refused.status_code == 429
    assert "checked a lot of staff list files in the last hour" in refused.text
    assert StaffUpload.objects.count() == 3


def test_the_organisation_is_limited_across_its_accounts(client, employer, settings, postgres):
    settings.UPLOAD_LIMIT_PER_ORGANISATION = 2
    for number in range(2):
        client.force_login(make_user(Role.EMPLOYER, employer=employer))
        assert upload(client, employer, number).status_code == 302
    client.force_login(make_user(Role.EMPLOYER, employer=employer))
    assert upload(client, employer, 5).status_code == 429
    assert StaffUpload.objects.count() == 2


def test_a_leads_previews_are_limited_too(client, settings, local_authority, postgres):
    from workers.models import RuleSet

    settings.UPLOAD_LIMIT_PER_ACCOUNT = 1
    client.force_login(make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority))

    def preview():
        return client.post(
            reverse("employers:eligibility_preview"),
            {
                "file": SimpleUploadedFile("staff.csv", csv_bytes([person(1)])),
                "rule_set": RuleSet.objects.current().pk,
            },
        )

    assert preview().status_code == 200
    assert preview().status_code == 429
