"""Automatic assessment: every undecided employment gets the current rules' outcome, set-based
and idempotent; decided employments keep their decision; published rule sets never change."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, InternalError, transaction

from employers.models import Employer
from portal.models import AuditEvent
from portal.roles import Role
from tests.eligibility.rule_sets import STRICTER
from tests.factories import make_user
from workers import services
from workers.models import EligibilityDecision, Employment, Reassessment, RuleSet

pytestmark = pytest.mark.django_db


def current(employment: Employment) -> EligibilityDecision:
    employment.refresh_from_db()
    return employment.current_decision


def test_assessment_writes_outcome_reasons_version_and_snapshot(make_employment, postgres):
    employment = make_employment(work_setting="care_home_older_adults", staff_reference="S1")
    assert services.assess_employments(employment_ids=[employment.pk]) == 1
    decision = current(employment)
    assert decision.outcome == "eligible"
    assert decision.reasons == ["Care home staff (cohort 1)"]
    assert decision.rule_set_version == 1
    assert decision.decided_by is None and decision.source == "assessment"
    assert decision.snapshot["work_setting"] == "care_home_older_adults"
    assert decision.snapshot["staff_reference"] == "S1"
    assert employment.eligibility_outcome == "eligible"
    assert not employment.eligibility_decided
    event = AuditEvent.objects.get(verb="eligibility_assessed")
    assert event.object_id == str(decision.batch)
    assert event.details["employment_ids"] == [employment.pk]


def test_running_twice_writes_nothing_new(make_employment, postgres):
    employments = [make_employment() for _ in range(3)]
    assert services.assess_employments(employment_ids=[e.pk for e in employments]) == 3
    assert services.assess_employments(employment_ids=[e.pk for e in employments]) == 0
    assert EligibilityDecision.objects.count() == 3


def test_a_changed_employment_is_reassessed_and_history_kept(make_employment, postgres):
    employment = make_employment()
    services.assess_employments(employment_ids=[employment.pk])
    Employment.objects.filter(pk=employment.pk).update(direct_contact=False)
    assert services.assess_employments(employment_ids=[employment.pk]) == 1
    assert current(employment).outcome == "not_eligible"
    assert employment.eligibility_decisions.count() == 2


def test_employer_approval_reassesses_its_employments(make_employment, pending_employer, postgres):
    employment = make_employment(employer=pending_employer)
    services.assess_employments(employer_id=pending_employer.pk)
    assert current(employment).reasons == ["Employer awaiting approval"]
    Employer.objects.filter(pk=pending_employer.pk).update(status=Employer.Status.APPROVED)
    assert services.assess_employments(employer_id=pending_employer.pk) == 1
    assert current(employment).outcome == "eligible"


def test_decided_and_left_employments_are_not_reassessed(make_employment, lead, postgres):
    decided = make_employment()
    left = make_employment(status=Employment.Status.LEFT)
    services.assess_employments()
    services.decide_employment(
        lead=lead,
        employment_id=decided.pk,
        outcome="not_eligible",
        reason="Works nights in the office only",
        seen_decision_id=current(decided).pk,
    )
    Employment.objects.filter(pk=decided.pk).update(work_setting="other")
    assert services.assess_employments() == 0
    assert current(decided).source == "lead"
    assert current(left) is None


def test_assessment_queries_do_not_grow_with_the_number(
    make_employment, postgres, django_assert_max_num_queries
):
    few = [make_employment().pk for _ in range(2)]
    many = [make_employment(work_setting=s).pk for s in ["other", "day_centre"] * 10]
    with django_assert_max_num_queries(8):
        services.assess_employments(employment_ids=few)
    with django_assert_max_num_queries(8):
        services.assess_employments(employment_ids=many)


def test_published_rule_set_cannot_change_or_be_deleted(postgres):
    version_1 = RuleSet.objects.get(version=1)
    version_1.notes = "rewritten"
    with pytest.raises(PermissionDenied):
        version_1.save()
    with pytest.raises(PermissionDenied):
        version_1.delete()
    # The database refuses too, whatever path the change takes.
    with pytest.raises((InternalError, IntegrityError)), transaction.atomic():
        RuleSet.objects.filter(pk=version_1.pk).update(rules=[])
    with pytest.raises((InternalError, IntegrityError)), transaction.atomic():
        RuleSet.objects.filter(pk=version_1.pk).delete()
    assert RuleSet.objects.get(version=1).notes != "rewritten"


def test_publishing_reassesses_undecided_only_and_keeps_history(
    make_employment, lead, postgres, django_capture_on_commit_callbacks, eager_celery
):
    admin = make_user(Role.ADMINISTRATOR)
    home_care = make_employment()
    decided = make_employment()
    services.assess_employments()
    services.decide_employment(
        lead=lead,
        employment_id=decided.pk,
        outcome="eligible",
        reason="",
        seen_decision_id=current(decided).pk,
    )
    draft = RuleSet.objects.create(rules=STRICTER, notes="Home care needs a check")
    with django_capture_on_commit_callbacks(execute=True):
        published = services.publish_rule_set(rule_set=draft, user=admin)
    assert published.version == 2 and published.published_by == admin
    reassessment = Reassessment.objects.get(rule_set=published)
    assert reassessment.status == "done" and reassessment.changed == 1
    assert current(home_care).rule_set_version == 2
    assert current(home_care).reasons == ["Home care: confirm the visits"]
    assert current(decided).rule_set_version == 1 and current(decided).source == "lead"
    assert home_care.eligibility_decisions.count() == 2
    # Running the job again changes nothing.
    assert services.run_reassessment(reassessment_id=reassessment.pk).changed == 1
    assert home_care.eligibility_decisions.count() == 2


def test_reassessment_resumes_in_chunks(make_employment, postgres):
    admin = make_user(Role.ADMINISTRATOR)
    for _ in range(5):
        make_employment()
    draft = RuleSet.objects.create(rules=STRICTER)
    published = services.publish_rule_set(rule_set=draft, user=admin)
    reassessment = Reassessment.objects.get(rule_set=published)
    done = services.run_reassessment(reassessment_id=reassessment.pk, chunk_size=2)
    assert (done.done, done.total, done.changed, done.percent) == (5, 5, 5, 100)


def test_only_administrators_publish(lead, postgres):
    draft = RuleSet.objects.create(rules=STRICTER)
    with pytest.raises(PermissionDenied):
        services.publish_rule_set(rule_set=draft, user=lead)


def test_a_draft_with_broken_rules_is_not_published(postgres):
    admin = make_user(Role.ADMINISTRATOR)
    draft = RuleSet.objects.create(rules=[{"when": {"x": 1}, "outcome": "eligible"}])
    with pytest.raises(services.EligibilityError, match="Rule 1"):
        services.publish_rule_set(rule_set=draft, user=admin)
    draft.refresh_from_db()
    assert draft.version is None
