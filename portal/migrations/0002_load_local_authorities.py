"""Load the 151 English upper-tier local authorities of January 2021 (portal/data)."""

import csv
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "local_authorities.csv"


def load(apps, schema_editor):
    LocalAuthority = apps.get_model("portal", "LocalAuthority")
    with DATA.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            LocalAuthority.objects.update_or_create(
                gss_code=row["gss_code"],
                defaults={
                    "name": row["name"],
                    "region_code": row["region_code"],
                    "region_name": row["region_name"],
                },
            )


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
