"""portal.bulk on PostgreSQL: COPY inserts keep every value exactly (escapes, NULLs, flags,
dates, shared values and model defaults), ids come from the table's own sequence, and the
``any_of`` lookup finds exactly what ``__in`` finds with one array parameter."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.bulk import insert_rows, take_ids
from tests.factories import EmployerFactory, WorkerFactory
from workers.models import Employment, Worker

pytestmark = pytest.mark.django_db

AWKWARD_TEXT = [
    "plain",
    "tab\there",
    "line\nbreak",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    '=HYPERLINK("http://x")',
    "Zoë O’Brien\xa0Jr",
    "",
]


def test_insert_rows_keeps_awkward_text_nulls_and_shared_values(postgres):
    now = timezone.now()
    rows = [
        {
            "first_name": text or "x",
            "last_name": text,
            "date_of_birth": datetime.date(1980, 4, 3),
            "nhs_number": None,
            "home_postcode": "SW1A 2AA",
            "match_key": f"key{index}",
        }
        for index, text in enumerate(AWKWARD_TEXT)
    ]
    ids = insert_rows(
        Worker,
        ["first_name", "last_name", "date_of_birth", "nhs_number", "home_postcode", "match_key"],
        rows,
        {"created_at": now, "updated_at": now},
    )
    assert len(ids) == len(set(ids)) == len(AWKWARD_TEXT)
    stored = {worker.pk: worker for worker in Worker.objects.filter(pk__in=ids)}
    for pk, text in zip(ids, AWKWARD_TEXT, strict=True):
        worker = stored[pk]
        assert worker.last_name == text
        assert worker.nhs_number is None
        assert worker.date_of_birth == datetime.date(1980, 4, 3)
        assert worker.created_at == now
        # A field no one named gets its model default, as bulk_create would give it.
        assert worker.ethnicity == ""


def test_insert_rows_writes_flags_and_foreign_keys(postgres):
    employer = EmployerFactory()
    workers = [WorkerFactory(), WorkerFactory()]
    ids = insert_rows(
        Employment,
        ["worker_id", "direct_contact", "job_role"],
        [
            {"worker_id": workers[0].pk, "direct_contact": True, "job_role": "care_worker"},
            {"worker_id": workers[1].pk, "direct_contact": False, "job_role": "care_worker"},
        ],
        {"employer_id": employer.pk, "work_setting": "nursing_home"},
    )
    first, second = (Employment.objects.get(pk=pk) for pk in ids)
    assert (first.worker, first.direct_contact) == (workers[0], True)
    assert (second.worker, second.direct_contact) == (workers[1], False)
    assert first.employer == second.employer == employer
    assert first.status == Employment.Status.ACTIVE  # the model's default
    assert first.left_at is None
    with pytest.raises(ValueError, match="not both"):
        insert_rows(Employment, ["job_role"], [{"job_role": "x"}], {"job_role": "y"})


def test_ids_come_from_the_tables_sequence(postgres):
    with connection.cursor() as cursor:
        ids = take_ids(cursor, "workers_worker", 5)
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert WorkerFactory().pk > ids[-1]


def test_any_of_finds_what_in_finds_with_one_parameter(postgres):
    workers = [WorkerFactory() for _ in range(5)]
    employer = EmployerFactory()
    for worker in workers[:3]:
        Employment.objects.create(
            worker=worker, employer=employer, job_role="care_worker", work_setting="other"
        )
    numbers = [worker.nhs_number for worker in workers[:4]] + ["0000000000", None]
    expected = set(Worker.objects.filter(nhs_number__in=numbers).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        found = set(Worker.objects.filter(nhs_number__any_of=numbers).values_list("pk", flat=True))
    assert found == expected == {worker.pk for worker in workers[:4] if worker.nhs_number}
    assert "= ANY(" in queries[0]["sql"]
    assert " IN (" not in queries[0]["sql"]

    worker_ids = {worker.pk for worker in workers}
    assert set(
        Employment.objects.filter(worker_id__any_of=worker_ids).values_list("worker_id", flat=True)
    ) == {worker.pk for worker in workers[:3]}
    assert list(Worker.objects.filter(pk__any_of=[])) == []
    assert list(Worker.objects.filter(pk__any_of=[None])) == []
    # Values of another type are prepared as ``__in`` prepares them.
    assert Worker.objects.filter(pk__any_of=[str(workers[0].pk)]).get() == workers[0]


def test_a_temporary_table_keeps_every_character_it_is_given(postgres):
    """Routing's temporary tables go through the one COPY encoder: tabs, new lines and
    backslashes in a value arrive as they were (an unescaped tab used to split a column)."""
    from django.db import connection

    from portal.bulk import load_temporary_table

    awkward = ["tab\there", "line\nbreak", "back\\slash", "carriage\rreturn", None]
    with connection.cursor() as cursor:
        load_temporary_table(
            cursor,
            "awkward (position integer, text_value text, distance double precision)",
            ["position", "text_value", "distance"],
            ((index, value, index / 3) for index, value in enumerate(awkward)),
        )
        cursor.execute("SELECT text_value, distance FROM awkward ORDER BY position")
        rows = cursor.fetchall()
        cursor.execute("DROP TABLE awkward")
    assert [value for value, _distance in rows] == awkward
    assert rows[1][1] == pytest.approx(1 / 3)
