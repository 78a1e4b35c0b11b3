"""The roles of docs/roles.md and the questions every scope check asks of a user."""

from django.db import models


class Role(models.TextChoices):
    EMPLOYER = "employer", "Employer user"
    LOCAL_LEAD = "local_lead", "Local authority lead"
    SITE_STAFF = "site_staff", "Vaccination site staff"
    NHS_TEAM = "nhs_team", "NHS team member"
    ADMINISTRATOR = "administrator", "Administrator"


def is_administrator(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.role == Role.ADMINISTRATOR))


def has_role(user, role: str) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role == role)
