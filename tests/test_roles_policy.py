"""Who may do what is decided in portal/roles.py alone: no other module or template compares
a user's role, so a new view or page asks a named predicate (or its template filter)."""

import re
from pathlib import Path

import pytest

from portal import roles
from portal.roles import Role
from tests.factories import make_user

ROOT = Path(__file__).resolve().parent.parent
ROLES_MODULE = ROOT / "portal" / "roles.py"
ROLE_COMPARISON = re.compile(r"\.role\s*(==|!=|\bnot\s+in\b|\bin\b)")


def _application_files() -> list[Path]:
    """Python files and templates of the project, without migrations, tests or vendored code."""
    found = []
    for suffix in ("*.py", "*.html"):
        for file in ROOT.rglob(suffix):
            parts = file.relative_to(ROOT).parts
            if parts[0] in {"tests", "node_modules", "static"} or parts[0].startswith("."):
                continue
            if "migrations" in parts or file == ROLES_MODULE:
                continue
            found.append(file)
    return found


def test_only_the_roles_module_compares_a_users_role():
    offending = [
        f"{file.relative_to(ROOT)}:{number}: {line.strip()}"
        for file in _application_files()
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1)
        if ROLE_COMPARISON.search(line)
    ]
    assert not offending, (
        "Ask a named predicate in portal/roles.py (or its template filters) instead of "
        "comparing a role:\n" + "\n".join(offending)
    )


def test_the_scan_sees_the_project():
    files = {str(file.relative_to(ROOT)) for file in _application_files()}
    assert {"portal/views.py", "employers/services.py", "bookings/models.py"} <= files
    assert "employers/templates/employers/staff_list.html" in files
    assert ROLE_COMPARISON.search("if user.role == Role.LOCAL_LEAD:")
    assert ROLE_COMPARISON.search("if user.role not in (Role.EMPLOYER,):")
    assert ROLE_COMPARISON.search('{% if user.role == "employer" %}')
    assert not ROLE_COMPARISON.search("role=inviter.role,")


@pytest.mark.django_db
def test_lead_or_administrator_is_decided_once():
    """Lead or administrator, once decided four ways, now has one answer per role."""
    questions = (
        roles.may_decide_employers,
        roles.may_review_eligibility,
        roles.may_preview_rule_changes,
    )
    for role in Role:
        user = make_user(role)
        answers = {question(user) for question in questions}
        assert answers == {role in (Role.LOCAL_LEAD, Role.ADMINISTRATOR)}, role
        user.is_active = False
        assert not any(question(user) for question in questions), role
