"""Shared fixtures: users of each role, and guards for the real services.

A test that needs PostgreSQL, Redis or Chromium skips on a laptop without them, but under
CI=true a missing service fails the run instead of skipping silently.
"""

import os
import shutil

import pytest
from django.db import connection

from tests import factories

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing_service(reason: str):
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Production's PBKDF2 costs seconds per user on a busy machine; tests need no strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def postgres(db):
    """Use in tests about constraints, locking or concurrency."""
    if connection.vendor != "postgresql":
        missing_service("this test needs PostgreSQL (set DATABASE_URL)")
    return connection


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("REDIS_URL", "")
    if not url:
        missing_service("this test needs Redis (set REDIS_URL)")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        missing_service(f"Redis at {url} is not answering: {exc}")
    return url


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        missing_service("this test needs Debian's chromium (apt-get install chromium)")
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
