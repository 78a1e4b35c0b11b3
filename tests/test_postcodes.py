"""The shared UK postcode normaliser."""

import pytest
from django.core.exceptions import ValidationError

from portal.postcodes import is_valid_postcode, normalise_postcode, outward_code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sw1a1aa", "SW1A 1AA"),
        ("  SW1A   1AA ", "SW1A 1AA"),
        ("m1 1ae", "M1 1AE"),
        ("B338TH", "B33 8TH"),
        ("cr2 6xh", "CR2 6XH"),
        ("dn55 1pt", "DN55 1PT"),
        ("W1A 0AX", "W1A 0AX"),
        ("EC1A1BB", "EC1A 1BB"),
        ("gir0aa", "GIR 0AA"),
    ],
)
def test_normalises_valid_postcodes(raw, expected):
    assert normalise_postcode(raw) == expected
    assert is_valid_postcode(raw)


@pytest.mark.parametrize(
    "raw", ["", "SW1A", "12345", "SW1A 1A", "QW1 1AA", "SW1A 1AAA", "SW1A-1AA", "AA1 1CI", "V1 1AA"]
)
def test_refuses_malformed_postcodes(raw):
    assert not is_valid_postcode(raw)
    with pytest.raises(ValidationError, match="real UK postcode"):
        normalise_postcode(raw)


def test_outward_code():
    assert outward_code("sw1a1aa") == "SW1A"
    assert outward_code("M1 1AE") == "M1"
