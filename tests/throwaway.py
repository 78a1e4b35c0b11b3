"""`make test`'s runner: pytest with throwaway PostgreSQL and Redis where this machine has them.

With no `DATABASE_URL` it starts a PostgreSQL cluster from the installed server binaries in a
temporary folder, and with no `REDIS_URL` a `redis-server` child; both are stopped and deleted
when pytest ends (Ctrl-C included). The last line it prints names each group of tests skipped
for want of a service, and why. Run it as `python -m tests.throwaway [pytest arguments]`.
"""

import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# The groups of tests that need a service, as tests/conftest.py's `missing_service` names them.
POSTGRESQL, REDIS, CHROMIUM = "PostgreSQL", "Redis", "Chromium"
GROUPS = (POSTGRESQL, REDIS, CHROMIUM)
# Set to true for the run on the embedded defaults (SQLite, the filesystem transport): no
# throwaway services, and tests that need PostgreSQL or Redis skip even under CI=true.
EMBEDDED = "TEST_EMBEDDED"
TRUE = {"1", "true", "yes"}
SKIP_REASON = re.compile(r"^\[(?P<group>\w+)\] (?P<reason>.*)$", re.DOTALL)


def embedded(environ=os.environ) -> bool:
    return environ.get(EMBEDDED, "").lower() in TRUE


def skip_reason(group: str, reason: str) -> str:
    """The skip reason for a test of ``group``: the summary line reads the group back from it."""
    return f"[{group}] {reason}"


def chromium() -> str | None:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    return path if os.path.exists(path) else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, *, seconds: float = 30) -> bool:
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        with contextlib.suppress(OSError):
            if check():
                return True
        time.sleep(0.1)
    return False


class Unavailable(Exception):
    """A service this machine cannot start; the message says why, for the summary line."""


def postgresql_bindir() -> Path:
    on_path = shutil.which("initdb")
    if on_path:
        # A link on PATH (as /usr/local/bin/initdb) stands for a folder with pg_ctl beside it.
        return Path(on_path).resolve().parent
    # Debian and Ubuntu keep the server binaries off PATH, one folder per major version.
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        raise Unavailable("no PostgreSQL server binaries (apt-get install postgresql)")
    newest = max(found, key=lambda path: int(Path(path).parts[-3].split(".")[0]))
    return Path(newest).parent


class ThrowawayPostgreSQL:
    """A cluster in a temporary folder, listening on a free port of 127.0.0.1 only.

    initdb refuses to run as root, so as root the cluster belongs to the `postgres` user."""

    def __init__(self, folder: Path):
        self.bindir = postgresql_bindir()
        self.folder = folder / "postgresql"
        self.data = self.folder / "data"
        self.port = free_port()
        self.run_as: list[str] = []
        self.folder.mkdir()
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and there is no postgres user") from None
            if not shutil.which("runuser"):
                raise Unavailable("running as root and there is no runuser to become postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            # mkdtemp's folder is root's alone; postgres must pass through it to its own.
            folder.chmod(0o711)
            self.run_as = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/carevax"

    def run(self, program: str, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.run_as, str(self.bindir / program), *arguments],
            cwd=self.folder,
            capture_output=True,
            text=True,
            # Its own session: Ctrl-C reaches pytest, which then stops the server in order.
            start_new_session=True,
            timeout=120,
        )

    def start(self) -> None:
        initdb = ["-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "-N"]
        # C.UTF-8, as Debian's own clusters; a system without it gets the plain C locale.
        made = self.run("initdb", *initdb, "--locale=C.UTF-8")
        if made.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            made = self.run("initdb", *initdb, "--no-locale")
        if made.returncode != 0:
            raise Unavailable(f"initdb failed: {made.stderr.strip() or made.stdout.strip()}")
        # Durability is no concern of a cluster deleted at the end of the run.
        options = (
            f"-p {self.port} -k {shlex.quote(str(self.folder))} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = str(self.folder / "server.log")
        started = self.run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
        if started.returncode != 0:
            raise Unavailable(f"pg_ctl start failed (see {log}): {started.stderr.strip()}")
        connect = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        created = self.run("createdb", *connect, "carevax")
        if created.returncode != 0:
            raise Unavailable(f"createdb failed: {created.stderr.strip()}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


class ThrowawayRedis:
    """A `redis-server` child on a free port, keeping nothing on disk."""

    def __init__(self, folder: Path):
        self.program = shutil.which("redis-server")
        if not self.program:
            raise Unavailable("no redis-server on PATH (apt-get install redis-server)")
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    def start(self) -> None:
        log = self.folder / "redis.log"
        self.process = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.folder), "--logfile", str(log)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if not wait_for(lambda: self.process.poll() is None and self.answers()):
            self.stop()
            raise Unavailable(f"redis-server did not answer (see {log})")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class SkipTally:
    """A pytest plugin counting the tests skipped for want of each service."""

    def __init__(self):
        self.skipped: Counter[str] = Counter()
        self.reasons: dict[str, str] = {}

    def pytest_runtest_logreport(self, report) -> None:
        if not report.skipped or not isinstance(report.longrepr, tuple):
            return
        reason = report.longrepr[2].removeprefix("Skipped: ")
        found = SKIP_REASON.match(reason)
        group = found["group"] if found and found["group"] in GROUPS else "other"
        self.skipped[group] += 1
        self.reasons.setdefault(group, found["reason"] if found else reason)


def summary_line(tally: SkipTally, unavailable: dict[str, str]) -> str:
    """One line naming each skipped group and why: the runner's reason when it could not
    start the service, else the first skipped test's own."""
    if not tally.skipped:
        return "Skipped groups: none"
    parts = []
    for group in (*GROUPS, "other"):
        count = tally.skipped[group]
        if count:
            tests = "test" if count == 1 else "tests"
            why = " ".join((unavailable.get(group) or tally.reasons[group]).split())
            parts.append(f"{group} ({count} {tests}: {why})")
    return "Skipped groups: " + "; ".join(parts)


def start_services(environ, folder: Path, started: list) -> dict[str, str]:
    """Start what ``environ`` does not configure; set its URLs; return what could not start."""
    unavailable: dict[str, str] = {}
    if embedded(environ):
        for group in (POSTGRESQL, REDIS):
            unavailable[group] = f"the embedded run ({EMBEDDED}=true) starts no {group}"
    wanted = [
        (POSTGRESQL, "DATABASE_URL", ThrowawayPostgreSQL),
        (REDIS, "REDIS_URL", ThrowawayRedis),
    ]
    for group, variable, service_class in wanted:
        if environ.get(variable) or group in unavailable:
            continue
        try:
            service = service_class(folder)
            started.append(service)
            service.start()
        except Unavailable as exc:
            unavailable[group] = str(exc)
            continue
        environ[variable] = service.url
    if not chromium():
        unavailable[CHROMIUM] = "no chromium (apt-get install chromium)"
    return unavailable


def describe(environ, unavailable: dict[str, str]) -> str:
    used = []
    if POSTGRESQL not in unavailable:
        used.append(f"PostgreSQL at {environ.get('DATABASE_URL', '')}")
    if REDIS not in unavailable:
        used.append(f"Redis at {environ.get('REDIS_URL', '')}")
    if CHROMIUM not in unavailable:
        used.append(f"Chromium at {chromium()}")
    return "Tests use: " + (", ".join(used) or "no services")


def stop_on_termination(signum, frame):
    raise KeyboardInterrupt


def main(arguments: list[str]) -> int:
    import pytest

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop_on_termination)
    started: list = []
    tally = SkipTally()
    folder = Path(tempfile.mkdtemp(prefix="carevax-test-"))
    try:
        unavailable = start_services(os.environ, folder, started)
        print(describe(os.environ, unavailable), flush=True)
        exit_code = pytest.main(arguments, plugins=[tally])
    finally:
        for service in reversed(started):
            service.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(summary_line(tally, unavailable), flush=True)
    return int(exit_code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
