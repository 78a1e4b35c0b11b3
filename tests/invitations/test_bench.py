"""`manage.py bench invitations` and `bench routing` run end to end at a small size and end
with one JSON object holding the figures the issue asks for; the invitations bench (real
Celery workers, an SMTP sink) leaves no workers, sites or messages behind, so it cannot
change what the routing bench or a report counts (no timing is asserted)."""

import io
import json

import pytest
from django.core.management import call_command

from bookings.models import Invitation, Message, VaccinationSite
from tests.conftest import database_url
from workers.models import Worker


def last_json(out: io.StringIO) -> dict:
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_bench_invitations_delivers_each_once_and_cleans_up(
    postgres, redis_url, monkeypatch, settings, tmp_path
):
    # The bench's worker processes read the database and broker from the environment.
    monkeypatch.setenv("DATABASE_URL", database_url())
    monkeypatch.setenv("REDIS_URL", redis_url)
    settings.VAR_DIR = tmp_path
    workers_before, sites_before = Worker.objects.count(), VaccinationSite.objects.count()
    out = io.StringIO()
    call_command("bench", "invitations", "--workers", "60", "--timeout", "120", stdout=out)
    figures = last_json(out)
    for key in ("invitations", "per_second", "received", "distinct_recipients", "duplicates"):
        assert key in figures
    assert figures["invitations"] == figures["received"] == figures["distinct_recipients"] == 60
    assert figures["duplicates"] == 0
    assert figures["all_delivered_once"] is True
    assert Worker.objects.count() == workers_before
    assert VaccinationSite.objects.count() == sites_before
    assert not Invitation.objects.exists() and not Message.objects.exists()


@pytest.mark.django_db
def test_bench_routing_prints_its_figures(postgres):
    out = io.StringIO()
    call_command("bench", "routing", "--workers", "3000", "--sites", "30", stdout=out)
    figures = last_json(out)
    for key in ("workers", "sites", "seconds", "baseline_seconds_scaled", "ratio", "unrouted"):
        assert key in figures
    assert (figures["workers"], figures["sites"]) == (3000, 30)
    assert 0 <= figures["unrouted"] <= 3000
    assert figures["baseline_agreement"] == 1.0
    # Its sites are closed until its next run, so they take no one else's workers.
    assert not VaccinationSite.objects.filter(is_active=True).exists()
