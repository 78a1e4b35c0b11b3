"""``manage.py bench routing``: route a national cohort of workers to vaccination sites and, in
the same run, time a naive every-worker-against-every-site loop on 10,000 of them, scaled up
to the same count, as the baseline. ``manage.py bench invitations``: from a lead's approval
to delivery at a local SMTP server, through two real Celery workers. PostgreSQL only."""

from __future__ import annotations

import datetime
import io
import logging
import math
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from bookings import invitations, routing
from bookings.models import (
    Campaign,
    Invitation,
    InvitationLink,
    Message,
    Route,
    RoutingPolicy,
    Session,
    Slot,
    VaccinationSite,
)
from employers.models import Employer
from portal import bulk, postcodes
from portal.models import LocalAuthority
from workers import services as eligibility
from workers.models import EligibilityDecision, Employment, Worker

BENCH_TAG = "bench|"
BENCH_ODS_PREFIX = "BENCH"
BASELINE_WORKERS = 10_000
# Roughly England's early-2021 mix: many local vaccination services, fewer hubs and centres.
SITE_KINDS = (
    [VaccinationSite.Kind.HOSPITAL_HUB] * 3
    + [VaccinationSite.Kind.VACCINATION_CENTRE] * 2
    + [VaccinationSite.Kind.LOCAL_SERVICE] * 5
)
FULL_SITE_SHARE = 0.1  # sites whose slots are all booked, so routing must look further
SESSION_DAYS = 14
SLOTS_PER_SESSION = 16  # 09:00 to 17:00 in 30-minute slots


def add_arguments(parser) -> None:
    parser.add_argument("--workers", type=int, default=1_500_000)
    parser.add_argument("--sites", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=2021)


def run(options: dict, stdout) -> dict:
    """Route every worker to a vaccination site and compare with a naive loop."""
    if connection.vendor != "postgresql":
        raise CommandError("The routing benchmark needs PostgreSQL: set DATABASE_URL.")
    rng = random.Random(options["seed"])
    england = sorted(
        code
        for code, district in postcodes.districts().items()
        if district.country == "England" and postcodes.is_valid_postcode(f"{code} 1AB")
    )
    started = time.perf_counter()
    ensure_sites(options["sites"], england, rng)
    ensure_workers(options["workers"], england, rng)
    stdout.write(f"Set-up took {time.perf_counter() - started:.1f} s.\n")

    started = time.perf_counter()
    summary = routing.route_workers(all_workers=True)
    seconds = time.perf_counter() - started
    stdout.write(
        f"Routed {summary.workers:,} workers ({summary.districts:,} districts) in "
        f"{seconds:.1f} s; {summary.unrouted:,} unrouted.\n"
    )

    sample = list(
        Route.objects.filter(worker__match_key__startswith=BENCH_TAG)
        .order_by("worker_id")
        .values_list("worker_id", "worker__home_postcode", "local_authority_id", "site_id")[
            :BASELINE_WORKERS
        ]
    )
    baseline_seconds, agreement = naive_baseline(sample)
    scaled = baseline_seconds * summary.workers / max(len(sample), 1)
    stdout.write(
        f"Naive loop: {len(sample):,} workers against every site in {baseline_seconds:.1f} s "
        f"(scaled: {scaled:.0f} s); it chose the same site for {agreement:.2%}.\n"
    )
    active_sites = VaccinationSite.objects.filter(is_active=True).count()
    # The bench's sites and workers stay for the next run, but its sites are closed until
    # then: open, they would take the invitations bench's (or anyone's) workers.
    VaccinationSite.objects.filter(ods_code__startswith=BENCH_ODS_PREFIX).update(is_active=False)
    stdout.write("Closed the benchmark's sites until its next run.\n")
    return {
        "benchmark": "routing",
        "workers": summary.workers,
        "sites": active_sites,
        "districts": summary.districts,
        "seconds": round(seconds, 2),
        "workers_per_second": round(summary.workers / seconds) if seconds else None,
        "baseline_workers": len(sample),
        "baseline_seconds": round(baseline_seconds, 2),
        "baseline_seconds_scaled": round(scaled, 1),
        "ratio": round(scaled / seconds, 1) if seconds else None,
        "baseline_agreement": round(agreement, 4),
        "unrouted": summary.unrouted,
    }


def naive_baseline(sample: list[tuple]) -> tuple[float, float]:
    """Every worker against every site: place each worker, measure the distance to each site,
    keep those in reach with space, sort. Returns (seconds, share agreeing with the router)."""
    policies = RoutingPolicy.for_authorities({authority for _, _, authority, _ in sample})
    free = routing.free_places_by_site(horizons={p.horizon_days for p in policies.values()})
    sites = list(
        VaccinationSite.objects.filter(is_active=True, latitude__isnull=False).values_list(
            "pk", "kind", "latitude", "longitude"
        )
    )
    agree = 0
    started = time.perf_counter()
    for _, postcode, authority_id, routed_site in sample:
        policy = policies[authority_id]
        rank = {kind: index for index, kind in enumerate(policy.site_kinds)}
        places = free.get(policy.horizon_days, {})
        limit = float(policy.max_distance_km)
        location = routing.locate_district(routing.district_of(postcode))
        best = None
        if location is not None:
            candidates = []
            for site_id, kind, latitude, longitude in sites:
                distance = routing.haversine_km(location[0], location[1], latitude, longitude)
                if distance <= limit and kind in rank and places.get(site_id, 0) > 0:
                    candidates.append((rank[kind], distance, site_id))
            candidates.sort()
            best = candidates[0][2] if candidates else None
        agree += best == routed_site
    return time.perf_counter() - started, agree / max(len(sample), 1)


# ---------------------------------------------------------------------------------------------
# Set-up (not timed)


@transaction.atomic
def ensure_sites(count: int, england: list[str], rng: random.Random) -> None:
    """``count`` active bench sites at England district centroids, each with a fortnight of
    sessions from tomorrow; sessions are rebuilt every run so the horizon stays current."""
    bench_sites = VaccinationSite.objects.filter(ods_code__startswith=BENCH_ODS_PREFIX)
    existing = bench_sites.count()
    if existing > count:
        surplus = bench_sites.order_by("-pk").values_list("pk", flat=True)[: existing - count]
        Route.objects.filter(site_id__in=list(surplus)).update(site=None)
        VaccinationSite.objects.filter(pk__in=list(surplus)).delete()
    authorities = list(LocalAuthority.objects.values_list("pk", flat=True))
    created = VaccinationSite.objects.bulk_create(
        [
            VaccinationSite(
                name=f"Bench site {index}",
                kind=rng.choice(SITE_KINDS),
                ods_code=f"{BENCH_ODS_PREFIX}{index:05d}",
                postcode=f"{district} 1AB",
                latitude=postcodes.districts()[district].latitude,
                longitude=postcodes.districts()[district].longitude,
            )
            for index in range(existing, count)
            for district in [rng.choice(england)]
        ]
    )
    VaccinationSite.local_authorities.through.objects.bulk_create(
        [
            VaccinationSite.local_authorities.through(
                vaccinationsite_id=site.pk, localauthority_id=rng.choice(authorities)
            )
            for site in created
        ]
    )
    bench_sites.update(is_active=True)
    Session.objects.filter(site__ods_code__startswith=BENCH_ODS_PREFIX).delete()
    site_ids = list(bench_sites.order_by("pk").values_list("pk", flat=True))
    full = sorted(rng.sample(site_ids, int(len(site_ids) * FULL_SITE_SHARE)))
    sessions, slots, sites = (
        Session._meta.db_table,
        Slot._meta.db_table,
        VaccinationSite._meta.db_table,
    )
    with connection.cursor() as cursor:
        # A fortnight of 09:00 to 17:00 sessions at every bench site, in two set-based inserts.
        cursor.execute(
            f"INSERT INTO {sessions} (site_id, date, start_time, end_time, slot_minutes, "  # noqa: S608
            "vaccinators, capacity_per_slot, is_cancelled, cancel_reason, created_at) "
            "SELECT s.id, %s::date + d, '09:00', '17:00', 30, 4, 4, false, '', now() "
            f"FROM {sites} s CROSS JOIN generate_series(1, %s) d WHERE s.ods_code LIKE %s",
            [timezone.localdate(), SESSION_DAYS, f"{BENCH_ODS_PREFIX}%"],
        )
        cursor.execute(
            f"INSERT INTO {slots} (session_id, starts_at, capacity, booked) "  # noqa: S608
            "SELECT se.id, (se.date + se.start_time + i * interval '30 minutes') "
            "AT TIME ZONE %s, 4, CASE WHEN se.site_id = ANY(%s) THEN 4 "
            "ELSE (se.id + i) %% 5 END "
            f"FROM {sessions} se JOIN {sites} s ON s.id = se.site_id "
            "CROSS JOIN generate_series(0, %s) i WHERE s.ods_code LIKE %s",
            [
                timezone.get_current_timezone_name(),
                full,
                SLOTS_PER_SESSION - 1,
                f"{BENCH_ODS_PREFIX}%",
            ],
        )


def ensure_workers(count: int, england: list[str], rng: random.Random) -> None:
    """``count`` bench workers living across England's districts, each employed by a bench
    employer in one of the 151 authorities; added with COPY, reused from earlier runs."""
    bench_workers = Worker.objects.filter(match_key__startswith=BENCH_TAG)
    existing = bench_workers.count()
    if existing > count:
        with transaction.atomic():
            surplus = bench_workers.order_by("-pk").values("pk")[: existing - count]
            Route.objects.filter(worker_id__in=surplus).delete()
            Worker.objects.filter(pk__in=list(surplus.values_list("pk", flat=True))).delete()
        return
    employers = ensure_employers()
    now = timezone.now()
    batch = 250_000
    for start in range(existing, count, batch):
        end = min(start + batch, count)
        with transaction.atomic():
            copy_rows(
                Worker,
                ["last_name", "date_of_birth", "home_postcode", "match_key"],
                (
                    (
                        f"Worker {index}",
                        datetime.date(1960, 1, 1) + datetime.timedelta(days=index % 15_000),
                        f"{rng.choice(england)} {index % 10}AB",
                        f"{BENCH_TAG}{index}",
                    )
                    for index in range(start, end)
                ),
                constants={"first_name": "Bench", "created_at": now, "updated_at": now},
            )
            # Read before the next COPY starts: the connection cannot do both at once.
            new_workers = list(
                bench_workers.filter(employments__isnull=True)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            copy_rows(
                Employment,
                ["worker_id", "employer_id", "email"],
                (
                    (worker_id, rng.choice(employers), f"bench{worker_id}@example.org")
                    for worker_id in new_workers
                ),
                constants={
                    "job_role": "Care worker",
                    "work_setting": "Domiciliary care (home care)",
                    "direct_contact": True,
                    "created_at": now,
                    "updated_at": now,
                },
            )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Worker._meta.db_table}")  # noqa: S608
        cursor.execute(f"ANALYZE {Employment._meta.db_table}")  # noqa: S608


def ensure_employers() -> list[int]:
    """One approved bench employer in each local authority."""
    missing = LocalAuthority.objects.exclude(
        employers__name__startswith="Bench employer"
    ).values_list("pk", "gss_code")
    Employer.objects.bulk_create(
        [
            Employer(
                name=f"Bench employer {gss_code}",
                kind=Employer.Kind.NON_REGISTERED,
                postcode="SW1A 2AA",
                local_authority_id=pk,
                status=Employer.Status.APPROVED,
            )
            for pk, gss_code in missing
        ]
    )
    return list(
        Employer.objects.filter(name__startswith="Bench employer").values_list("pk", flat=True)
    )


def copy_rows(model, columns: list[str], rows, *, constants: dict) -> None:
    """COPY tuples of ``columns`` into ``model``'s table through portal.bulk's encoder; the
    other fields take ``constants`` or their defaults, converted once."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    fixed = {}
    for field in fields:
        if field.attname in columns:
            continue
        if field.attname in constants:
            value = constants[field.attname]
        elif field.has_default():
            value = field.get_default()
        else:
            value = None if field.null else ""
        prepared = field.get_db_prep_save(value, connection)
        # A JSON value comes wrapped for psycopg2: the one COPY encoder takes it as it is.
        fixed[field.attname] = bulk.copy_value(getattr(prepared, "adapted", prepared))
    names = columns + list(fixed)
    tail = "\t".join(fixed.values())

    def lines():
        for row in rows:
            yield "\t".join(map(bulk.copy_value, row)) + ("\t" + tail if tail else "") + "\n"

    quoted = ", ".join(connection.ops.quote_name(model._meta.get_field(n).column) for n in names)
    stream = io.BufferedReader(bulk.LineReader(lines()), buffer_size=1 << 20)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {model._meta.db_table} ({quoted}) FROM STDIN", stream)  # noqa: S608


# ---------------------------------------------------------------------------------------------
# bench invitations

INVITE_TAG = "invbench|"
INVITE_ODS_PREFIX = "INVB"  # not BENCH…, which the routing benchmark owns
INVITE_AUTHORITY = "E08000025"  # Birmingham: the largest authority
INVITE_CENTRE = "B1"
INVITE_RADIUS_KM = 12
INVITE_SITES = 20
INVITE_EMPLOYERS = 10
INVITE_FACTOR = Decimal("1.5")
BENCH_LEAD = "invitation-bench-lead@example.org"
STALL_SECONDS = 120
FIRST_NAMES = ["Aisha", "Ben", "Chloe", "Daniel", "Ewa", "Farid", "Grace", "Harpreet", "Ivan"]


def add_invitation_arguments(parser) -> None:
    parser.add_argument("--workers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument(
        "--task-chunk", type=int, default=200, help="messages per send task (MESSAGE_TASK_CHUNK)"
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds to wait for delivery")


class RecordingHandler:
    """An aiosmtpd handler that counts what arrives: every message, and each recipient."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received = 0
        self.recipients: Counter = Counter()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.lock:
            self.received += 1
            self.recipients.update(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


def run_invitations(options: dict, stdout) -> dict:
    """Approve workers, start a campaign and time until every invitation reaches an SMTP sink."""
    if connection.vendor != "postgresql":
        raise CommandError("The invitations benchmark needs PostgreSQL: set DATABASE_URL.")
    if not settings.REDIS_URL:
        raise CommandError("The invitations benchmark needs Redis: set REDIS_URL.")
    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    count = options["workers"]
    rng = random.Random(options["seed"])
    started = time.perf_counter()
    lead, employment_ids = build_invitation_world(count, rng)
    stdout.write(f"Set-up of {count:,} workers took {time.perf_counter() - started:.1f} s.\n")

    handler = RecordingHandler()
    with socket.socket() as probe:  # a free port (aiosmtpd cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Controller(handler, hostname="127.0.0.1", port=port)
    sink.start()
    from portal.celery import app as celery_app

    celery_app.set_current()
    celery_app.control.purge()  # tasks left by an earlier run name rows that are gone
    workers = [
        start_bench_worker(index, smtp_port=port, task_chunk=options["task_chunk"])
        for index in (1, 2)
    ]
    try:
        wait_for_workers([name for name, _ in workers])
        stdout.write(f"SMTP sink on port {port}; 2 Celery workers ready.\n")

        started = time.perf_counter()
        eligibility.approve_employments(
            lead=lead, employment_ids=employment_ids, reason="Frontline care workers (bench)"
        )
        approved = time.perf_counter() - started
        campaign = invitations.start_campaign(lead=lead, over_invite_factor=INVITE_FACTOR)
        queued = Invitation.objects.filter(worker__match_key__startswith=INVITE_TAG).count()
        stdout.write(f"Approved {count:,} and queued {queued:,} invitations in {approved:.1f} s.\n")
        deadline = time.monotonic() + options["timeout"]
        last_report = last_change = time.monotonic()
        seen = 0
        while handler.received < queued and time.monotonic() < deadline:
            time.sleep(0.2)
            if handler.received != seen:
                seen, last_change = handler.received, time.monotonic()
            elif time.monotonic() - last_change > STALL_SECONDS:
                stdout.write(f"Nothing arrived for {STALL_SECONDS} s: stopping.\n")
                break
            if time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                stdout.write(
                    f"  {time.perf_counter() - started:6.1f} s: {handler.received:,} received\n"
                )
        seconds = time.perf_counter() - started
        time.sleep(2)  # anything arriving late would be a second copy
    finally:
        for _, process in workers:
            process.send_signal(signal.SIGTERM)
        for _, process in workers:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        sink.stop()
    campaign.refresh_from_db()
    released = Invitation.objects.filter(campaign=campaign).count()
    sent = Message.objects.filter(invitation__campaign=campaign, status=Message.Status.SENT).count()
    distinct = len(handler.recipients)
    duplicates = handler.received - distinct
    stdout.write(
        f"{handler.received:,} emails reached the sink ({distinct:,} recipients, "
        f"{duplicates} duplicates) {seconds:.1f} s after the approval.\n"
    )
    # Leave the database as it was (bar the audit trail, which keeps everything): the bench
    # rows would otherwise count in the routing benchmark and in every report.
    remove_invitation_world()
    stdout.write("Removed the workers, sites and messages the benchmark created.\n")
    return {
        "benchmark": "invitations",
        "workers": count,
        "invitations": queued,
        "released": released,
        "messages_sent": sent,
        "received": handler.received,
        "distinct_recipients": distinct,
        "duplicates": duplicates,
        "all_delivered_once": handler.received == distinct == queued,
        "approve_seconds": round(approved, 2),
        "seconds": round(seconds, 2),
        "per_second": round(handler.received / seconds, 1) if seconds else None,
        "celery_workers": len(workers),
        "task_chunk": options["task_chunk"],
    }


def start_bench_worker(index: int, *, smtp_port: int, task_chunk: int):
    """A ``celery worker`` process sending to the sink; its output goes to a log under VAR_DIR."""
    name = f"invbench{index}-{os.getpid()}@{socket.gethostname()}"
    log = Path(settings.VAR_DIR) / f"bench-invitations-worker{index}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "MESSAGE_RATE_LIMITS": "email=0/s,sms=0/s",
        "MESSAGE_TASK_CHUNK": str(task_chunk),
        "WORKER_HEARTBEAT_INTERVAL": "1",
    }
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo"]
        + ["--loglevel=WARNING", "--without-gossip", "--without-mingle", "-n", name],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return name, process


def wait_for_workers(names: list[str], timeout: float = 60) -> None:
    from portal.models import WorkerHeartbeat

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if WorkerHeartbeat.objects.filter(hostname__in=names).count() == len(names):
            return
        time.sleep(0.5)
    raise CommandError("The Celery workers did not start within a minute.")


def build_invitation_world(count: int, rng: random.Random):
    """A lead, employers, sites with room for every invitation, and ``count`` undecided
    workers near the sites; earlier bench rows are removed first (not timed)."""
    authority = LocalAuthority.objects.get(gss_code=INVITE_AUTHORITY)
    remove_invitation_world()
    User = get_user_model()  # noqa: N806
    lead, _ = User.objects.get_or_create(
        email=BENCH_LEAD,
        defaults={"full_name": "Bench Lead", "role": "local_lead", "local_authority": authority},
    )
    centre = postcodes.districts()[INVITE_CENTRE]
    nearby = sorted(
        code
        for code, district in postcodes.districts().items()
        if routing.haversine_km(
            centre.latitude, centre.longitude, district.latitude, district.longitude
        )
        <= INVITE_RADIUS_KM
        and postcodes.is_valid_postcode(f"{code} 1AB")
    )
    with transaction.atomic():
        employers = Employer.objects.bulk_create(
            [
                Employer(
                    name=f"Invitation bench employer {index}",
                    kind=Employer.Kind.NON_REGISTERED,
                    postcode="B1 1BB",
                    local_authority=authority,
                    status=Employer.Status.APPROVED,
                )
                for index in range(INVITE_EMPLOYERS)
            ]
        )
        sites = VaccinationSite.objects.bulk_create(
            [
                VaccinationSite(
                    name=f"Bench hospital hub {index}",
                    kind=VaccinationSite.Kind.HOSPITAL_HUB,
                    ods_code=f"{INVITE_ODS_PREFIX}{index:05d}",
                    address=f"{index} Hospital Road, Birmingham",
                    postcode=f"{district} 1AB",
                    latitude=postcodes.districts()[district].latitude,
                    longitude=postcodes.districts()[district].longitude,
                )
                for index, district in enumerate(rng.sample(nearby, INVITE_SITES))
            ]
        )
        VaccinationSite.local_authorities.through.objects.bulk_create(
            [
                VaccinationSite.local_authorities.through(
                    vaccinationsite_id=site.pk, localauthority_id=authority.pk
                )
                for site in sites
            ]
        )
        # Routing sends each district to its nearest site, so one site may draw far more
        # workers than an even share: give every site room for everyone, so that capacity
        # never holds an invitation back and the figure measures sending alone.
        per_slot = math.ceil(count / float(INVITE_FACTOR) / (SESSION_DAYS * SLOTS_PER_SESSION)) + 1
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Session._meta.db_table} (site_id, date, start_time, end_time, "  # noqa: S608
                "slot_minutes, vaccinators, capacity_per_slot, is_cancelled, cancel_reason, "
                "created_at) SELECT s.id, %s::date + d, '09:00', '17:00', 30, %s, %s, false, '', "
                f"now() FROM {VaccinationSite._meta.db_table} s "
                "CROSS JOIN generate_series(1, %s) d WHERE s.ods_code LIKE %s",
                [timezone.localdate(), per_slot, per_slot, SESSION_DAYS, f"{INVITE_ODS_PREFIX}%"],
            )
            cursor.execute(
                f"INSERT INTO {Slot._meta.db_table} (session_id, starts_at, capacity, booked) "  # noqa: S608
                "SELECT se.id, (se.date + se.start_time + i * interval '30 minutes') "
                "AT TIME ZONE %s, %s, 0 "
                f"FROM {Session._meta.db_table} se JOIN {VaccinationSite._meta.db_table} s "
                "ON s.id = se.site_id CROSS JOIN generate_series(0, %s) i "
                "WHERE s.ods_code LIKE %s",
                [
                    timezone.get_current_timezone_name(),
                    per_slot,
                    SLOTS_PER_SESSION - 1,
                    f"{INVITE_ODS_PREFIX}%",
                ],
            )
        now = timezone.now()
        copy_rows(
            Worker,
            ["first_name", "last_name", "date_of_birth", "home_postcode", "match_key"],
            (
                (
                    FIRST_NAMES[index % len(FIRST_NAMES)],
                    f"Bench{index}",
                    datetime.date(1960, 1, 1) + datetime.timedelta(days=index % 15_000),
                    f"{rng.choice(nearby)} {index % 9 + 1}AB",
                    f"{INVITE_TAG}{index}",
                )
                for index in range(count)
            ),
            constants={"created_at": now, "updated_at": now},
        )
        new_workers = list(
            Worker.objects.filter(match_key__startswith=INVITE_TAG)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        employer_ids = [employer.pk for employer in employers]
        copy_rows(
            Employment,
            ["worker_id", "employer_id", "email"],
            (
                (
                    worker_id,
                    employer_ids[worker_id % INVITE_EMPLOYERS],
                    f"invbench{worker_id}@example.org",
                )
                for worker_id in new_workers
            ),
            constants={
                # The name messages greet the worker by: the employer's own copy of it.
                "first_name": "Bench",
                "job_role": "care_worker",
                "work_setting": "domiciliary_care",
                "direct_contact": True,
                "created_at": now,
                "updated_at": now,
            },
        )
    with connection.cursor() as cursor:
        for model in (Worker, Employment, Slot, Session):
            cursor.execute(f"ANALYZE {model._meta.db_table}")  # noqa: S608
    employment_ids = list(
        Employment.objects.filter(worker__match_key__startswith=INVITE_TAG)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return lead, employment_ids


def remove_invitation_world() -> None:
    """Delete the rows of earlier runs, set-based (the ORM would fetch each one to cascade)."""

    def table(model) -> str:
        return model._meta.db_table

    workers = f"SELECT id FROM {table(Worker)} WHERE match_key LIKE %s"  # noqa: S608
    employments = f"SELECT id FROM {table(Employment)} WHERE worker_id IN ({workers})"  # noqa: S608
    invites = f"SELECT id FROM {table(Invitation)} WHERE worker_id IN ({workers})"  # noqa: S608
    sites = f"SELECT id FROM {table(VaccinationSite)} WHERE ods_code LIKE %s"  # noqa: S608
    sessions = f"SELECT id FROM {table(Session)} WHERE site_id IN ({sites})"  # noqa: S608
    employers = f"SELECT id FROM {table(Employer)} WHERE name LIKE %s"  # noqa: S608
    site_areas = VaccinationSite.local_authorities.through
    tag, ods, names = f"{INVITE_TAG}%", f"{INVITE_ODS_PREFIX}%", "Invitation bench employer %"
    steps = [
        ("DELETE FROM", InvitationLink, f"invitation_id IN ({invites})", tag),
        ("DELETE FROM", Message, f"worker_id IN ({workers})", tag),
        ("DELETE FROM", Invitation, f"worker_id IN ({workers})", tag),
        ("DELETE FROM", Route, f"worker_id IN ({workers})", tag),
        ("UPDATE", Employment, f"current_decision_id IS NOT NULL AND id IN ({employments})", tag),
        ("DELETE FROM", EligibilityDecision, f"employment_id IN ({employments})", tag),
        ("DELETE FROM", Employment, f"id IN ({employments})", tag),
        ("DELETE FROM", Worker, "match_key LIKE %s", tag),
        ("DELETE FROM", Campaign, f"employer_id IN ({employers}) OR started_by_id = %s", None),
        ("DELETE FROM", Employer, "name LIKE %s", names),
        ("DELETE FROM", Slot, f"session_id IN ({sessions})", ods),
        ("DELETE FROM", Session, f"site_id IN ({sites})", ods),
        ("DELETE FROM", site_areas, f"vaccinationsite_id IN ({sites})", ods),
        ("DELETE FROM", VaccinationSite, "ods_code LIKE %s", ods),
    ]
    lead = get_user_model().objects.filter(email=BENCH_LEAD).values_list("pk", flat=True).first()
    with transaction.atomic(), connection.cursor() as cursor:
        for verb, model, condition, parameter in steps:
            target = table(model)
            if verb == "UPDATE":
                target = f"{target} SET current_decision_id = NULL"
            params = [names, lead or 0] if parameter is None else [parameter]
            cursor.execute(f"{verb} {target} WHERE {condition}", params)  # noqa: S608


BENCHMARKS = {
    "routing": (add_arguments, run),
    "invitations": (add_invitation_arguments, run_invitations),
}
