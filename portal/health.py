"""Health of the portal's moving parts: database, broker and a live Celery worker."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from portal.models import WorkerHeartbeat


def record_worker_heartbeat(hostname: str) -> None:
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"last_seen": timezone.now()}
    )


def forget_worker_heartbeat(hostname: str) -> None:
    WorkerHeartbeat.objects.filter(hostname=hostname).delete()


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict:
    from portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "transport": str(transport)}


def check_worker() -> dict:
    try:
        cutoff = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_AFTER)
        live = list(
            WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).values_list("hostname", flat=True)
        )
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": bool(live), "workers": len(live)}


def health_report() -> tuple[bool, dict]:
    checks = {
        "database": check_database(),
        "broker": check_broker(),
        "worker": check_worker(),
    }
    healthy = all(check["ok"] for check in checks.values())
    return healthy, {"status": "ok" if healthy else "unavailable", "checks": checks}
