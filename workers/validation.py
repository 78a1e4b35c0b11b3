"""The checks docs/data-formats.md puts on a worker's details, as pure functions.

Each takes what a CSV or XLSX cell may hold and returns the value in its stored form, or
raises ValueError with a message saying what is wrong and how to fix it.
"""

import datetime
import functools
import operator
import re
import unicodedata
from decimal import Decimal

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone

NAME_MAX_LENGTH = 100
MIN_AGE = 16
MAX_AGE = 100

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
# Excel counts days from 30 December 1899 (its serial 60 is a 29 February 1900 that never was,
# so serials below 61 are refused rather than shifted).
_EXCEL_EPOCH = datetime.date(1899, 12, 30)
_EXCEL_FIRST_SAFE_SERIAL = 61
_EXCEL_LAST_SERIAL = 2958465  # 31 December 9999
# Characters no one's name holds: markup, formula and command symbols. Letters of any script,
# spaces, hyphens, apostrophes, full stops, commas, brackets and digits are allowed.
_NOT_IN_NAMES = frozenset('<>=@#$%^*_+{}[]|\\~`";:?!/&')
# Zero-width (non-)joiners are part of how some scripts spell names; other invisible format
# characters (zero-width spaces, direction overrides) only hide or disguise what is there.
_JOINERS = frozenset("\u200c\u200d")
# No bare "localhost": a worker's address must be reachable from outside.
_email_validator = EmailValidator(allowlist=[])


def _is_number(raw) -> bool:
    return isinstance(raw, int | float | Decimal) and not isinstance(raw, bool)


def _whole_number_text(raw) -> str | None:
    """The digits of a whole number typed as a number (Excel), else None."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, float | Decimal) and raw == raw and raw == int(raw):
        return str(int(raw))
    return None


def _text(raw) -> str:
    return "" if raw is None else str(raw).strip()


_NHS_WEIGHTS = range(10, 1, -1)
# Spacing people and spreadsheets put inside numbers (including Excel's no-break space).
_NUMBER_SPACING = str.maketrans("", "", " \t\r\n\xa0-")


def _ascii_digits(text: str, length: int) -> bool:
    return len(text) == length and text.isascii() and text.isdigit()


def nhs_number_check_digit(first_nine: str) -> int | None:
    """The modulus 11 check digit of nine digits, or None when no valid number can end them."""
    if len(first_nine) != 9:
        raise ValueError("An NHS number's check digit follows exactly nine digits")
    total = sum(map(operator.mul, map(int, first_nine), _NHS_WEIGHTS))
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def normalise_nhs_number(raw) -> str:
    """Ten digits, check digit verified. Accepts spaces or dashes and Excel numbers."""
    digits = _whole_number_text(raw) if _is_number(raw) else None
    if digits is None:
        digits = _text(raw).translate(_NUMBER_SPACING)
    if not _ascii_digits(digits, 10):
        raise ValueError(
            "Enter the NHS number as 10 digits, like 943 476 5919, or leave it blank "
            "if you do not know it"
        )
    if nhs_number_check_digit(digits[:9]) != ord(digits[9]) - 48:
        raise ValueError(
            "This is not a valid NHS number. Check it for typing mistakes, or leave it blank "
            "if you do not know it"
        )
    return digits


def _date(year: int, month: int, day: int, shown: str) -> datetime.date:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise ValueError(f"{shown} is not a real date. Check the day and the month") from None


def parse_date(raw) -> datetime.date:
    """A date from an upload: ISO ``YYYY-MM-DD``, UK ``DD/MM/YYYY`` or an Excel date cell.

    Nothing else is guessed: ``03/04/1980`` is 3 April, and a number is read as an Excel
    date serial only when the cell itself holds a number.
    """
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    if _is_number(raw):
        if not _EXCEL_FIRST_SAFE_SERIAL <= raw <= _EXCEL_LAST_SERIAL:
            raise ValueError("Enter the date as DD/MM/YYYY, like 03/04/1980")
        return _EXCEL_EPOCH + datetime.timedelta(days=int(raw))
    text = _text(raw)
    if not text:
        raise ValueError("Enter the date as DD/MM/YYYY, like 03/04/1980")
    if match := _ISO_DATE.match(text):
        year, month, day = (int(part) for part in match.groups())
        return _date(year, month, day, text)
    if match := _UK_DATE.match(text):
        day, month, year = (int(part) for part in match.groups())
        return _date(year, month, day, text)
    raise ValueError(f"{text} is not a date we can read. Enter it as DD/MM/YYYY, like 03/04/1980")


def age_on(date_of_birth: datetime.date, day: datetime.date) -> int:
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


def check_date_of_birth(dob: datetime.date, today: datetime.date | None = None) -> datetime.date:
    """A plausible worker's date of birth: not in the future, aged 16 to 100."""
    today = today or timezone.localdate()
    if dob > today:
        raise ValueError("Date of birth is in the future. Check the year")
    age = age_on(dob, today)
    if age < MIN_AGE:
        raise ValueError(f"Date of birth makes this person under {MIN_AGE}. Check the year")
    if age > MAX_AGE:
        raise ValueError(f"Date of birth makes this person over {MAX_AGE}. Check the year")
    return dob


@functools.cache
def _uk_mobile_pattern() -> re.Pattern:
    """phonenumbers' own mobile ranges for +44 (Great Britain and the Crown Dependencies).

    Matching them directly gives the library's answer about 100 times faster than parsing
    each number, which matters at 100,000 rows an upload.
    """
    patterns = [
        phonenumbers.PhoneMetadata.metadata_for_region(region).mobile.national_number_pattern
        for region in ("GB", "GG", "JE", "IM")
    ]
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


# Ofcom keeps 07700 900000 to 900999 for fiction and examples; the library calls them
# unallocated, but they are well-formed UK mobiles, and our examples and tests use them.
_DRAMA_PREFIX = "7700900"
_PHONE_FORMATTING = str.maketrans("", "", " \t\xa0().-/")


def _uk_national_number(compact: str) -> str | None:
    """The 10-digit national number of a +44 number however it was written, else None."""
    if compact.startswith("+44"):
        rest = compact[3:]
    elif compact.startswith("0044"):
        rest = compact[4:]
    elif compact.startswith("44") and len(compact) == 12:
        rest = compact[2:]
    elif compact.startswith("0"):
        rest = compact[1:]
    else:
        rest = compact  # Excel dropped the leading 0
    if len(rest) == 11 and rest.startswith("0"):
        rest = rest[1:]  # written as +44 (0)7700 900123
    return rest if _ascii_digits(rest, 10) else None


def normalise_mobile(raw) -> str:
    """A UK mobile number in E.164 (``+447700900123``).

    Accepts 07…, +447…, 00447… and 447…, with any spacing, and a number whose leading 0 Excel
    dropped (``7700900123``).
    """
    text = _whole_number_text(raw) if _is_number(raw) else None
    if text is None:
        text = _text(raw)
    national = _uk_national_number(text.translate(_PHONE_FORMATTING))
    if national is None or not (
        _uk_mobile_pattern().fullmatch(national) or national.startswith(_DRAMA_PREFIX)
    ):
        raise ValueError("Enter a UK mobile number, like 07700 900123")
    return f"+44{national}"


# Addresses of the everyday shape, all of which Django's EmailValidator accepts too, are
# checked by this one expression; anything else goes to the validator itself.
_EVERYDAY_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def normalise_email(raw) -> str:
    """The address with its domain in lower case; the part before @ is kept as given."""
    text = _text(raw)
    message = "Enter an email address in the correct format, like name@example.com"
    if not text or len(text) > 254:
        raise ValueError(message)
    if not _EVERYDAY_EMAIL.fullmatch(text):
        try:
            _email_validator(text)
        except ValidationError:
            raise ValueError(message) from None
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalise_name(raw, *, field: str = "name") -> str:
    """Trimmed, inner spacing collapsed; refuses blanks, numbers and over-long names."""
    # Splitting on whitespace and joining with one space trims and collapses in one go.
    name = " ".join(str(raw).split()) if raw is not None else ""
    if not name:
        raise ValueError(f"Enter the {field}")
    if not name.isalpha() and not any(char.isalpha() for char in name):
        raise ValueError(
            f"The {field} has no letters in it. Check the columns are in the right order"
        )
    if len(name) > NAME_MAX_LENGTH:
        raise ValueError(f"The {field} must be {NAME_MAX_LENGTH} characters or fewer")
    if not name.isascii() or not name.replace(" ", "").isalpha():
        _check_name_characters(name, field)
    return name


def _check_name_characters(name: str, field: str) -> None:
    hidden = [
        char
        for char in name
        if unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs") and char not in _JOINERS
    ]
    if hidden:
        raise ValueError(
            f"The {field} has a hidden or control character in it (U+{ord(hidden[0]):04X}). "
            "Type the name again without copying and pasting it"
        )
    symbols = sorted({char for char in name if char in _NOT_IN_NAMES})
    if symbols:
        raise ValueError(
            f"The {field} has {' '.join(symbols)} in it. A name can have letters, spaces, "
            "hyphens, apostrophes and full stops. Check the name and the columns"
        )


_NOT_ASCII_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(text) -> str:
    """Lower case, accents folded, everything but letters and digits dropped."""
    text = _text(text)
    if text.isascii():
        text = text.lower()
        # Most names and codes are letters and digits alone: nothing to drop.
        return text if text.isalnum() else _NOT_ASCII_ALNUM.sub("", text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(
        char for char in decomposed.casefold() if char.isalnum() and not unicodedata.combining(char)
    )


def match_key(first_name, last_name, date_of_birth, postcode) -> str:
    """Who a person is when no NHS number says so: ``"zoe|obrien|19800403|sw1a2aa"``.

    ``Zoë O'Brien`` and ``ZOE OBRIEN`` give the same key; the date may be a date or ISO text.
    """
    if isinstance(date_of_birth, datetime.date):
        date_part = date_of_birth.isoformat().replace("-", "")
    else:
        date_part = fold(date_of_birth)
    return f"{fold(first_name)}|{fold(last_name)}|{date_part}|{fold(postcode)}"
