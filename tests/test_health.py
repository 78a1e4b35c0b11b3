"""/healthz against the real pieces: a Celery worker process writing its heartbeat to the test
database through Redis or the filesystem transport, and a broker that is not there."""

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.utils import timezone

from portal.models import ColleagueInvitation, WorkerHeartbeat
from portal.roles import Role
from tests.conftest import database_url, poll
from tests.factories import make_user

ROOT = Path(__file__).resolve().parent.parent
# Real processes need a shared database that commits: PostgreSQL, with transactions on.
# serialized_rollback puts the migrated local authorities back for the tests that follow.
shared_database = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def healthz(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, response.json()


@pytest.mark.django_db
def test_healthz_is_503_without_a_live_worker(client):
    status, report = healthz(client)
    assert status == 503
    assert report["status"] == "unavailable"
    assert report["checks"]["database"]["ok"] is True
    assert report["checks"]["broker"]["ok"] is True
    assert report["checks"]["worker"] == {"ok": False, "workers": 0}


@pytest.mark.django_db
def test_a_stale_heartbeat_does_not_count(client, settings):
    settings.WORKER_HEARTBEAT_STALE_AFTER = 30
    WorkerHeartbeat.objects.create(
        hostname="old@host", last_seen=timezone.now() - timedelta(seconds=31)
    )
    assert healthz(client)[1]["checks"]["worker"]["ok"] is False
    WorkerHeartbeat.objects.create(hostname="new@host", last_seen=timezone.now())
    status, report = healthz(client)
    assert report["checks"]["worker"] == {"ok": True, "workers": 1}


@pytest.mark.celery_worker
@shared_database
def test_healthz_follows_a_real_worker_on_redis(client, settings, redis_url, start_worker):
    settings.WORKER_HEARTBEAT_STALE_AFTER = 4
    worker = start_worker(DATABASE_URL=database_url(), REDIS_URL=redis_url)

    status, report = poll(lambda: healthz(client), lambda r: r[0] == 200)
    assert status == 200, (report, worker.output())
    assert report["status"] == "ok"
    assert report["checks"]["database"]["ok"] is True
    assert report["checks"]["broker"] == {"ok": True, "transport": "redis"}
    assert report["checks"]["worker"]["ok"] is True
    assert WorkerHeartbeat.objects.filter(hostname=worker.name).exists()

    # A killed worker cannot say goodbye: its heartbeat goes stale and health follows.
    worker.stop(signal.SIGKILL)
    status, report = poll(lambda: healthz(client), lambda r: r[0] == 503)
    assert status == 503, report
    assert report["checks"]["worker"] == {"ok": False, "workers": 0}
    assert report["checks"]["broker"]["ok"] is True


@pytest.mark.celery_worker
@shared_database
def test_a_worker_stopping_cleanly_forgets_its_heartbeat(client, settings, redis_url, start_worker):
    settings.WORKER_HEARTBEAT_STALE_AFTER = 3600
    worker = start_worker(DATABASE_URL=database_url(), REDIS_URL=redis_url)
    status, report = poll(lambda: healthz(client), lambda r: r[0] == 200)
    assert status == 200, (report, worker.output())

    worker.stop(signal.SIGTERM)
    assert worker.process.returncode == 0, worker.output()
    assert not WorkerHeartbeat.objects.filter(hostname=worker.name).exists()
    assert healthz(client)[0] == 503


@pytest.mark.celery_worker
@shared_database
def test_filesystem_transport_runs_a_task_end_to_end(tmp_path, start_worker):
    """The laptop default (no REDIS_URL): a real worker takes a task from files under var/."""
    lead = make_user(Role.LOCAL_LEAD)
    expired = ColleagueInvitation.objects.create(
        email="old@example.org",
        role=Role.LOCAL_LEAD,
        local_authority=lead.local_authority,
        invited_by=lead,
        token_hash=uuid.uuid4().hex,
        expires_at=timezone.now() - timedelta(days=30),
    )
    current = ColleagueInvitation.objects.create(
        email="new@example.org",
        role=Role.LOCAL_LEAD,
        local_authority=lead.local_authority,
        invited_by=lead,
        token_hash=uuid.uuid4().hex,
        expires_at=timezone.now() + timedelta(days=7),
    )
    queue = tmp_path / "var" / "celery" / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    worker = start_worker(DATABASE_URL=database_url(), REDIS_URL=None)

    # The web process's side: the same transport and folders the settings derive from VAR_DIR.
    # Not set as the current app: shared tasks sent later in the run must keep using portal's.
    sender = Celery(
        set_as_current=False,
        broker="filesystem://",
        broker_transport_options={
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "control_folder": str(queue.parent / "control"),
            "store_processed": False,
        },
    )
    sender.send_task("portal.tasks.expire_colleague_invitations_task")

    gone = poll(lambda: not ColleagueInvitation.objects.filter(pk=expired.pk).exists(), bool)
    assert gone, worker.output()
    assert ColleagueInvitation.objects.filter(pk=current.pk).exists()
    assert WorkerHeartbeat.objects.filter(hostname=worker.name).exists()
    assert "expire_colleague_invitations" in worker.output()
    assert "succeeded" in worker.output()
    assert (tmp_path / "var" / "celery" / "control").is_dir()


def test_healthz_reports_a_broker_that_is_down(tmp_path):
    """REDIS_URL pointing at a closed port: the real settings, a real connection attempt."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DEBUG": "true",
        "VAR_DIR": str(tmp_path),
        "REDIS_URL": f"redis://127.0.0.1:{closed_port}/0",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    env.pop("DATABASE_URL", None)
    script = (
        "import json, django; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz');"
        "print(json.dumps({'status': r.status_code, 'report': r.json()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert answer["report"]["checks"]["broker"]["ok"] is False
    assert answer["report"]["checks"]["broker"]["error"]
    assert answer["report"]["checks"]["database"]["ok"] is True
