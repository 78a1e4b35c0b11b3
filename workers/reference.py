"""The canonical values of docs/data-formats.md (job roles, work settings, employment types,
ethnic categories): matching what people type to a stable code, and a code back to its label.

Values live in ``ReferenceValue`` rows (shipped from ``workers/data/*.csv``). Each process
keeps them in memory, one query per kind; saving or deleting a value clears that memory here
at once and, through a generation number in the shared cache, in every other process.
"""

import csv
import logging
import time
import uuid
from pathlib import Path
from typing import NamedTuple

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from workers.models import ReferenceValue
from workers.validation import fold

logger = logging.getLogger(__name__)

Kind = ReferenceValue.Kind
DATA_DIR = Path(__file__).resolve().parent / "data"
DATA_FILES = {
    Kind.JOB_ROLE: "job_roles.csv",
    Kind.WORK_SETTING: "work_settings.csv",
    Kind.EMPLOYMENT_TYPE: "employment_types.csv",
    Kind.ETHNICITY: "ethnicities.csv",
}
# What an empty cell means, where the design gives it a meaning.
BLANK_MEANS = {Kind.EMPLOYMENT_TYPE: "employed", Kind.ETHNICITY: "Z"}

_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}

# Other processes notice a change within this many seconds (this process: at once).
RECHECK_SECONDS = 5.0
_GENERATION_KEY = "workers.reference.generation"


class Entry(NamedTuple):
    code: str
    label: str
    aliases: tuple[str, ...]
    is_active: bool


class _Memory:
    """Per-process copy of the values, per kind, and the generation it was read at."""

    def __init__(self) -> None:
        self.entries: dict[str, list[Entry]] = {}
        self.lookups: dict[str, dict[str, str]] = {}
        self.generation: str | None = None
        self.checked_at = float("-inf")


_memory = _Memory()


def normalise_label(raw) -> str:
    """Lower case, accents folded, punctuation and spacing dropped.

    ``"Senior Care-Worker"``, ``"senior care worker"`` and ``"seniorcareworker"`` are equal.
    """
    return fold(raw)


def _check_kind(kind: str) -> str:
    if kind not in Kind.values:
        raise ValueError(f"Unknown kind of reference value: {kind!r}")
    return kind


def _is_blank(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def clear_local_cache() -> None:
    """Forget this process's copy; the next lookup reads the database again."""
    global _memory
    _memory = _Memory()


def _shared_generation() -> str | None:
    try:
        return cache.get(_GENERATION_KEY)
    except Exception:
        # A cache outage must not stop uploads: keep using what this process holds.
        logger.warning("Could not read the reference data generation", exc_info=True)
        return _memory.generation


def _fresh_memory() -> _Memory:
    now = time.monotonic()
    if now - _memory.checked_at >= RECHECK_SECONDS:
        generation = _shared_generation()
        if generation != _memory.generation:
            clear_local_cache()
            _memory.generation = generation
        _memory.checked_at = now
    return _memory


def entries(kind: str) -> list[Entry]:
    """Every value of ``kind``, active or not, in display order (one query, then memory)."""
    memory = _fresh_memory()
    found = memory.entries.get(_check_kind(kind))
    if found is None:
        rows = ReferenceValue.objects.filter(kind=kind).order_by("sort_order", "label", "code")
        found = [
            Entry(code, label, tuple(aliases or ()), is_active)
            for code, label, aliases, is_active in rows.values_list(
                "code", "label", "aliases", "is_active"
            )
        ]
        memory.entries[kind] = found
    return found


def _keys(entry: Entry) -> list[str]:
    return [normalise_label(text) for text in (entry.code, entry.label, *entry.aliases)]


def codes_by_wording(values: list[Entry]) -> dict[str, str]:
    """Normalised code, label and alias → code, for the active ``values`` (first one wins)."""
    found: dict[str, str] = {}
    for entry in values:
        if entry.is_active:
            for key in _keys(entry):
                if key:
                    found.setdefault(key, entry.code)
    return found


def _lookup(kind: str) -> dict[str, str]:
    memory = _fresh_memory()
    found = memory.lookups.get(_check_kind(kind))
    if found is None:
        found = codes_by_wording(entries(kind))
        memory.lookups[kind] = found
    return found


def lookup(kind: str) -> dict[str, str]:
    """Normalised code, label and alias → code, for the active values of ``kind``."""
    return dict(_lookup(kind))


def match(kind: str, raw) -> str | None:
    """The code ``raw`` names (by code, label or alias), or None if it names nothing known.

    A blank employment type means employed and a blank ethnicity means not stated (Z).
    """
    if _is_blank(raw):
        return BLANK_MEANS.get(_check_kind(kind))
    return _lookup(kind).get(normalise_label(raw))


def choices(kind: str) -> list[tuple[str, str]]:
    """(code, label) of the active values, in display order."""
    return [(entry.code, entry.label) for entry in entries(kind) if entry.is_active]


def label(kind: str, code: str) -> str:
    """The label of ``code``, inactive values included; an unknown code is shown as it is."""
    for entry in entries(kind):
        if entry.code == code:
            return entry.label
    return code or ""


def parse_yes_no(raw) -> bool:
    """Yes/No, Y/N, True/False or 1/0 in any case (and Excel's TRUE/FALSE cells)."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    text = "" if raw is None else str(raw).strip().casefold()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError("Enter Yes or No")


def check_reference_value(value: ReferenceValue) -> None:
    """Model validation: codes fit where they are stored, wordings never mean two values."""
    errors: dict[str, list[str]] = {}
    if value.kind == Kind.ETHNICITY and (
        len(value.code or "") != 1 or not value.code.isalpha() or not value.code.isupper()
    ):
        errors["code"] = ["Ethnic category codes are one capital letter, like A or Z."]
    aliases = value.aliases if isinstance(value.aliases, list) else None
    if aliases is None or not all(isinstance(alias, str) for alias in aliases):
        errors["aliases"] = ["Aliases must be a list of words or phrases."]
    elif value.kind in Kind.values:
        others = ReferenceValue.objects.filter(kind=value.kind).exclude(pk=value.pk)
        taken = {}
        for other in others.only("code", "label", "aliases"):
            for key in _keys(Entry(other.code, other.label, tuple(other.aliases or ()), True)):
                if key:
                    taken[key] = other.label
        clashes = sorted(
            {
                f"“{text}” already means “{taken[normalise_label(text)]}”"
                for text in (value.code, value.label, *aliases)
                if normalise_label(text) in taken
            }
        )
        if clashes:
            errors["aliases"] = [f"Use a different wording: {'; '.join(clashes)}."]
    if errors:
        raise ValidationError(errors)


def data_file_entries(kind: str) -> list[Entry]:
    return [
        Entry(row["code"], row["label"], tuple(row["aliases"]), True)
        for row in read_data_file(kind)
    ]


def read_data_file(kind: str) -> list[dict]:
    """The shipped values of ``kind`` from its CSV (aliases separated by ``|``)."""
    path = DATA_DIR / DATA_FILES[_check_kind(kind)]
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            {
                "code": row["code"].strip(),
                "label": row["label"].strip(),
                "aliases": [alias.strip() for alias in row["aliases"].split("|") if alias.strip()],
                "sort_order": position * 10,
            }
            for position, row in enumerate(csv.DictReader(handle), start=1)
        ]


def load_data_files(model=ReferenceValue) -> int:
    """Add the shipped values that are missing; keep administrators' edits. Returns how many.

    ``model`` is the historical model when a data migration calls this.
    """
    existing = {(kind, code) for kind, code in model.objects.values_list("kind", "code")}
    missing = [
        model(kind=kind, **row)
        for kind in DATA_FILES
        for row in read_data_file(kind)
        if (kind, row["code"]) not in existing
    ]
    model.objects.bulk_create(missing)
    invalidate()
    return len(missing)


def _bump_generation() -> None:
    try:
        cache.set(_GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning("Could not tell other processes that reference data changed", exc_info=True)


def invalidate() -> None:
    """Reference values changed: forget them here now, everywhere once the change commits."""
    clear_local_cache()
    transaction.on_commit(_bump_generation)
    transaction.on_commit(clear_local_cache)


@receiver(post_save, sender=ReferenceValue, dispatch_uid="workers.reference.saved")
@receiver(post_delete, sender=ReferenceValue, dispatch_uid="workers.reference.deleted")
def _reference_value_changed(sender, **kwargs) -> None:
    invalidate()
