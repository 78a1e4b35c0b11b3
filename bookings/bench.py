"""``manage.py bench routing``: route a national cohort of workers to vaccination sites and, in
the same run, time a naive every-worker-against-every-site loop on 10,000 of them, scaled up
to the same count, as the baseline. PostgreSQL only; bench rows are reused between runs."""

from __future__ import annotations

import datetime
import io
import json
import random
import time

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from bookings import routing
from bookings.models import Route, RoutingPolicy, Session, Slot, VaccinationSite
from employers.models import Employer
from portal import postcodes
from portal.models import LocalAuthority
from workers.models import Employment, Worker

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
    return {
        "benchmark": "routing",
        "workers": summary.workers,
        "sites": VaccinationSite.objects.filter(is_active=True).count(),
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
    """COPY tuples of ``columns`` (plain values whose str() PostgreSQL reads) into ``model``'s
    table; the other fields take ``constants`` or their defaults, converted once."""
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
        fixed[field.attname] = _copy_text(field.get_db_prep_save(value, connection))
    names = columns + list(fixed)
    tail = "\t".join(fixed.values())

    def lines():
        for row in rows:
            yield "\t".join(map(str, row)) + ("\t" + tail if tail else "") + "\n"

    quoted = ", ".join(connection.ops.quote_name(model._meta.get_field(n).column) for n in names)
    stream = io.BufferedReader(routing.LineReader(lines()), buffer_size=1 << 20)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {model._meta.db_table} ({quoted}) FROM STDIN", stream)  # noqa: S608


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if hasattr(value, "adapted"):  # a JSON value wrapped for psycopg2
        value = json.dumps(value.adapted)
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


BENCHMARKS = {"routing": (add_arguments, run)}
