"""docker-compose.yml describes the production topology and only references things that exist:
entry points that import, management commands that are registered, settings that are read.

There is no Docker engine on these machines, so the file is checked, not run.
"""

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from django.core.management import get_commands

from tests.test_settings import REQUIRED_IN_PRODUCTION, settings_reads

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ["migrate", "web", "worker", "beat"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def command_of(service: dict) -> list[str]:
    command = service.get("command")
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def interpolated(text: str) -> set[str]:
    """Variables docker compose substitutes from .env (``$$`` is a literal dollar)."""
    return set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))


def test_the_production_services_are_there(services):
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    for name in APP_SERVICES:
        assert services[name]["build"] == "."


def test_web_runs_gunicorn_on_the_wsgi_application(services):
    command = command_of(services["web"])
    assert command[0] == "gunicorn"
    target = command[1]
    module_name, attribute = target.split(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute))
    assert target == "portal.wsgi:application"


@pytest.mark.parametrize(("name", "subcommand"), [("worker", "worker"), ("beat", "beat")])
def test_celery_services_point_at_the_real_app(services, name, subcommand):
    command = command_of(services[name])
    assert command[:2] == ["celery", "-A"]
    app = find_app(command[2])
    assert isinstance(app, Celery)
    assert app is importlib.import_module("portal.celery").app
    assert command[3] == subcommand


def test_migrate_uses_a_registered_management_command(services):
    command = command_of(services["migrate"])
    assert command[:2] == ["python", "manage.py"]
    assert command[2] in get_commands()
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_beat_runs_exactly_once_and_workers_scale(services):
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "replicas" in services["worker"]["deploy"]
    assert "--concurrency" in " ".join(command_of(services["worker"]))


def test_health_checks(services):
    web = " ".join(services["web"]["healthcheck"]["test"])
    assert "/healthz" in web
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    for name in ("web", "worker", "beat", "migrate"):
        for dependency in ("postgres", "redis"):
            assert services[name]["depends_on"][dependency]["condition"] == "service_healthy"


def test_healthz_is_a_real_url():
    from django.urls import resolve

    assert resolve("/healthz").url_name == "healthz"


def test_app_services_pass_only_variables_settings_read(services):
    read = set(settings_reads())
    for name in APP_SERVICES:
        passed = set(services[name]["environment"])
        assert passed <= read, f"{name} passes variables settings never read: {passed - read}"


def test_required_production_variables_are_provided(services):
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        for variable in REQUIRED_IN_PRODUCTION:
            assert environment.get(variable), f"{name} lacks {variable}"
        assert "DEBUG" not in environment
    assert services["web"]["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert "@postgres:5432/" in services["web"]["environment"]["DATABASE_URL"]


def test_volumes_are_declared_and_used(compose, services):
    declared = set(compose["volumes"])
    used = set()
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            used.add(source)
    assert {"postgres-data", "redis-data", "media"} <= used
    assert used <= declared
    # Web writes staff uploads that the worker reads: they must share the volume.
    assert "media:/app/var/media" in services["web"]["volumes"]
    assert "media:/app/var/media" in services["worker"]["volumes"]


def test_every_interpolated_variable_is_documented_in_env_example():
    documented = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    used = interpolated((ROOT / "docker-compose.yml").read_text())
    assert used, "the compose file takes nothing from .env?"
    assert used <= documented, f"undocumented in .env.example: {used - documented}"


def test_dockerfile_installs_frontend_collects_static_and_runs_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "npm ci" in dockerfile
    assert "manage.py collectstatic --no-input" in dockerfile
    assert '"gunicorn", "portal.wsgi:application"' in dockerfile
    assert "USER carevax" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", "node_modules", ".git"} <= set(ignored)
