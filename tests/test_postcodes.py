"""The shared UK postcode normaliser."""

import pytest
from django.core.exceptions import ValidationError

from portal import postcodes
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


def test_the_error_is_both_a_form_error_and_a_value_error():
    with pytest.raises(ValueError, match="Enter a real UK postcode in full, like SW1A 2AA"):
        normalise_postcode("SW1A")
    with pytest.raises(ValidationError) as raised:
        normalise_postcode("not a postcode")
    assert raised.value.messages == ["Enter a real UK postcode in full, like SW1A 2AA"]


@pytest.mark.parametrize(
    ("raw", "expected", "country"),
    [
        ("cf10 1ep", "CF10 1EP", "Wales"),
        ("EH1 1YZ", "EH1 1YZ", "Scotland"),
        ("bt1 5gs", "BT1 5GS", "Northern Ireland"),
        ("SE1 7EH", "SE1 7EH", "England"),
    ],
)
def test_welsh_scottish_and_northern_irish_postcodes_are_valid_and_placed(raw, expected, country):
    assert normalise_postcode(raw) == expected
    assert postcodes.is_known_district(raw)
    assert postcodes.country(raw) == country
    latitude, longitude = postcodes.locate(raw)
    assert 49 < latitude < 61 and -9 < longitude < 2


def test_outcode_checks_the_postcode():
    assert postcodes.outcode(" ec1a 1bb") == "EC1A"
    with pytest.raises(ValueError):
        postcodes.outcode("EC1A")


def test_locate_gives_the_district_centroid_from_the_csv():
    assert postcodes.locate("SW1A 2AA") == postcodes.locate("SW1A 1AA")
    row = next(line for line in postcodes.DATA.read_text().splitlines() if line.startswith("S36,"))
    _, latitude, longitude, _ = row.split(",")
    assert postcodes.locate("S36 1AA") == (float(latitude), float(longitude))
    assert postcodes.locate("s36") == (float(latitude), float(longitude))


def test_unknown_district_is_well_formed_but_not_placed():
    assert normalise_postcode("zz9 9zz") == "ZZ9 9ZZ"
    assert postcodes.locate("ZZ9 9ZZ") is None
    assert not postcodes.is_known_district("ZZ9 9ZZ")
    assert postcodes.country("ZZ9 9ZZ") is None


def test_locate_refuses_what_is_not_a_postcode():
    with pytest.raises(ValueError):
        postcodes.locate("hello")


def test_the_district_table_is_read_once(monkeypatch):
    postcodes.districts()
    opened = []
    monkeypatch.setattr(type(postcodes.DATA), "open", lambda *a, **k: opened.append(a))
    for _ in range(1000):
        postcodes.locate("M1 1AE")
    assert opened == []


def test_the_error_survives_pickling_for_celery_results():
    import pickle

    with pytest.raises(ValueError) as raised:
        normalise_postcode("nope")
    copy = pickle.loads(pickle.dumps(raised.value))  # noqa: S301  (our own bytes)
    assert isinstance(copy, ValidationError) and isinstance(copy, ValueError)
    assert str(copy) == "Enter a real UK postcode in full, like SW1A 2AA"
