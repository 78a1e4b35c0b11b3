"""``manage.py bench eligibility``: how fast the rules assess employments, and one bulk
approval of 20,000 workers from the local lead's queue against deciding the same workers one
by one through the ORM; a second, ten times smaller approval shows whether the approval's
queries depend on its size. Everything it creates is rolled back at the end."""

from __future__ import annotations

import datetime
import os
import random
import re
import time

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.models import LocalAuthority, User
from portal.roles import Role
from workers import services
from workers.models import EligibilityDecision, Employment, Worker
from workers.rules import Assessor

SETTINGS = ["domiciliary_care", "care_home_older_adults", "supported_living", "day_centre"]
ROLES = ["care_worker", "support_worker", "senior_care_worker", "registered_nurse"]


class _RollBack(Exception):
    pass


def add_arguments(parser) -> None:
    parser.add_argument("--employments", type=int, default=200_000)
    parser.add_argument("--approve", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2021)


def _create(total: int, approve: int, small: int, rng: random.Random) -> tuple[int, int, list[int]]:
    """``total`` employments in one authority: one employer with ``approve`` clear cases
    (the bulk approval's set), another with ``small`` (the smaller approval's), the rest
    spread over employers of 500 with mixed facts. Returns the two employers' ids and the
    ids of every employment made."""
    from django.apps import apps

    Employer = apps.get_model("employers", "Employer")  # noqa: N806 (a model class)
    authority = LocalAuthority.objects.get(gss_code="E09000033")
    big = Employer.objects.create(
        name="Bench big employer",
        kind="cqc_location",
        postcode="SW1A 1AA",
        local_authority=authority,
        status="approved",
    )
    smaller = Employer.objects.create(
        name="Bench small employer",
        kind="cqc_location",
        postcode="SW1A 1AA",
        local_authority=authority,
        status="approved",
    )
    others = Employer.objects.bulk_create(
        Employer(
            name=f"Bench employer {index}",
            kind="cqc_location",
            postcode="SW1A 1AA",
            local_authority=authority,
            status="approved" if index % 10 else "pending",
        )
        for index in range(max(1, (total - approve - small) // 500 + 1))
    )
    now = timezone.now()
    born = datetime.date(1980, 4, 3)
    made: list[int] = []
    for start in range(0, total, 10_000):
        size = min(10_000, total - start)
        workers = Worker.objects.bulk_create(
            Worker(
                first_name=f"Bench{start + i}",
                last_name="Worker",
                date_of_birth=born,
                home_postcode="SW1A 2AA",
                match_key=f"bench|{start + i}",
                created_at=now,
            )
            for i in range(size)
        )
        rows = []
        for i, worker in enumerate(workers):
            number = start + i
            clear = number < approve + small
            employer = big if number < approve else smaller
            rows.append(
                Employment(
                    worker=worker,
                    employer=employer if clear else others[number % len(others)],
                    staff_reference=f"B{number}",
                    job_role=ROLES[number % 4] if clear else rng.choice(ROLES + ["other"]),
                    work_setting=SETTINGS[number % 4] if clear else rng.choice(SETTINGS),
                    employment_type="employed" if clear else rng.choice(["employed", "volunteer"]),
                    direct_contact=True if clear else rng.random() < 0.9,
                    email=f"bench{number}@example.org",
                    created_at=now,
                )
            )
        made += [employment.pk for employment in Employment.objects.bulk_create(rows)]
    return big.pk, smaller.pk, made


def _one_by_one(employment_ids: list[int], lead: User) -> float:
    """The naive way: read, assess, write the assessment, then the lead's decision, per row."""
    rule_set = services.current_rule_set()
    assessor = Assessor(rule_set.rules)
    started = time.perf_counter()
    for employment_id in employment_ids:
        employment = Employment.objects.select_related("employer").get(pk=employment_id)
        facts = services.employment_facts(employment)
        outcome, reasons = assessor(facts)
        EligibilityDecision.objects.create(
            employment=employment,
            outcome=outcome,
            reasons=list(reasons),
            rule_set_version=rule_set.version,
            snapshot=facts.as_dict(),
        )
        decision = EligibilityDecision.objects.create(
            employment=employment,
            outcome="eligible",
            reasons=["Approved"],
            rule_set_version=rule_set.version,
            source="lead",
            decided_by=lead,
            snapshot=facts.as_dict(),
            verification_code=services.new_verification_codes(1)[0],
        )
        employment.current_decision = decision
        employment.eligibility_outcome = "eligible"
        employment.eligibility_decided = True
        employment.save()
    return time.perf_counter() - started


def _bulk_approve(client: Client, employer_id: int, expected: int) -> tuple[float, float, int]:
    """Approve an employer's assessed-eligible workers from the queue, as a lead does: the
    confirmation page, then the POST it binds. Returns (seconds, CPU seconds, queries) of the
    POST."""
    url = reverse("workers:bulk", args=["approve"]) + f"?employer={employer_id}&outcome=eligible"
    page = client.get(url).content.decode()
    shown = re.search(r"Approve as eligible: (\d+) worker", page)
    if not shown or int(shown.group(1)) != expected:
        raise RuntimeError("the confirmation page does not show the whole set")
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', page).group(1)
    with CaptureQueriesContext(connection) as queries:
        started, cpu = time.perf_counter(), time.process_time()
        response = client.post(url, {"digest": digest})
        seconds = time.perf_counter() - started
        cpu = round(time.process_time() - cpu, 3)
    approved = Employment.objects.filter(employer_id=employer_id, eligibility_decided=True)
    if response.status_code != 302 or approved.count() != expected:
        raise RuntimeError("the bulk approval did not approve the whole set")
    return seconds, cpu, len(queries.captured_queries)


def _analyze() -> None:
    """Refresh the planner's statistics: everything here happens in one transaction, which
    autovacuum never sees, and plans made for empty tables would time the planner instead."""
    if connection.vendor == "postgresql":
        from django.apps import apps

        employer = apps.get_model("employers", "Employer")
        tables = [employer, Worker, Employment, EligibilityDecision]
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(model._meta.db_table for model in tables))


def run(options: dict, stdout) -> dict:
    """Assessment rate and one bulk approval of 20,000 from the queue against a baseline."""
    total, approve = options["employments"], options["approve"]
    if approve + max(1, approve // 10) > total:
        raise ValueError("--employments must be more than --approve and a tenth of it")
    rng = random.Random(options["seed"])
    figures: dict = {}
    try:
        with transaction.atomic():
            started = time.perf_counter()
            small = max(1, approve // 10)
            big_id, small_id, created_ids = _create(total, approve, small, rng)
            big_ids = list(
                Employment.objects.filter(employer_id=big_id)
                .order_by("pk")
                .values_list("pk", flat=True)
            )

            stdout.write(f"created {total} employments in {time.perf_counter() - started:.1f} s")
            _analyze()

            started, cpu = time.perf_counter(), time.process_time()
            # Only what this run made: staff other benchmarks keep in the same database (the
            # import bench's million existing workers, say) are not part of this measurement.
            assessed = services.assess_employments(employment_ids=created_ids)
            seconds = time.perf_counter() - started
            figures["assess_cpu_seconds"] = round(time.process_time() - cpu, 3)
            _analyze()
            figures["employments"] = total
            figures["assessed"] = assessed
            figures["assess_seconds"] = round(seconds, 3)
            figures["assessments_per_s"] = round(assessed / seconds)
            stdout.write(f"assessed {assessed} in {seconds:.2f} s")
            stdout.flush()

            lead = User.objects.create_user(
                email="bench-lead@example.org",
                role=Role.LOCAL_LEAD,
                local_authority=LocalAuthority.objects.get(gss_code="E09000033"),
            )
            from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

            TOTP.activate(lead, generate_totp_secret())

            client = Client()
            client.force_login(lead)
            seconds, cpu, queries = _bulk_approve(client, big_id, len(big_ids))
            figures["bulk_approve_cpu_seconds"] = cpu
            figures["bulk_approved"] = len(big_ids)
            figures["bulk_approve_seconds"] = round(seconds, 3)
            figures["bulk_approve_queries"] = queries
            stdout.write(f"bulk approval of {len(big_ids)}: {seconds:.2f} s, {queries} queries")
            bulk_seconds = seconds

            seconds, _cpu, queries = _bulk_approve(client, small_id, small)
            figures["bulk_approved_small"] = small
            figures["bulk_approve_seconds_small"] = round(seconds, 3)
            figures["bulk_approve_queries_small"] = queries
            figures["queries_independent_of_size"] = queries == figures["bulk_approve_queries"]
            stdout.write(f"bulk approval of {small}: {seconds:.2f} s, {queries} queries")

            # The baseline runs last, in a savepoint rolled back: its 40,000 row-by-row writes
            # leave dead row versions inside this one transaction (no vacuum can clear them)
            # that slowed a later approval of the same rows fivefold, timing the leftovers
            # rather than the approval.
            with transaction.atomic():
                figures["baseline_seconds"] = round(_one_by_one(big_ids, lead), 3)
                transaction.set_rollback(True)
            stdout.write(f"one by one: {figures['baseline_seconds']:.2f} s for {len(big_ids)}")
            # Fair comparison: the baseline assessed too, so add the set's share of assessing.
            bulk_total = bulk_seconds + len(big_ids) / figures["assessments_per_s"]
            figures["ratio"] = round(figures["baseline_seconds"] / bulk_total, 1)
            figures["ratio_approval_only"] = round(figures["baseline_seconds"] / bulk_seconds, 1)
            figures["load_average_1m"] = round(os.getloadavg()[0], 2)
            raise _RollBack
    except _RollBack:
        stdout.write("rolled back everything the benchmark created")
    return figures


BENCHMARKS = {"eligibility": (add_arguments, run)}
