"""Background jobs for staff list uploads: checking a file and importing a confirmed one."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def validate_staff_upload(upload_id: int) -> str:
    """Check every row of an upload, updating its progress; safe to run twice."""
    from employers.imports import validate_upload

    return validate_upload(upload_id).status


@shared_task(acks_late=True)
def import_staff_upload(upload_id: int, user_id: int | None = None) -> str:
    """Import a confirmed upload atomically; an upload already imported is left alone."""
    from django.contrib.auth import get_user_model

    from employers.imports import UploadNotReady, commit_staff_upload
    from employers.models import StaffUpload

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    upload = StaffUpload.objects.get(pk=upload_id)
    try:
        return commit_staff_upload(user=user, upload=upload).status
    except UploadNotReady:
        logger.warning("Staff upload %s was not ready to import", upload_id)
        return upload.status


@shared_task(acks_late=True)
def assess_imported_staff(employer_id: int) -> int:
    """Assess the employer's undecided staff after an import (safe to run twice)."""
    from workers.services import assess_employments

    return assess_employments(employer_id=employer_id)
