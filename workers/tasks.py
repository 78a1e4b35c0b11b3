"""Background eligibility work: re-assessing undecided employments under a new rule set."""

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="workers.tasks.reassess_undecided_task",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 5},
)
def reassess_undecided_task(reassessment_id: int) -> int:
    """Safe to run twice: it resumes after the last finished chunk and skips unchanged rows."""
    from workers import services

    return services.run_reassessment(reassessment_id=reassessment_id).changed
