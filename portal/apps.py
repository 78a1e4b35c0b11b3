"""App configuration for the project package."""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Carevax portal"

    def ready(self) -> None:
        from portal import bulk, signals  # noqa: F401  (the any_of lookup; audit receivers)


class AuditedAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with ``portal.admin_site.AuditedAdminSite`` as ``admin.site``,
    so every admin action is audited."""

    default = False  # named in full in INSTALLED_APPS; "portal" means PortalConfig
    default_site = "portal.admin_site.AuditedAdminSite"
