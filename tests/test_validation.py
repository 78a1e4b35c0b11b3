"""The checks on a worker's details (docs/data-formats.md) in workers/validation.py."""

import datetime
import random
import re
import string
import unicodedata
from decimal import Decimal

import phonenumbers
import pytest
from django.core.validators import EmailValidator

from workers import validation
from workers.validation import (
    check_date_of_birth,
    match_key,
    normalise_email,
    normalise_mobile,
    normalise_name,
    normalise_nhs_number,
    parse_date,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9434765919", "9434765919"),
        ("943 476 5919", "9434765919"),
        ("943-476-5919", "9434765919"),
        (" 943 476 5919 ", "9434765919"),
        (9434765919, "9434765919"),
        (9434765919.0, "9434765919"),  # an Excel number cell
        (Decimal("9434765919"), "9434765919"),
        ("8288360750", "8288360750"),  # 11 - (sum mod 11) is 11, so the check digit is 0
    ],
)
def test_valid_nhs_numbers(raw, expected):
    assert normalise_nhs_number(raw) == expected


def test_check_digit_rules():
    assert validation.nhs_number_check_digit("943476591") == 9
    assert validation.nhs_number_check_digit("828836075") == 0
    assert validation.nhs_number_check_digit("848475135") is None


@pytest.mark.parametrize("last_digit", "0123456789")
def test_nhs_number_whose_check_digit_would_be_10_is_always_invalid(last_digit):
    with pytest.raises(ValueError, match="not a valid NHS number"):
        normalise_nhs_number(f"848475135{last_digit}")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("9434765918", "not a valid NHS number"),  # wrong check digit
        ("943476591", "10 digits"),
        ("94347659190", "10 digits"),
        ("943476591X", "10 digits"),
        ("", "10 digits"),
        (None, "10 digits"),
        (9434765919.5, "10 digits"),
        (9.43477e09, "not a valid NHS number"),  # precision lost to scientific notation
    ],
)
def test_invalid_nhs_numbers(raw, message):
    with pytest.raises(ValueError, match=message):
        normalise_nhs_number(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1980-04-03", datetime.date(1980, 4, 3)),
        ("03/04/1980", datetime.date(1980, 4, 3)),  # 3 April, never 4 March
        ("3/4/1980", datetime.date(1980, 4, 3)),
        (" 29/02/2000 ", datetime.date(2000, 2, 29)),
        (datetime.date(1980, 4, 3), datetime.date(1980, 4, 3)),
        (datetime.datetime(1980, 4, 3, 0, 0), datetime.date(1980, 4, 3)),  # Excel date cell
        (29314, datetime.date(1980, 4, 3)),  # Excel serial in a number cell
        (29314.0, datetime.date(1980, 4, 3)),
        (29314.75, datetime.date(1980, 4, 3)),  # a time of day is dropped
    ],
)
def test_dates_we_read(raw, expected):
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("31/02/1980", "31/02/1980 is not a real date"),
        ("29/02/2001", "29/02/2001 is not a real date"),
        ("1980-13-01", "not a real date"),
        ("29314", "not a date we can read"),  # digits in a text cell are not guessed
        ("03/04/80", "not a date we can read"),
        ("3 April 1980", "not a date we can read"),
        ("1980/04/03", "not a date we can read"),
        ("04-03-1980", "not a date we can read"),
        ("", "DD/MM/YYYY"),
        (None, "DD/MM/YYYY"),
        (12, "DD/MM/YYYY"),
        (float("nan"), "DD/MM/YYYY"),
    ],
)
def test_dates_we_refuse(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_date(raw)


TODAY = datetime.date(2021, 1, 20)


@pytest.mark.parametrize(
    "dob",
    [
        datetime.date(2005, 1, 20),  # 16 today
        datetime.date(1920, 1, 21),  # 100 until tomorrow
        datetime.date(1980, 4, 3),
    ],
)
def test_plausible_dates_of_birth(dob):
    assert check_date_of_birth(dob, today=TODAY) == dob


@pytest.mark.parametrize(
    ("dob", "message"),
    [
        (datetime.date(2021, 1, 21), "in the future"),
        (datetime.date(2005, 1, 21), "under 16"),
        (datetime.date(1920, 1, 20), "over 100"),
        (datetime.date(1900, 1, 1), "over 100"),
    ],
)
def test_implausible_dates_of_birth(dob, message):
    with pytest.raises(ValueError, match=message):
        check_date_of_birth(dob, today=TODAY)


def test_date_of_birth_defaults_to_today():
    with pytest.raises(ValueError, match="in the future"):
        check_date_of_birth(datetime.date.today() + datetime.timedelta(days=2))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("07700 900123", "+447700900123"),
        ("07700900123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
        ("447700900123", "+447700900123"),
        ("(07700) 900-123", "+447700900123"),
        ("7700900123", "+447700900123"),  # Excel dropped the leading 0
        (7700900123, "+447700900123"),
        (7700900123.0, "+447700900123"),
        ("07911 123456", "+447911123456"),
        ("0044 7911 123456", "+447911123456"),
    ],
)
def test_uk_mobiles(raw, expected):
    assert normalise_mobile(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "020 7946 0000",  # London landline
        "0800 123 4567",
        "+33 6 12 34 56 78",  # French mobile
        "07700 90012",
        "077009001234",
        "mobile",
        "",
        None,
    ],
)
def test_not_uk_mobiles(raw):
    with pytest.raises(ValueError, match="Enter a UK mobile number, like 07700 900123"):
        normalise_mobile(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("amara@example.com", "amara@example.com"),
        (" Amara.Okafor@Example.COM ", "Amara.Okafor@example.com"),
    ],
)
def test_emails(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", None, "amara", "amara@", "@example.com", "amara@example", "a b@example.com"]
)
def test_bad_emails(raw):
    with pytest.raises(ValueError, match="like name@example.com"):
        normalise_email(raw)


def test_names_are_trimmed_and_spacing_collapsed():
    assert normalise_name("  Mary   Anne\t") == "Mary Anne"
    assert normalise_name("O'Brien-Smith") == "O'Brien-Smith"
    assert normalise_name("Zoë Ní Bhraonáin") == "Zoë Ní Bhraonáin"
    assert normalise_name("Mary-Kate (Polly) O’Neill Jr.") == "Mary-Kate (Polly) O’Neill Jr."
    assert normalise_name("محمد") == "محمد"
    assert normalise_name("मेघ\u200dना") == "मेघ\u200dना"  # a joiner some scripts spell with


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter the first name"),
        ("   ", "Enter the first name"),
        (None, "Enter the first name"),
        ("12345", "no letters"),
        (12345, "no letters"),
        ("x" * 101, "100 characters or fewer"),
        ('=HYPERLINK("http://x","y")', 'has " / : = in it'),
        ("<script>alert(1)</script>", "has / < > in it"),
        ("Robert'); DROP TABLE workers;--", "has ; in it"),
        ("José\u200b", "hidden or control character in it (U+200B)"),
        ("\u202eevil", "hidden or control character in it (U+202E)"),
        ("Ann\x07e", "hidden or control character in it (U+0007)"),
    ],
)
def test_bad_names(raw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        normalise_name(raw, field="first name")


def test_name_of_exactly_100_characters_is_accepted():
    assert normalise_name("x" * 100) == "x" * 100


def test_match_key_ignores_case_accents_punctuation_and_spacing():
    key = match_key("Zoë", "O'Brien", datetime.date(1980, 4, 3), "SW1A 2AA")
    assert key == "zoe|obrien|19800403|sw1a2aa"
    assert match_key(" ZOE ", "o brien", "1980-04-03", "sw1a2aa") == key
    assert match_key("Zoe", "O-Brien", datetime.date(1980, 4, 3), "SW1A  2AA") == key


def test_match_key_tells_different_people_apart():
    key = match_key("Zoe", "Brien", datetime.date(1980, 4, 3), "SW1A 2AA")
    assert match_key("Zoe", "Brien", datetime.date(1980, 3, 4), "SW1A 2AA") != key
    assert match_key("Zoe", "Brian", datetime.date(1980, 4, 3), "SW1A 2AA") != key
    assert match_key("Zoe", "Brien", datetime.date(1980, 4, 3), "SW1A 2AB") != key
    # The separator keeps "Ann Marie" + "Smith" apart from "Ann" + "Marie Smith".
    assert match_key("Ann Marie", "Smith", "1980-04-03", "M1 1AE") != match_key(
        "Ann", "Marie Smith", "1980-04-03", "M1 1AE"
    )


def _library_says_uk_mobile(national: str) -> bool:
    number = phonenumbers.parse(f"+44{national}", None)
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def test_mobile_check_gives_the_same_answer_as_phonenumbers():
    """The fast check reads phonenumbers' own ranges; prove it agrees with parsing."""
    chooser = random.Random(2021)
    nationals = [f"7{chooser.randrange(10**9):09d}" for _ in range(3000)]
    nationals += [f"7{prefix:03d}123456" for prefix in range(1000)]  # every 07xxx range
    nationals += ["1481256789", "2079460000", "8001234567"]  # landlines and freephone
    disagreements = []
    for national in nationals:
        try:
            ours = normalise_mobile(f"0{national}") == f"+44{national}"
        except ValueError:
            ours = False
        expected = _library_says_uk_mobile(national) or national.startswith("7700900")
        if ours != expected:
            disagreements.append(national)
    assert disagreements == []
    assert any(_library_says_uk_mobile(national) for national in nationals)
    assert not all(_library_says_uk_mobile(national) for national in nationals)


def test_crown_dependency_mobiles_are_uk_mobiles():
    assert normalise_mobile("07781 123456") == "+447781123456"  # Guernsey
    assert normalise_mobile("07624 123456") == "+447624123456"  # Isle of Man


def test_mobile_written_with_the_trunk_zero_in_brackets():
    assert normalise_mobile("+44 (0)7911 123456") == "+447911123456"


@pytest.mark.parametrize(
    "address",
    [
        "amara@example.com",
        "amara.okafor+flu@mail.example.co.uk",
        "o'brien@example.org",
        "a_b-c@sub-domain.example.com",
        "x@a.io",
    ],
)
def test_everyday_email_shortcut_only_accepts_what_django_accepts(address):
    assert validation._EVERYDAY_EMAIL.fullmatch(address)
    EmailValidator()(address)
    assert normalise_email(address)


@pytest.mark.parametrize(
    "address",
    ["amara@münchen.example", '"amara"@example.com'],
)
def test_unusual_emails_go_to_djangos_validator(address):
    assert not validation._EVERYDAY_EMAIL.fullmatch(address)
    assert normalise_email(address)


@pytest.mark.parametrize(
    "address", ["amara@localhost", "a..b@example.com", "a@-example.com", "zoë@example.com"]
)
def test_emails_django_refuses_or_that_cannot_reach_a_worker(address):
    with pytest.raises(ValueError, match="like name@example.com"):
        normalise_email(address)


def test_fold_ascii_shortcut_agrees_with_the_unicode_path():
    chooser = random.Random(7)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " \t"
    for _ in range(2000):
        text = "".join(chooser.choice(alphabet) for _ in range(chooser.randrange(0, 30)))
        slow = "".join(
            char
            for char in unicodedata.normalize("NFKD", text.strip()).casefold()
            if char.isalnum() and not unicodedata.combining(char)
        )
        assert validation.fold(text) == slow, text
    assert validation.fold("Zoë Ñúñez-Ström") == "zoenunezstrom"
