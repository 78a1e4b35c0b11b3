"""Carevax project package: settings, URLs, the Celery app and what crosses apps."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
