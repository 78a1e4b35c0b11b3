"""Identity and re-upload (issue 3 point 6): one Worker per person across employers, one
employer never changes or reveals what another supplied, replace mode, unchanged re-uploads."""

import datetime

import pytest

from employers.imports import IDENTITY_MESSAGE, commit_staff_upload
from employers.models import StaffUpload, StaffUploadChange
from tests.uploads.conftest import check, csv_bytes, person, problems
from workers.models import Employment, Worker

pytestmark = pytest.mark.django_db


def imported(employer, rows, mode=StaffUpload.Mode.ADD):
    upload = check(employer, csv_bytes(rows), mode=mode)
    assert problems(upload) == []
    return commit_staff_upload(user=None, upload=upload)


def test_reupload_of_the_same_file_is_all_unchanged(postgres, employer):
    rows = [person(n) for n in range(5)]
    first = imported(employer, rows)
    assert (first.new_count, first.status) == (5, StaffUpload.Status.IMPORTED)
    again = imported(employer, rows)
    assert (again.new_count, again.updated_count, again.unchanged_count) == (0, 0, 5)
    assert Worker.objects.count() == 5
    assert Employment.objects.count() == 5
    assert again.changes.count() == 0


def test_corrected_file_updates_and_records_what_it_changed(postgres, employer):
    first = imported(employer, [person(n) for n in range(3)])
    corrected = [person(0, job_role="Senior care worker"), person(1), person(2), person(3)]
    second = imported(employer, corrected)
    assert (second.new_count, second.updated_count, second.unchanged_count) == (1, 1, 2)
    changes = dict(second.changes.values_list("employment__worker__last_name", "action"))
    assert changes == {"Okafora": "updated", "Okaford": "created"}
    assert first.changes.filter(action=StaffUploadChange.Action.CREATED).count() == 3
    assert Employment.objects.get(worker__last_name="Okafora").job_role == "senior_care_worker"


def test_match_by_staff_reference_then_by_name_date_of_birth_and_postcode(postgres, employer):
    imported(employer, [person(1, nhs_number=""), person(2, nhs_number="")])
    renamed = person(1, nhs_number="", first_name="Amy")  # same staff reference
    moved_ref = person(2, nhs_number="", staff_reference="NEW-REF")  # same name, DOB, postcode
    upload = imported(employer, [renamed, moved_ref])
    assert (upload.new_count, upload.updated_count) == (0, 2)
    assert Worker.objects.count() == 2
    assert set(Worker.objects.values_list("first_name", flat=True)) == {"Amy", "Amara"}


def test_person_known_through_another_employer_gets_a_second_employment(
    postgres, employer, other_employer
):
    imported(other_employer, [person(1, email="first@example.com")])
    worker = Worker.objects.get()
    upload = imported(
        employer,
        [person(1, first_name="Amarachi", home_postcode="SE1 7EH", email="second@example.com")],
    )
    assert upload.new_count == 1
    assert Worker.objects.count() == 1
    assert Employment.objects.filter(worker=worker).count() == 2
    worker.refresh_from_db()
    # Identity stays as the first employer gave it; contact details live on each employment.
    assert (worker.first_name, worker.home_postcode) == ("Amara", "SW1A 2AA")
    emails = dict(Employment.objects.values_list("employer__name", "email"))
    assert emails == {"Sunrise Care": "second@example.com", "Moonlight Homes": "first@example.com"}


def test_conflicting_date_of_birth_is_an_error_that_discloses_nothing(
    postgres, employer, other_employer
):
    imported(other_employer, [person(1, first_name="Secretname", home_postcode="SE1 7EH")])
    upload = check(employer, csv_bytes([person(1, date_of_birth="04/04/1980")]))
    assert problems(upload) == [(2, "Date of birth", IDENTITY_MESSAGE)]
    message = upload.errors.get().message + upload.errors.get().value
    for secret in ("Secretname", "03/04/1980", "1980-04-03", "SE1", "Moonlight"):
        assert secret not in message
    assert Worker.objects.get().date_of_birth == datetime.date(1980, 4, 3)


def test_the_only_employer_may_correct_its_workers_identity(postgres, employer, other_employer):
    imported(employer, [person(1)])
    upload = imported(employer, [person(1, date_of_birth="04/04/1980", last_name="Okafor-Jones")])
    assert upload.updated_count == 1
    worker = Worker.objects.get()
    assert (worker.date_of_birth, worker.last_name) == (datetime.date(1980, 4, 4), "Okafor-Jones")

    imported(other_employer, [person(1, date_of_birth="04/04/1980", last_name="Okafor-Jones")])
    blocked = check(employer, csv_bytes([person(1, date_of_birth="05/04/1980")]))
    assert problems(blocked) == [(2, "Date of birth", IDENTITY_MESSAGE)]
    renamed = imported(employer, [person(1, date_of_birth="04/04/1980", last_name="Smith")])
    assert renamed.unchanged_count == 1
    assert Worker.objects.get().last_name == "Okafor-Jones"


def test_replace_mode_marks_missing_staff_as_left(postgres, employer, other_employer):
    imported(employer, [person(n) for n in range(4)])
    imported(other_employer, [person(9)])
    preview = check(employer, csv_bytes([person(0), person(1)]), mode=StaffUpload.Mode.REPLACE)
    assert (preview.left_count, preview.unchanged_count) == (2, 2)
    assert Employment.objects.filter(status=Employment.Status.LEFT).count() == 0
    done = commit_staff_upload(user=None, upload=preview)
    assert done.left_count == 2
    left = Employment.objects.filter(status=Employment.Status.LEFT)
    assert set(left.values_list("worker__last_name", flat=True)) == {"Okaforc", "Okaford"}
    assert all(employment.left_at for employment in left)
    assert done.changes.filter(action=StaffUploadChange.Action.LEFT).count() == 2
    assert Employment.objects.get(employer=other_employer).status == Employment.Status.ACTIVE
    back = imported(employer, [person(2)])
    assert back.updated_count == 1
    assert Employment.objects.filter(status=Employment.Status.LEFT).count() == 1


def test_imported_staff_are_queued_for_eligibility_assessment(
    postgres, employer, django_capture_on_commit_callbacks
):
    from employers.tasks import assess_imported_staff
    from workers.models import EligibilityDecision

    upload = check(employer, csv_bytes([person(1), person(2, direct_contact="No")]))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        commit_staff_upload(user=None, upload=upload)
    assert len(callbacks) == 1
    assert assess_imported_staff(employer.pk) == 2
    outcomes = set(EligibilityDecision.objects.values_list("outcome", flat=True))
    assert outcomes == {"eligible", "not_eligible"}
