"""The design lives in docs/ (docs/README.md): code, tests and decision records cite its pages,
never a document outside the repository or an issue number, and every page they cite exists."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ["README.md", "roles.md", "domain.md", "flow.md", "eligibility.md", "data-formats.md"]
# Not the project's files: installed packages, npm packages, local data.
SKIPPED_DIRS = {".git", ".venv", "node_modules", "var", "staticfiles", "__pycache__"}

# Spelled in pieces so that this file does not match itself.
OUTSIDE_DOCUMENT = re.compile(r"\b" + "DES" + "IGN" + r"(?:\.md)?\b")
ISSUE_NUMBER = re.compile(r"\bissues?\s*(?:#\s*)?\d+", re.IGNORECASE)
DOCS_PAGE = re.compile(r"\bdocs/[\w./-]+\.md\b")
# A decision record named by its number alone, as in "docs/decisions/0011".
DECISION_NUMBER = re.compile(r"\bdocs/decisions/(\d{4})\b(?!-)")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        # No git (a container built from the source tree): every file outside SKIPPED_DIRS.
        paths = [
            path
            for path in ROOT.rglob("*")
            if path.is_file() and not SKIPPED_DIRS & set(path.relative_to(ROOT).parts)
        ]
    return [path for path in paths if path.is_file()]


def _texts() -> dict[str, str]:
    texts = {}
    for path in _tracked_files():
        content = path.read_bytes()
        if b"\0" in content:
            continue  # binary
        texts[path.relative_to(ROOT).as_posix()] = content.decode("utf-8", errors="replace")
    return texts


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return _texts()


def _hits(texts: dict[str, str], pattern: re.Pattern) -> list[str]:
    return [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)}"
        for name, text in sorted(texts.items())
        for match in pattern.finditer(text)
    ]


def test_the_design_pages_exist():
    missing = [page for page in PAGES if not (DOCS / page).is_file()]
    assert not missing, f"docs/ lacks {missing}"


def test_nothing_cites_the_design_outside_the_repository(texts):
    hits = _hits(texts, OUTSIDE_DOCUMENT)
    assert not hits, "Cite the page of docs/ that holds the requirement instead:\n" + "\n".join(
        hits
    )


def test_nothing_cites_an_issue_number(texts):
    hits = _hits(texts, ISSUE_NUMBER)
    assert not hits, (
        "Say what the rule is and cite the page of docs/ or the decision record that holds "
        "it instead:\n" + "\n".join(hits)
    )


def test_every_cited_docs_page_exists(texts):
    cited = {
        (name, match.group(0)) for name, text in texts.items() for match in DOCS_PAGE.finditer(text)
    }
    assert cited, "expected code to cite docs/ pages"
    missing = sorted(f"{name}: {page}" for name, page in cited if not (ROOT / page).is_file())
    assert not missing, "These docs/ pages do not exist:\n" + "\n".join(missing)


def test_every_decision_cited_by_number_exists(texts):
    numbers = {path.name[:4] for path in (DOCS / "decisions").glob("[0-9][0-9][0-9][0-9]-*.md")}
    missing = sorted(
        f"{name}: {match.group(0)}"
        for name, text in texts.items()
        for match in DECISION_NUMBER.finditer(text)
        if match.group(1) not in numbers
    )
    assert not missing, "No decision record has these numbers:\n" + "\n".join(missing)


def test_links_between_docs_pages_resolve(texts):
    broken = []
    for name, text in sorted(texts.items()):
        if not (name.startswith("docs/") and name.endswith(".md")):
            continue
        for match in MARKDOWN_LINK.finditer(text):
            target = match.group(1).split("#", 1)[0]
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # an anchor on the same page, or a web address
            if not ((ROOT / name).parent / target).exists():
                broken.append(f"{name}: {match.group(1)}")
    assert not broken, "These links lead nowhere:\n" + "\n".join(broken)
