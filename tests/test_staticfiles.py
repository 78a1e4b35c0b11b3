"""collectstatic with production settings: hashed, compressed files, with the NHS.UK frontend
ES module import in our own script rewritten to the hashed name, and every static file the
layout references present in the manifest."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.test_settings import production_env

BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    static_root = tmp_path_factory.mktemp("staticfiles")
    env = production_env(STATIC_ROOT=str(static_root))
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    return static_root, manifest


def test_init_module_imports_the_hashed_nhsuk_frontend(collected):
    static_root, manifest = collected
    hashed_init = static_root / manifest["carevax/init.js"]
    hashed_frontend = Path(manifest["nhsuk/nhsuk-frontend.min.js"]).name
    assert hashed_frontend != "nhsuk-frontend.min.js"
    source = hashed_init.read_text()
    imports = re.findall(r'from\s*"([^"]+)"', source)
    assert imports == [f"../nhsuk/{hashed_frontend}"]
    assert (hashed_init.parent / imports[0]).resolve().is_file()
    # whitenoise serves the compressed copy to most browsers; it must say the same.
    assert (static_root / (manifest["carevax/init.js"] + ".gz")).is_file()


def test_our_stylesheet_points_at_hashed_icons_that_exist(collected):
    static_root, manifest = collected
    css_path = static_root / manifest["carevax/carevax.css"]
    urls = re.findall(r'url\("([^"]+)"\)', css_path.read_text())
    assert urls
    for url in urls:
        assert re.search(r"\.[0-9a-f]{12}\.svg$", url), url
        assert (css_path.parent / url).resolve().is_file(), url


def test_every_static_file_the_layout_uses_is_collected(collected):
    _static_root, manifest = collected
    referenced = set()
    for template in (BASE_DIR / "templates").rglob("*.html"):
        referenced |= set(re.findall(r"{% static '([^']+)' %}", template.read_text()))
    assert "nhsuk/assets/images/favicon.ico" in referenced
    assert "carevax/print.css" in referenced
    missing = sorted(path for path in referenced if path not in manifest)
    assert not missing
