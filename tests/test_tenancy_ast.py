"""Read the code that serves users (views, API, exports, tasks, selectors, reports and
management commands) and fail where a scoped model is queried other than through
``visible_to(user)`` or ``countable_by(user)``, so a new view cannot skip the tenancy check.

A scoped model is any model whose default queryset has ``visible_to``; they are found through
django.apps, so a new one is covered without editing this file.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("portal", "employers", "workers", "bookings", "demo")
SCANNED_NAMES = ("views", "api", "exports", "tasks", "selectors")
ALLOWED_METHODS = {"visible_to", "countable_by"}
UNSCOPED_MANAGERS = {"_default_manager", "_base_manager"}
SHORTCUTS = {"get_object_or_404", "get_list_or_404"}

# Reviewed exceptions: (file, enclosing function or class) -> why unscoped access is right
# there. Keep this tiny; every entry needs a reason a reviewer agreed to.
ALLOWED = {
    ("demo/management/commands/seed_demo.py", "Command"): (
        "writes the demo world from the command line (DEBUG only): no user is asking, so there "
        "is no one to scope to, and it reads nothing back to anyone"
    ),
    ("employers/management/commands/import_staff.py", "Command"): (
        "an operator imports a staff list for the employer they name on the command line: no "
        "signed-in user is asking, and it prints only what that employer's own file produced"
    ),
    ("employers/management/commands/eligibility_preview.py", "Command"): (
        "an operator previews the rules on a file for the employer they name on the command "
        "line: no signed-in user is asking, and it prints only outcomes for that file's rows"
    ),
}


def allowed(finding: Finding) -> bool:
    return any(
        finding.path == path and (finding.function + ".").startswith(function + ".")
        for path, function in ALLOWED
    )


def scoped_model_names() -> dict[str, str]:
    """Class name -> label of every model whose default queryset has visible_to()."""
    return {
        model.__name__: model._meta.label
        for model in apps.get_models()
        if hasattr(model._default_manager.get_queryset(), "visible_to")
    }


def scanned_files() -> list[Path]:
    files = set()
    for package in PACKAGES:
        base = ROOT / package
        for path in base.rglob("*.py"):
            relative = path.relative_to(base)
            if "migrations" in relative.parts:
                continue
            serves_users = any(name in path.stem for name in SCANNED_NAMES)
            report = relative.parts[0] == "reports"
            command = relative.parts[:2] == ("management", "commands")
            if serves_users or report or (command and path.stem != "__init__"):
                files.add(path)
    return sorted(files)


@dataclass
class Finding:
    path: str
    line: int
    function: str
    code: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function}: {self.code}"


class ScopeChecker(ast.NodeVisitor):
    """Finds ``Model.objects.<not visible_to>``, ``Model._default_manager``, a bare
    ``Model.objects`` handed on, and ``get_object_or_404(Model, ...)``."""

    def __init__(self, path: str, source: str, scoped: dict[str, str]):
        self.path, self.source = path, source
        self.names = dict.fromkeys(scoped)  # local name -> model class name
        for name in scoped:
            self.names[name] = name
        self.stack: list[str] = []
        self.findings: list[Finding] = []
        self.parents: dict[ast.AST, ast.AST] = {}

    def check(self, tree: ast.Module) -> list[Finding]:
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
        self.visit(tree)
        return self.findings

    def report(self, node: ast.AST) -> None:
        function = ".".join(self.stack) or "<module>"
        code = ast.get_source_segment(self.source, node) or ast.dump(node)
        self.findings.append(Finding(self.path, node.lineno, function, code.splitlines()[0]))

    def model_of(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute):  # module.Model
            return self.names.get(node.attr) if node.attr in self.names else None
        return None

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name in self.names and alias.asname:
                self.names[alias.asname] = alias.name
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        # employer_model = apps.get_model("employers", "Employer")
        value = node.value
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr == "get_model"
            and value.args
            and isinstance(value.args[-1], ast.Constant)
        ):
            model_name = str(value.args[-1].value).split(".")[-1]
            if model_name in self.names:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.names[target.id] = model_name
        self.generic_visit(node)

    def _scoped_block(self, node) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped_block

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if self.model_of(node.value):
            if node.attr in UNSCOPED_MANAGERS:
                self.report(node)
            elif node.attr == "objects":
                parent = self.parents.get(node)
                if not (isinstance(parent, ast.Attribute) and parent.attr in ALLOWED_METHODS):
                    self.report(parent if isinstance(parent, ast.Attribute) else node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in SHORTCUTS and node.args and self.model_of(node.args[0]):
            self.report(node)
        self.generic_visit(node)


def findings_in(path: Path, source: str | None = None) -> list[Finding]:
    source = path.read_text() if source is None else source
    relative = str(path.relative_to(ROOT)) if path.is_absolute() else str(path)
    return ScopeChecker(relative, source, scoped_model_names()).check(ast.parse(source))


def test_scoped_models_are_discovered():
    names = scoped_model_names()
    assert {"Employer", "Worker", "Employment", "VaccinationSite", "Session", "Slot"} <= set(names)
    assert "LocalAuthority" not in names


def test_the_scan_reads_the_code_that_serves_users():
    relative = {str(path.relative_to(ROOT)) for path in scanned_files()}
    assert {
        "employers/views.py",
        "workers/views.py",
        "bookings/views.py",
        "employers/api.py",
        "bookings/api.py",
        "portal/reports/overview.py",
        "portal/tasks.py",
    } <= relative
    assert "demo/management/commands/seed_demo.py" in relative


def test_every_scoped_query_starts_from_visible_to():
    findings = [
        finding for path in scanned_files() for finding in findings_in(path) if not allowed(finding)
    ]
    assert not findings, (
        "scoped models queried without visible_to(user)/countable_by(user):\n"
        + "\n".join(map(str, findings))
        + "\nStart from Model.objects.visible_to(user). If unscoped access is truly right, "
        "add (file, function) to ALLOWED in tests/test_tenancy_ast.py with the reason."
    )


def test_allow_list_is_tiny_reasoned_and_not_stale():
    assert len(ALLOWED) <= 3
    for (path, function), reason in ALLOWED.items():
        assert len(reason) > 30, f"{path} {function}: say why"
        hits = [f for f in findings_in(ROOT / path) if allowed(f)]
        assert hits, f"{path} {function} is allowed but no longer needs it: remove the entry"


@pytest.mark.parametrize(
    "snippet",
    [
        "from employers.models import Employer\n"
        "def view(request, pk):\n    return Employer.objects.get(pk=pk)\n",
        "from employers.models import Employer\n"
        "def view(request):\n    return Employer.objects.all()\n",
        "from employers.models import Employer as E\n"
        "def view(request):\n    return E.objects.filter(status='approved')\n",
        "from employers.models import Employer\n"
        "def view(request):\n    return Employer._default_manager.first()\n",
        "from django.shortcuts import get_object_or_404\n"
        "from workers.models import Worker\n"
        "def view(request, pk):\n    return get_object_or_404(Worker, pk=pk)\n",
        "from django.shortcuts import get_object_or_404\n"
        "from workers.models import Worker\n"
        "def view(request, pk):\n    return get_object_or_404(Worker.objects, pk=pk)\n",
        "from rest_framework import viewsets\n"
        "from bookings.models import VaccinationSite\n"
        "class Sites(viewsets.ModelViewSet):\n    queryset = VaccinationSite.objects.all()\n",
        "from django.apps import apps\n"
        "def task(ids):\n    model = apps.get_model('workers', 'Employment')\n"
        "    return model.objects.filter(pk__in=ids).update(status='left')\n",
        "from workers import models\n"
        "def view(request):\n    return models.Worker.objects.count()\n",
    ],
)
def test_the_checker_catches_unscoped_queries(snippet):
    assert findings_in(Path("example_views.py"), snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "from employers.models import Employer\n"
        "def view(request, pk):\n    return Employer.objects.visible_to(request.user).get(pk=pk)\n",
        "from workers.models import Employment\n"
        "def report(user):\n    return Employment.objects.countable_by(user).count()\n",
        "from portal.models import LocalAuthority\n"
        "def view(request):\n    return LocalAuthority.objects.all()\n",
        "from employers.models import Employer\n"
        "def view(request):\n    return Employer.Status.APPROVED\n",
    ],
)
def test_the_checker_accepts_scoped_and_unscoped_model_queries(snippet):
    assert findings_in(Path("example_views.py"), snippet) == []
