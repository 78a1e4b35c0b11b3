"""Read the apps' code and fail where Celery runs the wrong way: a view enqueuing a task, a task
not named ``*_task`` or named like a service, a module importing a tasks module (or a tasks
module importing a service) at the top, or a service enqueuing outside ``on_commit``.
The one direction is: a view calls a service; the service imports its tasks module inside the
function and enqueues with ``transaction.on_commit``; the task imports the service in its body.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("portal", "employers", "workers", "bookings")
VIEW_NAMES = ("views", "api")
ENQUEUE = {"delay", "apply_async", "send_task"}

# Reviewed exceptions: (file, function) -> why it may enqueue outside an on_commit argument.
ALLOWED_ENQUEUE = {
    ("bookings/outbox.py", "enqueue"): (
        "puts chunks on each channel's queue through one producer; it is only ever called "
        "from transaction.on_commit (queue_messages, the sweep) or from a task"
    ),
    ("portal/celery.py", "_forward_renamed_task"): (
        "runs in the worker for a message it has already rejected: there is no transaction"
    ),
}


def app_files() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def is_tasks_module(path: Path) -> bool:
    return path.stem == "tasks"


def is_view_module(path: Path) -> bool:
    return path.stem in VIEW_NAMES or "views" in path.parent.parts


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def is_shared_task(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    return name in {"shared_task", "task"}


def registered_name(decorator: ast.expr) -> str | None:
    if isinstance(decorator, ast.Call):
        for keyword in decorator.keywords:
            if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                return keyword.value.value
    return None


def tasks_in(path: Path) -> list[tuple[str, str | None]]:
    """(function name, registered name) of every task defined in ``path``."""
    found = []
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if is_shared_task(decorator):
                    found.append((node.name, registered_name(decorator)))
    return found


def enqueue_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ENQUEUE
    ]


def project_module(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def top_level_imports(tree: ast.Module) -> list[str]:
    """Every project module imported at module level, with ``from a import b`` read as
    ``a.b`` so ``from bookings import invitations`` counts as importing that module."""
    names = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in names if project_module(name)]


def test_the_scan_reads_every_tasks_module_and_view():
    files = {relative(path) for path in app_files()}
    assert {
        "employers/tasks.py",
        "workers/tasks.py",
        "bookings/tasks.py",
        "portal/tasks.py",
        "portal/celery.py",
        "bookings/views.py",
        "employers/views.py",
        "bookings/api.py",
    } <= files
    tasks = [task for path in app_files() if is_tasks_module(path) for task in tasks_in(path)]
    assert len(tasks) >= 13


def test_views_never_enqueue_tasks():
    findings = [
        f"{relative(path)}:{call.lineno} calls .{call.func.attr}()"
        for path in app_files()
        if is_view_module(path)
        for call in enqueue_calls(parse(path))
    ]
    assert not findings, (
        "views enqueue tasks themselves:\n"
        + "\n".join(findings)
        + "\nMove the enqueue into a service the view calls (transaction.on_commit)."
    )


def test_every_task_is_named_task_and_registered_under_its_own_path():
    findings = []
    for path in app_files():
        module = relative(path)[: -len(".py")].replace("/", ".")
        for function, name in tasks_in(path):
            if not function.endswith("_task"):
                findings.append(f"{relative(path)}: {function} does not end in _task")
            if name is not None and name != f"{module}.{function}":
                findings.append(f"{relative(path)}: {function} is registered as {name!r}")
    assert not findings, "\n".join(findings)


def test_no_task_repeats_the_name_of_a_function_in_its_app():
    findings = []
    for package in PACKAGES:
        files = [path for path in app_files() if relative(path).startswith(f"{package}/")]
        public = {
            node.name: relative(path)
            for path in files
            if not is_tasks_module(path)
            for node in parse(path).body
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
        }
        for path in filter(is_tasks_module, files):
            for function, _name in tasks_in(path):
                if function in public:
                    findings.append(f"{relative(path)}: {function} is also in {public[function]}")
    assert not findings, "\n".join(findings)


def test_tasks_modules_and_their_callers_import_each_other_only_at_call_time():
    findings = [
        f"{relative(path)} imports {name} at module level"
        for path in app_files()
        for name in top_level_imports(parse(path))
        if "tasks" in name.split(".") or (is_tasks_module(path) and "models" not in name.split("."))
    ]
    assert not findings, (
        "\n".join(findings) + "\nImport inside the function: a service imports its tasks module "
        "where it enqueues, a task imports its service in its body."
    )


def test_services_enqueue_only_after_commit():
    findings = []
    for path in app_files():
        if is_tasks_module(path) or is_view_module(path):
            continue
        tree = parse(path)
        after_commit = {
            id(call)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "on_commit"
            for argument in node.args
            for call in enqueue_calls(argument)
        }
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            if (relative(path), function.name) in ALLOWED_ENQUEUE:
                continue
            for call in enqueue_calls(function):
                if id(call) not in after_commit:
                    findings.append(f"{relative(path)}:{call.lineno} in {function.name}")
    assert not findings, (
        "tasks enqueued before the transaction commits:\n"
        + "\n".join(sorted(set(findings)))
        + "\nWrap it: transaction.on_commit(lambda: some_task.delay(...))."
    )
