"""What the eligibility tests share: the reasons rule set version 1 gives for each row of
the table in docs/eligibility.md, and a stricter rule set to draft and publish as version 2."""

NO_CONTACT = "No close personal contact with people clinically vulnerable to COVID-19"
OFFICE = "Office role: confirm the close personal contact"
OTHER = "Role/setting not in the list: describe it"
VOLUNTEER = "Volunteer: confirm regular close personal contact"
EMPLOYER_PENDING = "Employer awaiting approval"
FRONTLINE = "Frontline social care worker in direct contact (cohort 2b)"
CARE_HOME = "Care home staff (cohort 1)"

STRICTER = [
    {"when": {"direct_contact": False}, "outcome": "not_eligible", "reason": "No contact"},
    {
        "when": {"work_setting": ["domiciliary_care"]},
        "outcome": "needs_information",
        "reason": "Home care: confirm the visits",
    },
    {"when": {"direct_contact": True}, "outcome": "eligible", "reason": "In contact"},
]
