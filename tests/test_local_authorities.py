"""The data migration loads the 151 upper-tier local authorities of January 2021, with GSS
code, ONS name and region, matching the counts in shared/data/README.md."""

import csv
import importlib
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.db.models import Count

from portal.models import LocalAuthority

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent.parent / "portal" / "data" / "local_authorities.csv"

# shared/data/README.md: count per region.
REGION_COUNTS = {
    ("E12000001", "North East"): 12,
    ("E12000002", "North West"): 23,
    ("E12000003", "Yorkshire and The Humber"): 15,
    ("E12000004", "East Midlands"): 9,
    ("E12000005", "West Midlands"): 14,
    ("E12000006", "East of England"): 11,
    ("E12000007", "London"): 33,
    ("E12000008", "South East"): 19,
    ("E12000009", "South West"): 15,
}


def test_all_151_authorities_are_loaded():
    assert LocalAuthority.objects.count() == 151
    assert sum(REGION_COUNTS.values()) == 151


def test_counts_per_region_match_the_reference():
    loaded = {
        (row["region_code"], row["region_name"]): row["n"]
        for row in LocalAuthority.objects.values("region_code", "region_name").annotate(
            n=Count("pk")
        )
    }
    assert loaded == REGION_COUNTS


def test_every_row_of_the_csv_is_loaded_exactly():
    with DATA.open(newline="", encoding="utf-8") as handle:
        expected = {
            row["gss_code"]: (row["name"], row["region_code"], row["region_name"])
            for row in csv.DictReader(handle)
        }
    loaded = {
        la.gss_code: (la.name, la.region_code, la.region_name)
        for la in LocalAuthority.objects.all()
    }
    assert loaded == expected


@pytest.mark.parametrize(
    ("gss_code", "name", "region"),
    [
        ("E09000001", "City of London", "London"),
        ("E06000053", "Isles of Scilly", "South West"),
        ("E06000058", "Bournemouth, Christchurch and Poole", "South West"),
        ("E06000060", "Buckinghamshire", "South East"),
        ("E10000021", "Northamptonshire", "East Midlands"),
        ("E06000010", "Kingston upon Hull, City of", "Yorkshire and The Humber"),
    ],
)
def test_known_authorities_as_they_stood_in_january_2021(gss_code, name, region):
    authority = LocalAuthority.objects.get(gss_code=gss_code)
    assert (authority.name, authority.region_name) == (name, region)


def test_authorities_from_april_2021_are_absent():
    assert not LocalAuthority.objects.filter(gss_code__in=["E06000061", "E06000062"]).exists()


def test_codes_are_well_formed_and_unique():
    codes = list(LocalAuthority.objects.values_list("gss_code", flat=True))
    assert len(codes) == len(set(codes))
    assert all(code[:3] in {"E06", "E08", "E09", "E10"} and len(code) == 9 for code in codes)


def test_loading_again_changes_nothing():
    """The migration's loader is idempotent (update_or_create on the GSS code)."""
    migration = importlib.import_module("portal.migrations.0002_load_local_authorities")
    before = list(LocalAuthority.objects.order_by("gss_code").values())
    migration.load(django_apps, None)
    assert list(LocalAuthority.objects.order_by("gss_code").values()) == before
