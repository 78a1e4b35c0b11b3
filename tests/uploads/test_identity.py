"""Identity across employers (docs/decisions/0011): one Worker per person, each employer
keeping and seeing only what it supplied; re-uploads, corrections and replace mode."""

import datetime

import pytest
from django.urls import reverse

from employers.imports import commit_staff_upload
from employers.models import Employer, StaffUpload, StaffUploadChange
from portal.roles import Role
from tests.factories import EmployerFactory, make_user
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
    changes = dict(second.changes.values_list("employment__last_name", "action"))
    assert changes == {"Okafora": "updated", "Okaford": "created"}
    assert first.changes.filter(action=StaffUploadChange.Action.CREATED).count() == 3
    assert Employment.objects.get(last_name="Okafora").job_role == "senior_care_worker"


def test_match_by_staff_reference_then_by_name_date_of_birth_and_postcode(postgres, employer):
    imported(employer, [person(1, nhs_number=""), person(2, nhs_number="")])
    renamed = person(1, nhs_number="", first_name="Amy")  # same staff reference
    moved_ref = person(2, nhs_number="", staff_reference="NEW-REF")  # same name, DOB, postcode
    upload = imported(employer, [renamed, moved_ref])
    assert (upload.new_count, upload.updated_count) == (0, 2)
    assert Worker.objects.count() == 2
    assert set(Worker.objects.values_list("first_name", flat=True)) == {"Amy", "Amara"}
    assert set(Employment.objects.values_list("first_name", flat=True)) == {"Amy", "Amara"}


def test_person_known_through_another_employer_is_one_worker_with_two_records(
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
    # The person's record stays as the first employer gave it; each employer keeps its own.
    assert (worker.first_name, worker.home_postcode) == ("Amara", "SW1A 2AA")
    records = {
        name: (first_name, postcode, email)
        for name, first_name, postcode, email in Employment.objects.values_list(
            "employer__name", "first_name", "home_postcode", "email"
        )
    }
    assert records == {
        "Sunrise Care": ("Amarachi", "SE1 7EH", "second@example.com"),
        "Moonlight Homes": ("Amara", "SW1A 2AA", "first@example.com"),
    }


def test_two_different_nhs_numbers_are_two_people_whatever_their_names(
    postgres, employer, other_employer
):
    imported(other_employer, [person(1)])
    imported(employer, [person(1, nhs_number=person(2)["nhs_number"])])
    assert Worker.objects.count() == 2


def test_a_row_without_an_nhs_number_is_matched_but_keeps_none(postgres, employer, other_employer):
    imported(other_employer, [person(1)])
    imported(employer, [person(1, nhs_number="")])
    assert Worker.objects.count() == 1
    ours = Employment.objects.get(employer=employer)
    assert ours.nhs_number is None
    assert ours.worker.nhs_number == person(1)["nhs_number"]


def test_the_only_employer_may_correct_the_persons_record(postgres, employer):
    imported(employer, [person(1)])
    upload = imported(employer, [person(1, date_of_birth="04/04/1980", last_name="Okafor-Jones")])
    assert upload.updated_count == 1
    worker = Worker.objects.get()
    assert (worker.date_of_birth, worker.last_name) == (datetime.date(1980, 4, 4), "Okafor-Jones")


def test_corrections_are_never_frozen_by_another_employer(postgres, employer, other_employer):
    """Reproduction: once another employer attached itself to a person, the first employer's
    correction of the name and postcode reported "Unchanged" and changed nothing."""
    imported(employer, [person(1)])
    imported(other_employer, [person(1, first_name="Someone")])

    corrected = imported(employer, [person(1, last_name="Smith", home_postcode="LS1 1UR")])

    assert (corrected.updated_count, corrected.unchanged_count) == (1, 0)
    ours = Employment.objects.get(employer=employer)
    assert (ours.last_name, ours.home_postcode) == ("Smith", "LS1 1UR")
    theirs = Employment.objects.get(employer=other_employer)
    assert (theirs.first_name, theirs.last_name) == ("Someone", "Okaforb")
    # Shared, the person's record is settled by a lead, an administrator or the worker.
    assert Worker.objects.get().last_name == "Okaforb"


def test_an_upload_never_changes_another_employers_record(postgres, employer, other_employer):
    imported(other_employer, [person(1, email="theirs@example.com", job_role="Support worker")])
    imported(
        employer,
        [person(1, first_name="Changed", date_of_birth="01/01/1990", email="ours@example.com")],
    )
    theirs = Employment.objects.get(employer=other_employer)
    assert (theirs.first_name, theirs.date_of_birth, theirs.email, theirs.job_role) == (
        "Amara",
        datetime.date(1980, 4, 3),
        "theirs@example.com",
        "support_worker",
    )


def test_the_check_answers_the_same_whoever_else_holds_the_person(postgres, employer):
    """Reproduction: "These details do not match the details already held for this person"
    appeared only when someone else held the NHS number, so ten one-row uploads with ten
    dates of birth found the right one."""
    guesses = [person(1, date_of_birth=f"{day:02d}/04/1980") for day in range(1, 11)]

    def answers():
        found = []
        for guess in guesses:
            upload = check(employer, csv_bytes([guess]))
            found.append(
                (
                    upload.status,
                    problems(upload),
                    upload.new_count,
                    upload.updated_count,
                    upload.unchanged_count,
                    upload.error_count,
                )
            )
            StaffUpload.objects.filter(pk=upload.pk).delete()
        return found

    nobody_else = answers()
    imported(EmployerFactory(name="Holder", local_authority=employer.local_authority), [person(1)])
    somebody_else = answers()
    assert nobody_else == somebody_else
    assert all(answer[1] == [] for answer in somebody_else)


def test_two_rows_that_others_say_are_one_person_are_not_an_error(
    postgres, employer, other_employer
):
    """Two rows of one file that only another employer's record links (one by NHS number,
    one by name + date of birth + postcode) import as two records, revealing nothing."""
    imported(other_employer, [person(1)])
    rows = [
        person(1, first_name="Zed", staff_reference="A1"),
        person(1, nhs_number="", staff_reference="A2"),
    ]
    upload = check(employer, csv_bytes(rows))
    assert problems(upload) == []
    done = commit_staff_upload(user=None, upload=upload)
    assert done.status == StaffUpload.Status.IMPORTED and done.new_count == 2
    assert Employment.objects.filter(employer=employer).count() == 2


def test_squatting_an_nhs_number_blocks_nobody(postgres, employer, other_employer):
    """Reproduction: a made-up identity imported under a real NHS number made the genuine
    employer's row for that person refused."""
    imported(other_employer, [person(1, first_name="Made", last_name="Up")])
    genuine = check(employer, csv_bytes([person(1, date_of_birth="05/05/1985")]))
    assert problems(genuine) == []
    done = commit_staff_upload(user=None, upload=genuine)
    assert done.status == StaffUpload.Status.IMPORTED
    ours = Employment.objects.get(employer=employer)
    assert (ours.first_name, ours.date_of_birth) == ("Amara", datetime.date(1985, 5, 5))


def test_an_unapproved_organisation_is_kept_apart_until_approved(
    postgres, employer, local_authority, django_capture_on_commit_callbacks
):
    from employers.services import approve_employer
    from employers.tasks import import_waiting_uploads_task

    imported(employer, [person(1)])
    pending = EmployerFactory(
        name="New Care", local_authority=local_authority, status=Employer.Status.PENDING
    )
    upload = check(pending, csv_bytes([person(1, first_name="Squat"), person(2)]))
    assert upload.new_count == 2 and problems(upload) == []

    waiting = commit_staff_upload(user=None, upload=upload)

    assert waiting.status == StaffUpload.Status.WAITING
    assert not Employment.objects.filter(employer=pending).exists()
    assert Worker.objects.count() == 1  # not matched, not stored
    assert StaffUpload.objects.get(pk=upload.pk).batches.exists()  # kept for the import

    lead = make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_employer(lead=lead, employer=pending)
    assert callbacks
    assert import_waiting_uploads_task(pending.pk) == 1
    assert StaffUpload.objects.get(pk=upload.pk).status == StaffUpload.Status.IMPORTED
    assert Employment.objects.filter(employer=pending).count() == 2
    assert Worker.objects.count() == 2  # person 1 matched by NHS number, person 2 new


def test_a_rejected_organisations_waiting_list_is_discarded(postgres, local_authority):
    from employers.services import reject_employer

    pending = EmployerFactory(local_authority=local_authority, status=Employer.Status.PENDING)
    upload = commit_staff_upload(user=None, upload=check(pending, csv_bytes([person(1)])))
    assert upload.status == StaffUpload.Status.WAITING
    lead = make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority)
    reject_employer(lead=lead, employer=pending, reason="Not a care provider")
    upload.refresh_from_db()
    assert upload.status == StaffUpload.Status.FAILED
    assert "not approved" in upload.failure_reason
    assert not upload.batches.exists()
    assert not Employment.objects.exists() and not Worker.objects.exists()


def test_the_waiting_page_says_what_happens_next(client, postgres, local_authority):
    pending = EmployerFactory(local_authority=local_authority, status=Employer.Status.PENDING)
    user = make_user(Role.EMPLOYER, employer=pending)
    upload = commit_staff_upload(user=user, upload=check(pending, csv_bytes([person(1)])))
    client.force_login(user)
    page = client.get(reverse("employers:upload_detail", args=[upload.pk]))
    assert page.status_code == 200
    assert "waiting for approval" in page.text and "import it as soon as" in page.text


def test_replace_mode_marks_missing_staff_as_left(postgres, employer, other_employer):
    imported(employer, [person(n) for n in range(4)])
    imported(other_employer, [person(9)])
    preview = check(employer, csv_bytes([person(0), person(1)]), mode=StaffUpload.Mode.REPLACE)
    assert (preview.left_count, preview.unchanged_count) == (2, 2)
    assert Employment.objects.filter(status=Employment.Status.LEFT).count() == 0
    done = commit_staff_upload(user=None, upload=preview)
    assert done.left_count == 2
    left = Employment.objects.filter(status=Employment.Status.LEFT)
    assert set(left.values_list("last_name", flat=True)) == {"Okaforc", "Okaford"}
    assert all(employment.left_at for employment in left)
    assert done.changes.filter(action=StaffUploadChange.Action.LEFT).count() == 2
    assert Employment.objects.get(employer=other_employer).status == Employment.Status.ACTIVE
    back = imported(employer, [person(2)])
    assert back.updated_count == 1
    assert Employment.objects.filter(status=Employment.Status.LEFT).count() == 1


def test_imported_staff_are_queued_for_eligibility_assessment(
    postgres, employer, django_capture_on_commit_callbacks
):
    from employers.tasks import assess_imported_staff_task
    from workers.models import EligibilityDecision

    upload = check(employer, csv_bytes([person(1), person(2, direct_contact="No")]))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        commit_staff_upload(user=None, upload=upload)
    assert len(callbacks) == 1
    assert assess_imported_staff_task(employer.pk) == 2
    outcomes = set(EligibilityDecision.objects.values_list("outcome", flat=True))
    assert outcomes == {"eligible", "not_eligible"}
