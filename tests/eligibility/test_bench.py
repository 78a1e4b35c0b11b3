"""`manage.py bench eligibility` runs end to end at a small size, ends with one JSON object
holding the figures the issue asks for, approves a smaller set too to show the approval's
queries do not depend on its size, and leaves nothing behind (no timing is asserted)."""

import io
import json

import pytest
from django.core.management import call_command

from workers.models import EligibilityDecision, Employment

pytestmark = pytest.mark.django_db


def test_bench_eligibility_prints_its_figures_and_rolls_back(postgres):
    out = io.StringIO()
    call_command("bench", "eligibility", "--employments", "300", "--approve", "40", stdout=out)
    figures = json.loads(out.getvalue().strip().splitlines()[-1])
    for key in (
        "assessments_per_s",
        "bulk_approve_seconds",
        "bulk_approve_queries",
        "baseline_seconds",
        "ratio",
    ):
        assert key in figures
    assert (figures["employments"], figures["assessed"]) == (300, 300)
    assert (figures["bulk_approved"], figures["bulk_approved_small"]) == (40, 4)
    assert figures["bulk_approve_queries_small"] == figures["bulk_approve_queries"]
    assert figures["queries_independent_of_size"] is True
    assert not Employment.objects.exists() and not EligibilityDecision.objects.exists()


def test_bench_eligibility_assesses_only_what_it_made(postgres):
    """Staff other benchmarks (or anyone) keep in the database are neither assessed nor
    counted: the figures are this run's alone."""
    from tests.factories import EmploymentFactory

    stored = [EmploymentFactory() for _ in range(5)]
    out = io.StringIO()
    call_command("bench", "eligibility", "--employments", "300", "--approve", "40", stdout=out)
    figures = json.loads(out.getvalue().strip().splitlines()[-1])
    assert figures["assessed"] == 300
    assert not EligibilityDecision.objects.exists()
    assert Employment.objects.filter(pk__in=[e.pk for e in stored]).count() == 5
