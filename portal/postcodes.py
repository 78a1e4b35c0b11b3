"""UK postcodes: the one normaliser and format check used by every form, upload and report
(DESIGN.md section 6: upper case, one space before the three-character inward code)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# The format published in the UK government's data standards (BS 7666), plus GIR 0AA.
_POSTCODE = re.compile(
    r"^(?:GIR 0AA|"
    r"(?:[A-PR-UWYZ](?:[0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKPSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY])"
    r" [0-9][ABD-HJLNP-UW-Z]{2}))$"
)

INVALID_MESSAGE = "Enter a real UK postcode, like SW1A 1AA."


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
    """The postcode in its one stored form, or ValidationError with a plain-English message."""
    postcode = tidy_postcode(value)
    if not _POSTCODE.match(postcode):
        raise ValidationError(INVALID_MESSAGE, code="invalid_postcode")
    return postcode


def outward_code(postcode: str) -> str:
    """The district part (``SW1A`` of ``SW1A 1AA``) of a normalised postcode."""
    return tidy_postcode(postcode).split(" ")[0]
