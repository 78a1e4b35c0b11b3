"""Fixtures for the eligibility tests: an area with a local lead, approved and pending
employers, and employments described by reference codes."""

import pytest

from employers.models import Employer
from portal.roles import Role
from tests.factories import EmployerFactory, EmploymentFactory, make_user


@pytest.fixture
def lead(local_authority):
    return make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority)


@pytest.fixture
def other_lead(other_local_authority):
    return make_user(Role.LOCAL_LEAD, local_authority_obj=other_local_authority)


@pytest.fixture
def employer(local_authority):
    return EmployerFactory(local_authority=local_authority, status=Employer.Status.APPROVED)


@pytest.fixture
def pending_employer(local_authority):
    return EmployerFactory(local_authority=local_authority, status=Employer.Status.PENDING)


@pytest.fixture
def employer_user(employer):
    return make_user(Role.EMPLOYER, employer=employer)


@pytest.fixture
def make_employment(employer):
    def make(**fields):
        fields.setdefault("employer", employer)
        fields.setdefault("job_role", "care_worker")
        fields.setdefault("work_setting", "domiciliary_care")
        fields.setdefault("employment_type", "employed")
        fields.setdefault("direct_contact", True)
        return EmploymentFactory(**fields)

    return make


@pytest.fixture
def eager_celery():
    """Run tasks in-process when enqueued (the real-worker test lives with the infra tests)."""
    from portal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous
