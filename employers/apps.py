"""App configuration for employers."""

from django.apps import AppConfig


class EmployersConfig(AppConfig):
    name = "employers"
    verbose_name = "Employers"

    def ready(self) -> None:
        from employers import receivers  # noqa: F401
