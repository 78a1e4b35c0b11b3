"""`manage.py bench import` runs end to end at a small size and ends with one JSON object
holding the figures the issue asks for (no timing is asserted: benchmarks are not tests)."""

import io
import json

import pytest
from django.core.management import call_command

from benchmarks.staff_upload import nhs_number
from workers.models import Worker

pytestmark = pytest.mark.django_db


def test_bench_import_prints_its_figures_as_json(postgres):
    out = io.StringIO()
    call_command(
        "bench",
        "import",
        "--rows",
        "200",
        "--existing",
        "1000",
        "--baseline-rows",
        "50",
        stdout=out,
    )
    figures = json.loads(out.getvalue().strip().splitlines()[-1])
    for key in (
        "rows",
        "validate_rows_per_s",
        "commit_rows_per_s",
        "end_to_end_rows_per_s",
        "peak_memory_mb",
        "queries",
        "baseline_rows_per_s",
        "ratio",
    ):
        assert key in figures
    assert figures["rows"] == 200
    assert figures["existing_workers"] == 1000
    assert Worker.objects.count() == 1000 + 160  # a fifth of the rows were people already known


def test_benchmark_nhs_numbers_pass_the_check_digit():
    from workers.validation import normalise_nhs_number

    numbers = [nhs_number(serial) for serial in range(400_000_000, 400_000_200)]
    assert all(normalise_nhs_number(number) == number for number in numbers if number)
    assert numbers.count(None) < 40
