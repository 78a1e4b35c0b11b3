"""UK postcodes: the one normaliser and format check used by every form, upload and report
(docs/data-formats.md: upper case, one space before the three-character inward code), and
where a postcode district lies, from ``portal/data/outcodes.csv`` read once per process."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import NamedTuple

from django.core.exceptions import ValidationError

DATA = Path(__file__).resolve().parent / "data" / "outcodes.csv"

# The format published in the UK government's data standards (BS 7666), plus GIR 0AA and the
# NHS's ZZ99 pseudo-postcodes (used for "no fixed abode"), which are well formed but belong
# to no district, so they are refused as unknown districts rather than as typing mistakes.
_OUTWARD = (
    r"(?:[A-PR-UWYZ](?:[0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKPSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY])"
    r"|ZZ[0-9]{1,2})"
)
_INWARD = r"[0-9][ABD-HJLNP-UW-Z]{2}"
_POSTCODE = re.compile(rf"^(?:GIR 0AA|{_OUTWARD} {_INWARD})$")
_OUTWARD_ONLY = re.compile(rf"^{_OUTWARD}$")

INVALID_MESSAGE = "Enter a real UK postcode in full, like SW1A 2AA"


class InvalidPostcode(ValidationError, ValueError):
    """A postcode that is not in the UK format.

    Both a ValidationError (forms show it on the field) and a ValueError (uploads and services
    report it as a row error), so every caller can catch the kind it already handles.
    """

    def __init__(self, *args) -> None:
        # Arguments are ignored so the error survives pickling (Celery results, for one).
        super().__init__(INVALID_MESSAGE, code="invalid_postcode")

    def __str__(self) -> str:
        return INVALID_MESSAGE


class District(NamedTuple):
    latitude: float
    longitude: float
    country: str


_districts: dict[str, District] | None = None


def tidy_postcode(value: str) -> str:
    """Upper case with inner spaces removed and one space before the last three characters.

    Says nothing about validity; use ``normalise_postcode`` to check the result too.
    """
    compact = re.sub(r"\s+", "", str(value or "")).upper()
    if len(compact) < 5:
        return compact
    return f"{compact[:-3]} {compact[-3:]}"


def is_valid_postcode(value: str) -> bool:
    return bool(_POSTCODE.match(tidy_postcode(value)))


def normalise_postcode(value: str) -> str:
    """The postcode in its one stored form; ``InvalidPostcode`` with a plain-English message."""
    postcode = tidy_postcode(value)
    if not _POSTCODE.match(postcode):
        raise InvalidPostcode()
    return postcode


def outward_code(postcode: str) -> str:
    """The district part (``SW1A`` of ``SW1A 1AA``) of a postcode, without checking it."""
    return tidy_postcode(postcode).split(" ")[0]


def outcode(postcode: str) -> str:
    """The district part of a postcode, checked: ``InvalidPostcode`` if it is malformed."""
    return normalise_postcode(postcode).split(" ")[0]


def _district_code(postcode: str) -> str:
    """The district of a full postcode, or of an outward code given on its own (``"SE1"``)."""
    compact = re.sub(r"\s+", "", str(postcode or "")).upper()
    if _OUTWARD_ONLY.match(compact):
        return compact
    return outcode(compact)


def districts() -> dict[str, District]:
    """Every known district, read from the CSV the first time it is needed."""
    global _districts
    if _districts is None:
        loaded = {}
        with DATA.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                loaded[row["outcode"].strip().upper()] = District(
                    float(row["latitude"]), float(row["longitude"]), row["country"].strip()
                )
        # Assigned once, complete, so another thread never sees a half-read table.
        _districts = loaded
    return _districts


def locate(postcode: str) -> tuple[float, float] | None:
    """(latitude, longitude) of the postcode district's centroid; None if it is unknown.

    Takes a full postcode or an outward code alone; ``InvalidPostcode`` if it is neither.
    """
    district = districts().get(_district_code(postcode))
    if district is None:
        return None
    return (district.latitude, district.longitude)


def is_known_district(postcode: str, *, normalised: bool = False) -> bool:
    """Whether the postcode's district is known; ``normalised`` says the postcode is already
    in its stored form (from ``normalise_postcode``), so its district is the part before the
    space."""
    if normalised:
        return postcode.partition(" ")[0] in districts()
    return _district_code(postcode) in districts()


def country(postcode: str) -> str | None:
    """The country of the postcode's district (England, Wales, Scotland, …); None if unknown."""
    district = districts().get(_district_code(postcode))
    return district.country if district else None
