"""App configuration for bookings."""

from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Sites and bookings"

    def ready(self) -> None:
        from bookings import receivers  # noqa: F401
