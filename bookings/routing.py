"""Routing: send each worker to the nearest vaccination site with space, of the kinds their
local authority's policy prefers, using a grid index over the sites. Workers are placed by
their home postcode district, so the choice is made once per district and policy and fanned
out to every worker in it."""

from __future__ import annotations

import datetime
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, StrIndex, Substr, Upper
from django.utils import timezone

from bookings.models import Route, RoutingPolicy, Slot, VaccinationSite
from portal import audit, postcodes
from portal.bulk import load_temporary_table
from workers.models import Employment, Worker

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_LATITUDE = 111.195
# About 22 km by 20 km in England: a 30 km search reads a handful of cells.
CELL_LATITUDE_DEGREES = 0.2
CELL_LONGITUDE_DEGREES = 0.3
MAX_ALTERNATIVES = 3
# Worker ids per query when routing a given list of workers.
WORKER_ID_CHUNK = 10_000
# The temporary tables of one routing run, and the authority key of a worker with no employer.
_WORKERS, _POLICIES, _CHOICES = "routing_worker", "routing_policy_key", "routing_choice"
NO_AUTHORITY = 0
ROUTING_WORK_MEM = "256MB"

KIND_LABELS = {kind: label.lower() for kind, label in VaccinationSite.Kind.choices}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (straight-line) distance in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


@dataclass(frozen=True, slots=True)
class SitePoint:
    id: int
    kind: str
    latitude: float
    longitude: float


class SiteGrid:
    """Sites bucketed by latitude/longitude cell, so a search within a radius reads only the
    cells that the radius can reach instead of every site."""

    def __init__(self, sites: Iterable[SitePoint]):
        self.cells: dict[tuple[int, int], list[SitePoint]] = defaultdict(list)
        for site in sites:
            self.cells[self._cell(site.latitude, site.longitude)].append(site)

    @staticmethod
    def _cell(latitude: float, longitude: float) -> tuple[int, int]:
        return (
            math.floor(latitude / CELL_LATITUDE_DEGREES),
            math.floor(longitude / CELL_LONGITUDE_DEGREES),
        )

    def within(self, latitude: float, longitude: float, km: float) -> list[tuple[float, SitePoint]]:
        """(distance, site) for every site within ``km`` of the point, nearest first."""
        dlat = km / KM_PER_DEGREE_LATITUDE
        # Longitude degrees shrink towards the pole: size the box for the poleward edge.
        edge = min(abs(latitude) + dlat, 89.9)
        dlon = km / (KM_PER_DEGREE_LATITUDE * math.cos(math.radians(edge)))
        row_low, col_low = self._cell(latitude - dlat, longitude - dlon)
        row_high, col_high = self._cell(latitude + dlat, longitude + dlon)
        found = []
        for row in range(row_low, row_high + 1):
            for col in range(col_low, col_high + 1):
                for site in self.cells.get((row, col), ()):
                    distance = haversine_km(latitude, longitude, site.latitude, site.longitude)
                    if distance <= km:
                        found.append((distance, site))
        found.sort(key=lambda pair: (pair[0], pair[1].id))
        return found


@dataclass(frozen=True, slots=True)
class Choice:
    """The outcome for one district under one policy, shared by all its workers."""

    site_id: int | None
    distance_km: float | None
    alternatives: list[dict] = field(default_factory=list)
    reason: str = ""

    @property
    def is_unrouted(self) -> bool:
        return self.site_id is None


def choose_site(
    *,
    grid: SiteGrid,
    latitude: float,
    longitude: float,
    site_kinds: Sequence[str],
    max_distance_km: float,
    free_places: dict[int, int],
) -> Choice:
    """The nearest site of the most preferred kind with free places within the distance,
    and up to three alternatives in the same order (preference, then distance)."""
    rank = {kind: index for index, kind in enumerate(site_kinds)}
    usable = sorted(
        (rank[site.kind], distance, site.id, site.kind)
        for distance, site in grid.within(latitude, longitude, max_distance_km)
        if site.kind in rank and free_places.get(site.id, 0) > 0
    )
    limit = f"{float(max_distance_km):g}"
    if not usable:
        return Choice(
            site_id=None, distance_km=None, reason=f"no site with space within {limit} km"
        )
    chosen_rank, distance, site_id, kind = usable[0]
    reason = f"nearest {KIND_LABELS[kind]} with space: {_km(distance)} km"
    if chosen_rank > 0:
        missing = " or ".join(KIND_LABELS[k] for k in site_kinds[:chosen_rank])
        reason = f"no {missing} with space within {limit} km; {reason}"
    alternatives = [
        {"site_id": alt_id, "distance_km": round(alt_distance, 1)}
        for _, alt_distance, alt_id, _ in usable[1 : 1 + MAX_ALTERNATIVES]
    ]
    return Choice(
        site_id=site_id,
        distance_km=round(distance, 2),
        alternatives=alternatives,
        reason=reason,
    )


def _km(value: float) -> str:
    return f"{float(value):.1f}"


def free_places_by_site(*, horizons: Iterable[int]) -> dict[int, dict[int, int]]:
    """For each horizon (days), free places per active site in slots from now until that many
    days ahead, leaving out cancelled sessions. One aggregate query over (site, day)."""
    horizons = sorted(set(horizons))
    if not horizons:
        return {}
    today = timezone.localdate()
    per_day = (
        Slot.objects.filter(
            starts_at__gte=timezone.now(),
            session__date__lte=today + datetime.timedelta(days=horizons[-1]),
            session__is_cancelled=False,
            session__site__is_active=True,
        )
        .values_list("session__site_id", "session__date")
        .annotate(free=Sum(F("capacity") - F("booked")))
        .order_by()
    )
    result: dict[int, dict[int, int]] = {horizon: defaultdict(int) for horizon in horizons}
    for site_id, day, free in per_day:
        ahead = (day - today).days
        for horizon in horizons:
            if ahead <= horizon:
                result[horizon][site_id] += free
    return {horizon: dict(places) for horizon, places in result.items()}


def active_site_grid() -> SiteGrid:
    return SiteGrid(
        SitePoint(pk, kind, latitude, longitude)
        for pk, kind, latitude, longitude in VaccinationSite.objects.filter(
            is_active=True, latitude__isnull=False, longitude__isnull=False
        ).values_list("pk", "kind", "latitude", "longitude")
    )


@dataclass
class RoutingSummary:
    workers: int
    routed: int
    unrouted: int
    districts: int
    routed_at: datetime.datetime


def _first_authority() -> Coalesce:
    """The local authority of the worker's first current employment's employer; 0 for none
    (so that it can be a join key)."""
    return Coalesce(
        Subquery(
            Employment.objects.filter(worker=OuterRef("pk"), status=Employment.Status.ACTIVE)
            .order_by("created_at", "pk")
            .values("employer__local_authority_id")[:1]
        ),
        Value(NO_AUTHORITY),
        output_field=BigIntegerField(),
    )


def _district() -> Case:
    """The district of a stored postcode: normalised postcodes have it before the space."""
    return Case(
        When(
            home_postcode__contains=" ",
            then=Substr("home_postcode", 1, StrIndex("home_postcode", Value(" ")) - 1),
        ),
        default=Upper("home_postcode"),
        output_field=CharField(),
    )


def _selections(
    *, worker_ids: Sequence[int] | None, local_authority_id: int | None, all_workers: bool
) -> list:
    workers = Worker.objects.order_by().annotate(
        routing_authority=_first_authority(), district=_district()
    )
    if all_workers and connection.features.can_distinct_on_fields:
        # For everyone, one ordered join with DISTINCT ON is several times faster than a
        # subquery per worker: each worker's first current employment, or none.
        current = FilteredRelation(
            "employments", condition=Q(employments__status=Employment.Status.ACTIVE)
        )
        selections = [
            Worker.objects.alias(current=current)
            .annotate(
                routing_authority=Coalesce(
                    F("current__employer__local_authority_id"),
                    Value(NO_AUTHORITY),
                    output_field=BigIntegerField(),
                ),
                district=_district(),
            )
            .order_by("pk", "current__created_at", "current__pk")
            .distinct("pk")
        ]
    elif all_workers:
        selections = [workers]
    elif local_authority_id is not None:
        in_area = Employment.objects.filter(
            worker=OuterRef("pk"),
            status=Employment.Status.ACTIVE,
            employer__local_authority_id=local_authority_id,
        )
        selections = [workers.filter(Exists(in_area), routing_authority=local_authority_id)]
    else:
        ids = sorted(set(worker_ids or ()))
        selections = [
            workers.filter(pk__in=ids[start : start + WORKER_ID_CHUNK])
            for start in range(0, len(ids), WORKER_ID_CHUNK)
        ]
    return [
        selection.values_list("pk", "routing_authority", "district") for selection in selections
    ]


def district_of(postcode: str) -> str:
    """The district of a stored postcode, as ``_district`` computes it in SQL."""
    district, space, _ = postcode.partition(" ")
    return district if space else postcode.upper()


def locate_district(district: str) -> tuple[float, float] | None:
    try:
        return postcodes.locate(district)
    except ValidationError:
        return None


@transaction.atomic
def route_workers(
    *,
    worker_ids: Sequence[int] | None = None,
    local_authority_id: int | None = None,
    all_workers: bool = False,
    actor=None,
) -> RoutingSummary:
    """Route the given workers, or every worker of one local authority, or everyone, and
    replace their stored routes.

    The workers never travel to Python: the database lists each worker's authority and
    district in a temporary table, Python chooses a site once per (policy, district) with the
    grid index, and one INSERT … SELECT fans the choices out to every worker. The number of
    queries does not grow with the number of workers (except one per 10,000 ids when a list
    of workers is given)."""
    if sum([worker_ids is not None, local_authority_id is not None, all_workers]) != 1:
        raise ValueError("Give exactly one of worker_ids, local_authority_id or all_workers.")
    routed_at = timezone.now()
    selections = _selections(
        worker_ids=worker_ids, local_authority_id=local_authority_id, all_workers=all_workers
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Sorting 1.5 million workers for DISTINCT ON and hashing them for the joins
            # spills to disk with the default 4 MB; LOCAL lasts until this transaction ends.
            cursor.execute(f"SET LOCAL work_mem = '{ROUTING_WORK_MEM}'")
        # 1. Who is being routed: (worker, authority, district), in the database.
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_WORKERS} "
            "(worker_id bigint, authority_id bigint, district varchar(10))"
        )
        for selection in selections:
            sql, params = selection.query.sql_with_params()
            cursor.execute(
                f"INSERT INTO {_WORKERS} (worker_id, authority_id, district) {sql}", params
            )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {_WORKERS}")  # temporary tables get no automatic statistics
        cursor.execute(
            f"SELECT authority_id, district, COUNT(*) FROM {_WORKERS} "  # noqa: S608
            "GROUP BY authority_id, district"
        )
        group_counts = cursor.fetchall()

        # 2. Decide once per policy and district.
        authorities = {authority for authority, _, _ in group_counts}
        districts = {district for _, district, _ in group_counts}
        policies = RoutingPolicy.for_authorities(
            {None if pk == NO_AUTHORITY else pk for pk in authorities}
        )
        policy_keys: dict[tuple, int] = {}
        authority_policy = {}
        for authority in authorities:
            policy = policies[None if authority == NO_AUTHORITY else authority]
            signature = (
                tuple(policy.site_kinds),
                float(policy.max_distance_km),
                policy.horizon_days,
            )
            authority_policy[authority] = policy_keys.setdefault(signature, len(policy_keys))
        choices = _decide(policy_keys=policy_keys, districts=districts)

        # 3. Fan the choices out to every worker, replacing their old routes.
        load_temporary_table(
            cursor,
            f"{_POLICIES} (authority_id bigint, policy_key integer)",
            ["authority_id", "policy_key"],
            list(authority_policy.items()),
        )
        load_temporary_table(
            cursor,
            f"{_CHOICES} (policy_key integer, district varchar(10), site_id bigint, "
            f"alternatives {'jsonb' if connection.vendor == 'postgresql' else 'text'}, "
            "distance_km double precision, reason varchar(200), is_unrouted boolean)",
            [
                "policy_key",
                "district",
                "site_id",
                "alternatives",
                "distance_km",
                "reason",
                "is_unrouted",
            ],
            [
                (
                    policy_key,
                    district,
                    choice.site_id,
                    json.dumps(choice.alternatives, separators=(",", ":")),
                    choice.distance_km,
                    choice.reason,
                    choice.is_unrouted,
                )
                for (policy_key, district), choice in choices.items()
            ],
        )
        route_table = Route._meta.db_table
        if all_workers and connection.vendor == "postgresql":
            # Every route is being replaced: emptying the table is far cheaper than deleting
            # 1.5 million rows one by one (readers of routes wait until this run commits).
            cursor.execute(f"TRUNCATE {route_table}")
        else:
            cursor.execute(
                f"DELETE FROM {route_table} WHERE worker_id IN "  # noqa: S608
                f"(SELECT worker_id FROM {_WORKERS})"
            )
        cursor.execute(
            f"INSERT INTO {route_table} (worker_id, local_authority_id, site_id, alternatives, "  # noqa: S608
            "distance_km, reason, is_unrouted, routed_at) "
            f"SELECT w.worker_id, NULLIF(w.authority_id, {NO_AUTHORITY}), c.site_id, "
            "c.alternatives, c.distance_km, c.reason, c.is_unrouted, %s "
            f"FROM {_WORKERS} w JOIN {_POLICIES} p ON p.authority_id = w.authority_id "
            f"JOIN {_CHOICES} c ON c.policy_key = p.policy_key AND c.district = w.district",
            [connection.ops.adapt_datetimefield_value(routed_at)],
        )
        for table in (_WORKERS, _POLICIES, _CHOICES):
            cursor.execute(f"DROP TABLE {table}")

    workers = sum(count for _, _, count in group_counts)
    unrouted = sum(
        count
        for authority, district, count in group_counts
        if choices[(authority_policy[authority], district)].is_unrouted
    )
    summary = RoutingSummary(
        workers=workers,
        routed=workers - unrouted,
        unrouted=unrouted,
        districts=len(districts),
        routed_at=routed_at,
    )
    audit.record(
        verb="workers_routed",
        actor=actor,
        object_type="bookings.route",
        object_id=local_authority_id or "",
        details={
            "mode": "all" if all_workers else "area" if local_authority_id else "workers",
            "workers": summary.workers,
            "routed": summary.routed,
            "unrouted": summary.unrouted,
            "districts": summary.districts,
        },
    )
    return summary


def queue_area_routing(*, local_authority_id: int, actor=None) -> None:
    """Route every worker of one local authority in the background, once the caller's
    transaction commits."""
    from bookings.tasks import route_area_workers_task

    actor_id = actor.pk if actor is not None else None
    transaction.on_commit(lambda: route_area_workers_task.delay(local_authority_id, actor_id))


def _decide(*, policy_keys: dict[tuple, int], districts: set[str]) -> dict[tuple, Choice]:
    """The choice for every (policy key, district)."""
    grid = active_site_grid()
    free = free_places_by_site(horizons={horizon for _, _, horizon in policy_keys})
    places = {district: locate_district(district) for district in districts}
    choices = {}
    for (site_kinds, max_distance_km, horizon_days), policy_key in policy_keys.items():
        for district in districts:
            location = places[district]
            if location is None:
                choices[(policy_key, district)] = Choice(
                    site_id=None,
                    distance_km=None,
                    reason="home postcode district not recognised: ask the employer to check it",
                )
                continue
            choices[(policy_key, district)] = choose_site(
                grid=grid,
                latitude=location[0],
                longitude=location[1],
                site_kinds=site_kinds,
                max_distance_km=max_distance_km,
                free_places=free.get(horizon_days, {}),
            )
    return choices


def unrouted_routes(user):
    """The workers in the user's scope with no site in reach, for the lead to act on."""
    return (
        Route.objects.visible_to(user)
        .filter(is_unrouted=True)
        .select_related("worker")
        .order_by("worker__last_name", "worker__first_name", "worker_id")
    )
