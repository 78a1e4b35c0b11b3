"""App configuration for the project package."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Carevax portal"

    def ready(self) -> None:
        from portal import signals  # noqa: F401  (connects audit receivers)
