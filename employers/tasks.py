"""Background jobs for staff list uploads: checking a file and importing a confirmed one."""

from celery import shared_task


@shared_task(name="employers.tasks.validate_staff_upload_task", acks_late=True)
def validate_staff_upload_task(upload_id: int) -> str:
    """Check every row of an upload, updating its progress; safe to run twice."""
    from employers.imports import validate_upload

    return validate_upload(upload_id).status


@shared_task(name="employers.tasks.import_staff_upload_task", acks_late=True)
def import_staff_upload_task(upload_id: int, user_id: int | None = None) -> str:
    """Import a confirmed upload atomically; an upload already imported is left alone."""
    from employers.imports import import_confirmed_upload

    return import_confirmed_upload(upload_id=upload_id, user_id=user_id).status


@shared_task(name="employers.tasks.import_waiting_uploads_task", acks_late=True)
def import_waiting_uploads_task(employer_id: int) -> int:
    """Import the lists an employer confirmed while it waited for approval, in order."""
    from employers.imports import import_waiting

    return import_waiting(employer_id=employer_id)


@shared_task(name="employers.tasks.assess_imported_staff_task", acks_late=True)
def assess_imported_staff_task(employer_id: int) -> int:
    """Assess the employer's undecided staff after an import (safe to run twice)."""
    from workers.services import assess_employments

    return assess_employments(employer_id=employer_id)
