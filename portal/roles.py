"""The roles of docs/roles.md and the one place that decides who may do what.

Views, services, scopes and the navigation ask these named predicates; no other module
compares a user's role. Every predicate is false for someone signed out or deactivated.
"""

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    EMPLOYER = "employer", "Employer user"
    LOCAL_LEAD = "local_lead", "Local authority lead"
    SITE_STAFF = "site_staff", "Vaccination site staff"
    NHS_TEAM = "nhs_team", "NHS team member"
    ADMINISTRATOR = "administrator", "Administrator"


def _signed_in(user) -> bool:
    return bool(user.is_authenticated and user.is_active)


def _holds(user, role: str) -> bool:
    return _signed_in(user) and user.role == role


# --- Who someone is -----------------------------------------------------------------------


def role_of(user) -> str:
    """The role ``user`` acts in: a superuser is an administrator whatever their role says;
    "" for someone with no role yet, signed out or deactivated."""
    if not _signed_in(user):
        return ""
    return Role.ADMINISTRATOR if user.is_superuser else user.role


def is_administrator(user) -> bool:
    return role_of(user) == Role.ADMINISTRATOR


def is_local_lead(user) -> bool:
    return _holds(user, Role.LOCAL_LEAD)


def is_employer_user(user) -> bool:
    return _holds(user, Role.EMPLOYER)


def is_site_staff(user) -> bool:
    return _holds(user, Role.SITE_STAFF)


def is_nhs_team(user) -> bool:
    return _holds(user, Role.NHS_TEAM)


def role_requires_mfa(role: str) -> bool:
    """Roles that see person-level data across employers sign in with an authenticator app."""
    return role in settings.MFA_REQUIRED_ROLES


def requires_mfa(user) -> bool:
    """Anyone in such a role, and anyone with admin access, needs an authenticator app."""
    return bool(
        user.is_authenticated
        and (role_requires_mfa(user.role) or user.is_superuser or user.is_staff)
    )


def may_take_role(user, role: str) -> bool:
    """A colleague invitation into ``role`` suits someone with no role yet or that role."""
    return not user.role or user.role == role


# --- What they may do ---------------------------------------------------------------------


def _lead_or_administrator(user) -> bool:
    return is_local_lead(user) or is_administrator(user)


def _employer_or_administrator(user) -> bool:
    return is_employer_user(user) or is_administrator(user)


def may_register_employer(user) -> bool:
    """People with no role yet, and employer users adding another organisation."""
    return _signed_in(user) and not user.is_superuser and user.role in ("", Role.EMPLOYER)


def may_decide_employers(user) -> bool:
    """Local leads approve or reject the employers in their area; administrators any."""
    return _lead_or_administrator(user)


def may_review_eligibility(user) -> bool:
    """Local leads decide their area's eligibility queue; administrators any area's."""
    return _lead_or_administrator(user)


def may_preview_rule_changes(user) -> bool:
    """Local leads and administrators preview rule changes (both sign in with MFA)."""
    return _lead_or_administrator(user)


def may_act_for_employers(user) -> bool:
    """Employer users (and administrators for them) upload staff lists, mark staff as left
    and answer their lead's questions."""
    return _employer_or_administrator(user)


def may_download_staff_list_template(user) -> bool:
    """Employers fill the template in; their leads hand it out."""
    return is_employer_user(user) or is_local_lead(user) or is_administrator(user)


def may_invite_colleagues(user) -> bool:
    """Local leads and employer users invite colleagues into their own role and scope."""
    return is_local_lead(user) or is_employer_user(user)


def may_run_campaigns(user) -> bool:
    """Local leads start, release and stop their area's invitation campaigns."""
    return is_local_lead(user)


def may_route_workers(user) -> bool:
    """Local leads set their area's routing policy and route its workers to sites."""
    return is_local_lead(user)


def may_manage_sites(user) -> bool:
    """Administrators and NHS team members create and change sites (in their region)."""
    return is_nhs_team(user) or is_administrator(user)


def may_see_overview(user) -> bool:
    """The national and regional figures are for the NHS team and administrators."""
    return is_nhs_team(user) or is_administrator(user)
