"""``manage.py bench eligibility``: how fast the rules assess employments, and one bulk
approval of 20,000 workers from the local lead's queue against deciding the same workers one
by one through the ORM. Everything it creates is rolled back at the end."""

from __future__ import annotations

import datetime
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


def _create(total: int, approve: int, rng: random.Random) -> tuple[int, list[int]]:
    """``total`` employments in one authority: one employer with ``approve`` clear cases
    (the bulk approval's set), the rest spread over employers of 500 with mixed facts."""
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
    others = Employer.objects.bulk_create(
        Employer(
            name=f"Bench employer {index}",
            kind="cqc_location",
            postcode="SW1A 1AA",
            local_authority=authority,
            status="approved" if index % 10 else "pending",
        )
        for index in range(max(1, (total - approve) // 500 + 1))
    )
    now = timezone.now()
    born = datetime.date(1980, 4, 3)
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
            clear = number < approve
            rows.append(
                Employment(
                    worker=worker,
                    employer=big if clear else others[number % len(others)],
                    staff_reference=f"B{number}",
                    job_role=ROLES[number % 4] if clear else rng.choice(ROLES + ["other"]),
                    work_setting=SETTINGS[number % 4] if clear else rng.choice(SETTINGS),
                    employment_type="employed" if clear else rng.choice(["employed", "volunteer"]),
                    direct_contact=True if clear else rng.random() < 0.9,
                    email=f"bench{number}@example.org",
                    created_at=now,
                )
            )
        Employment.objects.bulk_create(rows)
    ids = list(Employment.objects.filter(employer=big).order_by("pk").values_list("pk", flat=True))
    return big.pk, ids


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


def _analyze() -> None:
    """Refresh the planner's statistics: everything here happens in one transaction, which
    autovacuum never sees, and plans made for empty tables would time the planner instead."""
    if connection.vendor == "postgresql":
        tables = [Worker, Employment, EligibilityDecision]
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(model._meta.db_table for model in tables))


def run(options: dict, stdout) -> dict:
    """Assessment rate and one bulk approval of 20,000 from the queue against a baseline."""
    total, approve = options["employments"], options["approve"]
    if approve > total:
        raise ValueError("--approve cannot be more than --employments")
    rng = random.Random(options["seed"])
    figures: dict = {}
    try:
        with transaction.atomic():
            started = time.perf_counter()
            big_id, big_ids = _create(total, approve, rng)
            stdout.write(f"created {total} employments in {time.perf_counter() - started:.1f} s")
            _analyze()

            started, cpu = time.perf_counter(), time.process_time()
            assessed = services.assess_employments()
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

            with transaction.atomic():
                figures["baseline_seconds"] = round(_one_by_one(big_ids, lead), 3)
                transaction.set_rollback(True)
            stdout.write(f"one by one: {figures['baseline_seconds']:.2f} s for {len(big_ids)}")

            client = Client()
            client.force_login(lead)
            url = reverse("workers:bulk", args=["approve"]) + f"?employer={big_id}&outcome=eligible"
            page = client.get(url).content.decode()
            shown = re.search(r"Approve as eligible: (\d+) worker", page)
            if not shown or int(shown.group(1)) != len(big_ids):
                raise RuntimeError("the confirmation page does not show the whole set")
            digest = re.search(r'name="digest" value="([0-9a-f]+)"', page).group(1)
            with CaptureQueriesContext(connection) as queries:
                started, cpu = time.perf_counter(), time.process_time()
                response = client.post(url, {"digest": digest})
                seconds = time.perf_counter() - started
                figures["bulk_approve_cpu_seconds"] = round(time.process_time() - cpu, 3)
            approved = Employment.objects.filter(employer_id=big_id, eligibility_decided=True)
            if response.status_code != 302 or approved.count() != len(big_ids):
                raise RuntimeError("the bulk approval did not approve the whole set")
            figures["bulk_approved"] = len(big_ids)
            figures["bulk_approve_seconds"] = round(seconds, 3)
            figures["bulk_approve_queries"] = len(queries.captured_queries)
            # Fair comparison: the baseline assessed too, so add the set's share of assessing.
            bulk_total = seconds + len(big_ids) / figures["assessments_per_s"]
            figures["ratio"] = round(figures["baseline_seconds"] / bulk_total, 1)
            figures["ratio_approval_only"] = round(figures["baseline_seconds"] / seconds, 1)
            stdout.write(
                f"bulk approval of {len(big_ids)}: {seconds:.2f} s, "
                f"{figures['bulk_approve_queries']} queries"
            )
            raise _RollBack
    except _RollBack:
        stdout.write("rolled back everything the benchmark created")
    return figures


BENCHMARKS = {"eligibility": (add_arguments, run)}
