"""App configuration for workers."""

from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    verbose_name = "Workers and eligibility"

    def ready(self) -> None:
        from workers import reference  # noqa: F401  (connects the cache invalidation receivers)
