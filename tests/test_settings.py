"""Configuration from the environment: production values pass `check --deploy` cleanly, a
missing required value stops start-up naming it, and no secret has a default outside DEBUG."""

import ast
import os
import re
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "portal" / "settings.py"

# Required when DEBUG is off: each must stop start-up when missing.
REQUIRED_IN_PRODUCTION = [
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SITE_URL",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
]


def settings_reads() -> dict[str, ast.Call]:
    """Every environment variable portal/settings.py reads, with the call that reads it."""
    reads = {}
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        via_env = isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "env"
        via_required = isinstance(func, ast.Name) and func.id == "required"
        name = getattr(node.args[0], "value", None)
        if (via_env or via_required) and isinstance(name, str) and re.fullmatch(r"[A-Z_]+", name):
            reads[name] = node
    return reads


def production_env(**overrides) -> dict[str, str]:
    """A clean environment with production values (no DEBUG), like a real deployment."""
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in settings_reads() and key != "DJANGO_SETTINGS_MODULE"
    }
    base.update(
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="carevax.example.org",
        SITE_URL="https://carevax.example.org",
        DATABASE_URL="postgres://carevax:db-password@db.internal:5432/carevax",
        REDIS_URL="redis://redis.internal:6379/0",
        EMAIL_URL="smtp+tls://mailer:mail-password@smtp.example.org:587",
    )
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_values():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output
    assert "WARNING" not in output


def test_check_deploy_does_catch_a_weak_production_setting():
    # Proves the test above can fail: a short key is one of Django's deploy warnings.
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env(SECRET_KEY="short")
    )
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_start_up_fails_naming_a_missing_secret_key():
    result = manage("check", env=production_env(SECRET_KEY=None))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


@pytest.mark.parametrize("name", REQUIRED_IN_PRODUCTION)
def test_each_required_setting_is_named_when_missing(name, monkeypatch):
    for key, value in production_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DEBUG", raising=False)
    monkeypatch.delenv(name)
    with pytest.raises(ImproperlyConfigured, match=rf"\b{name}\b"):
        runpy.run_path(str(SETTINGS))


@pytest.mark.parametrize("name", REQUIRED_IN_PRODUCTION)
def test_empty_required_setting_counts_as_missing(name, monkeypatch):
    for key, value in production_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DEBUG", raising=False)
    monkeypatch.setenv(name, "")
    with pytest.raises(ImproperlyConfigured, match=rf"\b{name}\b"):
        runpy.run_path(str(SETTINGS))


def test_production_values_are_used(monkeypatch):
    for key, value in production_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DEBUG", raising=False)
    loaded = runpy.run_path(str(SETTINGS))
    assert loaded["DEBUG"] is False
    assert loaded["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert loaded["DATABASES"]["default"]["HOST"] == "db.internal"
    assert loaded["CELERY_BROKER_URL"] == "redis://redis.internal:6379/0"
    assert loaded["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert loaded["EMAIL_USE_TLS"] is True
    assert loaded["SESSION_COOKIE_SECURE"] is True
    assert loaded["SECURE_SSL_REDIRECT"] is True


def test_laptop_defaults_need_nothing_but_debug(monkeypatch, tmp_path):
    for name in settings_reads():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    loaded = runpy.run_path(str(SETTINGS))
    assert loaded["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert loaded["DATABASES"]["default"]["NAME"] == str(tmp_path / "carevax.sqlite3")
    assert loaded["CELERY_BROKER_URL"] == "filesystem://"
    assert loaded["CELERY_BROKER_TRANSPORT_OPTIONS"]["data_folder_in"].startswith(str(tmp_path))
    assert loaded["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend"


def test_no_secret_has_a_default_outside_debug():
    """A secret is either required() (DEBUG-only default) or empty by default (feature off)."""
    secret_like = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$|^DATABASE_URL$|^EMAIL_URL$|^REDIS_URL$")
    offenders = []
    for name, call in settings_reads().items():
        if not secret_like.search(name):
            continue
        if isinstance(call.func, ast.Name) and call.func.id == "required":
            continue
        default = next((kw.value for kw in call.keywords if kw.arg == "default"), None)
        if not (isinstance(default, ast.Constant) and default.value == ""):
            offenders.append(name)
    assert offenders == [], f"secrets with a default outside DEBUG: {offenders}"
    assert {"SECRET_KEY", "NOTIFY_API_KEY", "DATABASE_URL"} <= set(settings_reads())


def test_readme_configuration_table_names_every_variable():
    table = (ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.MULTILINE))
    assert documented == set(settings_reads())
