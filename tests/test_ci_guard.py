"""Under CI=true a test whose service is missing fails instead of skipping; on a laptop it
skips; `make test`'s runner (tests/throwaway.py) leaves a configured service alone and names
what it skipped. Checked by running pytest on a tiny test file in a subprocess."""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NEEDS_REDIS = """
from tests.conftest import redis_url  # noqa: F401


def test_needs_redis(redis_url):
    assert redis_url
"""

NEEDS_POSTGRES = """
from tests.conftest import postgres  # noqa: F401


def test_needs_postgres(postgres):
    assert postgres.vendor == "postgresql"
"""


NEEDS_CHROMIUM_AND_URLS = """
import os

from tests import throwaway
from tests.conftest import missing_service


def test_configured_urls_are_kept():
    assert os.environ["DATABASE_URL"] == "postgres://someone@127.0.0.1:1/theirs"
    assert os.environ["REDIS_URL"] == "redis://127.0.0.1:1/3"


def test_needs_chromium():
    missing_service(throwaway.CHROMIUM, "no chromium in this test")
"""


def run_pytest(tmp_path: Path, source: str, *, module: str = "pytest", **environment: str | None):
    test_file = tmp_path / "test_guarded.py"
    test_file.write_text(source)
    env = {**os.environ, "DEBUG": "true", "VAR_DIR": str(tmp_path / "var")}
    env.pop("TEST_EMBEDDED", None)
    for key, value in environment.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [
            sys.executable,
            "-m",
            module,
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(ROOT),
            str(test_file),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_missing_redis_fails_under_ci(tmp_path):
    result = run_pytest(tmp_path, NEEDS_REDIS, CI="true", REDIS_URL=None)
    assert result.returncode == 1, result.stdout
    assert "CI=true but this test needs Redis" in result.stdout
    assert "1 error" in result.stdout or "1 failed" in result.stdout


def test_unreachable_redis_fails_under_ci(tmp_path):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    result = run_pytest(tmp_path, NEEDS_REDIS, CI="true", REDIS_URL=url)
    assert result.returncode == 1, result.stdout
    assert f"CI=true but Redis at {url} is not answering" in result.stdout


def test_missing_redis_skips_on_a_laptop(tmp_path):
    result = run_pytest(tmp_path, NEEDS_REDIS, CI=None, REDIS_URL=None)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout


def test_sqlite_instead_of_postgres_fails_under_ci(tmp_path):
    result = run_pytest(tmp_path, NEEDS_POSTGRES, CI="true", DATABASE_URL=None)
    assert result.returncode == 1, result.stdout
    assert "CI=true but this test needs PostgreSQL" in result.stdout


def test_ci_equal_one_counts_as_ci(tmp_path):
    result = run_pytest(tmp_path, NEEDS_REDIS, CI="1", REDIS_URL=None)
    assert result.returncode == 1, result.stdout


def test_runner_keeps_configured_urls_and_names_skipped_groups(tmp_path):
    result = run_pytest(
        tmp_path,
        NEEDS_CHROMIUM_AND_URLS,
        module="tests.throwaway",
        CI=None,
        DATABASE_URL="postgres://someone@127.0.0.1:1/theirs",
        REDIS_URL="redis://127.0.0.1:1/3",
    )
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    last_line = result.stdout.strip().splitlines()[-1]
    # The runner's own reason replaces the test's on a machine that has no chromium at all.
    assert last_line.startswith("Skipped groups: Chromium (1 test: "), last_line


def test_embedded_run_skips_postgres_tests_even_under_ci(tmp_path):
    result = run_pytest(
        tmp_path,
        NEEDS_POSTGRES,
        module="tests.throwaway",
        CI="true",
        TEST_EMBEDDED="true",
        DATABASE_URL=None,
        REDIS_URL=None,
    )
    assert result.returncode == 0, result.stdout
    assert "Tests use: PostgreSQL" not in result.stdout
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line == (
        "Skipped groups: PostgreSQL (1 test: the embedded run (TEST_EMBEDDED=true) starts no"
        " PostgreSQL)"
    )
