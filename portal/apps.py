"""App configuration for the project package."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Carevax portal"

    def ready(self) -> None:
        from portal import bulk, signals  # noqa: F401  (the any_of lookup; audit receivers)
