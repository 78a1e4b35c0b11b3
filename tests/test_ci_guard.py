"""Under CI=true a test whose service is missing fails instead of skipping; on a laptop it
skips. Checked by running pytest on a tiny test file in a subprocess."""

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


def run_pytest(tmp_path: Path, source: str, **environment: str | None):
    test_file = tmp_path / "test_guarded.py"
    test_file.write_text(source)
    env = {**os.environ, "DEBUG": "true", "VAR_DIR": str(tmp_path / "var")}
    for key, value in environment.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
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
