"""Rule set version 1 gives the outcome and wording of docs/eligibility.md for each row, and the
rule language rejects rule sets it cannot evaluate."""

import pytest

from tests.eligibility.rule_sets import (
    CARE_HOME,
    EMPLOYER_PENDING,
    FRONTLINE,
    NO_CONTACT,
    OFFICE,
    OTHER,
    VOLUNTEER,
)
from workers.models import RuleSet
from workers.rules import NO_RULE_REASON, Facts, RuleError, assess, compile_rules

pytestmark = pytest.mark.django_db


def facts(**overrides) -> Facts:
    values = {
        "job_role": "care_worker",
        "work_setting": "domiciliary_care",
        "employment_type": "employed",
        "direct_contact": True,
        "employer_approved": True,
    }
    values.update(overrides)
    return Facts(**values)


@pytest.fixture
def version_1():
    return RuleSet.objects.get(version=1)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"direct_contact": False}, ("not_eligible", (NO_CONTACT,))),
        ({"job_role": "administrative_staff"}, ("needs_information", (OFFICE,))),
        ({"job_role": "other"}, ("needs_information", (OTHER,))),
        ({"work_setting": "other"}, ("needs_information", (OTHER,))),
        ({"employment_type": "volunteer"}, ("needs_information", (VOLUNTEER,))),
        ({"employer_approved": False}, ("needs_information", (EMPLOYER_PENDING,))),
        ({}, ("eligible", (FRONTLINE,))),
        ({"work_setting": "care_home_older_adults"}, ("eligible", (CARE_HOME,))),
        ({"work_setting": "care_home_working_age_adults"}, ("eligible", (FRONTLINE,))),
        (
            {"job_role": "personal_assistant", "work_setting": "direct_payments"},
            ("eligible", (FRONTLINE,)),
        ),
    ],
    ids=[
        "no-contact",
        "office-role",
        "role-other",
        "setting-other",
        "volunteer",
        "employer-pending",
        "frontline",
        "care-home-older-adults",
        "care-home-working-age",
        "personal-assistant",
    ],
)
def test_version_1_gives_each_row_of_the_design(version_1, overrides, expected):
    assert assess(facts(**overrides), version_1) == expected


def test_no_contact_is_not_eligible_whatever_else_needs_information(version_1):
    outcome, reasons = assess(
        facts(direct_contact=False, job_role="other", employer_approved=False), version_1
    )
    assert (outcome, reasons) == ("not_eligible", (NO_CONTACT,))


def test_needs_information_reasons_combine_in_rule_order_once_each(version_1):
    outcome, reasons = assess(
        facts(
            job_role="other",
            work_setting="other",
            employment_type="volunteer",
            employer_approved=False,
        ),
        version_1,
    )
    assert outcome == "needs_information"
    assert reasons == (OTHER, VOLUNTEER, EMPLOYER_PENDING)


def test_office_role_without_contact_is_not_eligible(version_1):
    assert assess(facts(job_role="administrative_staff", direct_contact=False), version_1)[0] == (
        "not_eligible"
    )


def test_care_home_for_older_adults_needs_information_when_employer_pending(version_1):
    outcome, reasons = assess(
        facts(work_setting="care_home_older_adults", employer_approved=False), version_1
    )
    assert (outcome, reasons) == ("needs_information", (EMPLOYER_PENDING,))


def test_no_matching_rule_needs_a_person():
    rules = [{"when": {"direct_contact": False}, "outcome": "not_eligible", "reason": "No"}]
    assert assess(facts(), rules) == ("needs_information", (NO_RULE_REASON,))


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([], "non-empty list"),
        ([{"when": {"shoe_size": 9}, "outcome": "eligible", "reason": "x"}], "unknown fact"),
        ([{"when": {}, "outcome": "maybe", "reason": "x"}], "outcome must be"),
        ([{"when": {}, "outcome": "eligible", "reason": " "}], "needs a reason"),
        ([{"when": {"direct_contact": "yes"}, "outcome": "eligible", "reason": "x"}], "bool"),
        ([{"when": {"job_role": {"only": ["x"]}}, "outcome": "eligible", "reason": "x"}], "not_in"),
        ([{"when": {}, "outcome": "eligible", "reason": "x", "extra": 1}], "only 'when'"),
    ],
)
def test_rule_sets_that_cannot_be_evaluated_are_refused(rules, message):
    with pytest.raises(RuleError, match=message):
        compile_rules(rules)
