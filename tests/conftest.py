"""Shared fixtures: users of each role, and guards for the real services.

A test that needs PostgreSQL, Redis or Chromium skips on a laptop without them, but under
CI=true a missing service fails the run instead of skipping silently, except PostgreSQL and
Redis in the run on the embedded defaults (TEST_EMBEDDED=true), which leaves them out on purpose.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from tests import factories, throwaway

IN_CI = os.environ.get("CI", "").lower() in throwaway.TRUE


def missing_service(group: str, reason: str):
    """Skip (fail under CI) a test of ``group`` (`throwaway.GROUPS`) whose service is missing."""
    if throwaway.embedded() and group in (throwaway.POSTGRESQL, throwaway.REDIS):
        reason = f"the embedded run ({throwaway.EMBEDDED}=true) leaves {group} out: {reason}"
    elif IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(throwaway.skip_reason(group, reason))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Production's PBKDF2 costs seconds per user on a busy machine; tests need no strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def postgres(db):
    """Use in tests about constraints, locking or concurrency."""
    if connection.vendor != "postgresql":
        missing_service(throwaway.POSTGRESQL, "this test needs PostgreSQL (set DATABASE_URL)")
    return connection


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("REDIS_URL", "")
    if not url:
        missing_service(throwaway.REDIS, "this test needs Redis (set REDIS_URL)")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        missing_service(throwaway.REDIS, f"Redis at {url} is not answering: {exc}")
    return url


@pytest.fixture(scope="session")
def chromium_path():
    path = throwaway.chromium()
    if not path:
        missing_service(
            throwaway.CHROMIUM, "this test needs Debian's chromium (apt-get install chromium)"
        )
    return path


@pytest.fixture(autouse=True)
def _fresh_reference_values():
    """Each test reads reference values afresh: a rolled-back test's alias must not linger."""
    from workers import reference

    reference.clear_local_cache()
    yield
    reference.clear_local_cache()


@pytest.fixture
def local_authority(db):
    from portal.models import LocalAuthority

    return LocalAuthority.objects.get(gss_code="E09000033")


@pytest.fixture
def other_local_authority(db):
    from portal.models import LocalAuthority

    return LocalAuthority.objects.get(gss_code="E08000003")


@pytest.fixture
def make_user(db):
    return factories.make_user


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and used TOTP codes live in the cache: start each test clean."""
    from django.core.cache import cache

    cache.clear()
    yield


# --- A real Celery worker process (job semantics need one) -------------------------------

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test_<name>)."""
    if connection.vendor != "postgresql":
        missing_service(
            throwaway.POSTGRESQL,
            "a real worker needs the test database on PostgreSQL (set DATABASE_URL)",
        )
    conf = connection.settings_dict
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    return (
        f"postgres://{conf['USER']}{password}@{conf['HOST'] or '127.0.0.1'}:"
        f"{conf['PORT'] or 5432}/{conf['NAME']}"
    )


def poll(fetch, until, *, deadline_seconds: float = 90):
    """Call ``fetch`` until ``until(result)`` holds; return the last result either way."""
    stop = time.monotonic() + deadline_seconds
    result = fetch()
    while not until(result) and time.monotonic() < stop:
        time.sleep(0.5)
        result = fetch()
    return result


class CeleryWorker:
    """A `celery -A portal worker` subprocess with its own name and log file.

    ``options`` replace the default single-process pool (``--pool=solo``); with
    ``own_process_group`` the worker leads a process group of its own, so the test can kill
    it together with its pool's child processes (``kill_process_group``)."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        options: tuple[str, ...] = ("--pool=solo",),
        own_process_group: bool = False,
        **environment: str | None,
    ):
        self.name = f"healthtest-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        env = {**os.environ, "DEBUG": "true", "WORKER_HEARTBEAT_INTERVAL": "1"}
        env.update({key: value for key, value in environment.items() if value is not None})
        for key, value in environment.items():
            if value is None:
                env.pop(key, None)
        self.log = tmp_path / f"worker-{self.name.partition('@')[0]}.log"
        self.own_process_group = own_process_group
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                *options,
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "-n",
                self.name,
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=own_process_group,
        )

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def kill_process_group(self) -> None:
        """SIGKILL the worker and every process of its group, as a crash or an OOM kill would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.own_process_group and sig == signal.SIGKILL:
            self.kill_process_group()
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def start_worker(tmp_path):
    """Start real Celery workers on the test database; each is killed after the test."""
    started = []

    def start(**environment):
        environment.setdefault("VAR_DIR", str(tmp_path / "var"))
        worker = CeleryWorker(tmp_path, **environment)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(signal.SIGKILL)
