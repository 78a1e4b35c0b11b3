"""Load the demo data a newcomer signs in with: Westminster and its local lead, employers and
their staff, one vaccination site of each kind with sessions for the next 14 days, an NHS team
member and an administrator. Safe to run again: it updates the same rows, never duplicates."""

import datetime
import os

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import decrypt, encrypt
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from bookings.models import Session, SiteStaffMembership, Slot, VaccinationSite
from employers.models import Employer, EmployerMembership
from portal import postcodes
from portal.models import LocalAuthority, User
from portal.roles import Role
from workers import reference
from workers.models import Employment, ReferenceValue, Worker
from workers.validation import match_key

# Published on purpose (README, seed output): these accounts exist only on laptops.
DEFAULT_DEMO_PASSWORD = "carevax-demo-password"  # noqa: S105
# Base32 secret shared by every demo user who needs multi-factor authentication, so one entry
# in an authenticator app (or `manage.py demo_totp EMAIL`) gives their codes. Demo data only:
# seed_demo refuses to run outside DEBUG unless forced.
DEMO_TOTP_SECRET = "CAREVAXDEMOTOTPSECRETFORLAPTOPS2"  # noqa: S105
LONDON_REGION = "E12000007"
WESTMINSTER = "E09000033"
SESSION_DAYS = 14

# email, full name, role, scope key (see _scope), needs MFA
DEMO_USERS = [
    ("lead@carevax.example", "Priya Shah", Role.LOCAL_LEAD, "westminster", True),
    ("carehome@carevax.example", "Tom Okafor", Role.EMPLOYER, "care_home", False),
    ("homecare@carevax.example", "Grace Lewis", Role.EMPLOYER, "home_care", False),
    ("pending@carevax.example", "Sam Patel", Role.EMPLOYER, "pending", False),
    ("hub@carevax.example", "Dr Helen Ward", Role.SITE_STAFF, "hospital_hub", False),
    ("centre@carevax.example", "Mark Evans", Role.SITE_STAFF, "vaccination_centre", False),
    ("pharmacy@carevax.example", "Aisha Begum", Role.SITE_STAFF, "local_service", False),
    ("nhs.london@carevax.example", "James Taylor", Role.NHS_TEAM, "london", True),
    ("admin@carevax.example", "Carevax Administrator", Role.ADMINISTRATOR, "", True),
]

EMPLOYERS = {
    "care_home": {
        "name": "Maple Court Care Home",
        "kind": Employer.Kind.CQC_LOCATION,
        "cqc_location_id": "1-100000001",
        "address_line_1": "12 Elgin Avenue",
        "town": "London",
        "postcode": "W9 3QP",
        "status": Employer.Status.APPROVED,
    },
    "home_care": {
        "name": "Paddington Home Care Agency",
        "kind": Employer.Kind.AGENCY,
        "cqc_location_id": None,
        "address_line_1": "3 Praed Street",
        "town": "London",
        "postcode": "W2 1NJ",
        "status": Employer.Status.APPROVED,
    },
    "pending": {
        "name": "Little Venice Day Centre",
        "kind": Employer.Kind.NON_REGISTERED,
        "cqc_location_id": None,
        "address_line_1": "40 Warwick Avenue",
        "town": "London",
        "postcode": "W9 2PU",
        "status": Employer.Status.PENDING,
    },
}

# employer key, first name, last name, date of birth, NHS number, home postcode, job role,
# work setting, employment type, direct contact
WORKERS = [
    ("care_home", "Olivia", "Brown", "1985-02-14", "9434765919", "W9 1AB", "Care worker",
     "Care home for older adults", Employment.EmploymentType.EMPLOYED, True),
    ("care_home", "Mohammed", "Khan", "1979-11-02", "9434765870", "NW8 7AB", "Registered nurse",
     "Care home for older adults", Employment.EmploymentType.EMPLOYED, True),
    ("care_home", "Sofia", "Rossi", "1992-07-23", "", "W2 4XY", "Senior care worker",
     "Care home for older adults", Employment.EmploymentType.BANK, True),
    ("care_home", "Daniel", "Murphy", "1968-05-30", "", "W9 3RT", "Administrative or office staff",
     "Care home for older adults", Employment.EmploymentType.EMPLOYED, False),
    ("home_care", "Chloe", "Adams", "1990-09-09", "9434765846", "W2 5EJ", "Care worker",
     "Domiciliary care (home care)", Employment.EmploymentType.EMPLOYED, True),
    ("home_care", "Kwame", "Mensah", "1983-03-17", "", "SW1V 2SA", "Support worker",
     "Domiciliary care (home care)", Employment.EmploymentType.AGENCY, True),
    ("home_care", "Ewa", "Nowak", "1995-12-01", "", "W9 2LS", "Reablement worker",
     "Reablement service", Employment.EmploymentType.EMPLOYED, True),
    # The same person as the care home's Sofia Rossi: one worker, two employments.
    ("home_care", "Sofia", "Rossi", "1992-07-23", "", "W2 4XY", "Care worker",
     "Domiciliary care (home care)", Employment.EmploymentType.AGENCY, True),
]  # fmt: skip

SITES = {
    "hospital_hub": {
        "name": "St Mary's Hospital hub",
        "kind": VaccinationSite.Kind.HOSPITAL_HUB,
        "ods_code": "DEMOHUB01",
        "address": "Praed Street, London",
        "postcode": "W2 1NY",
        "accessibility_notes": "Step-free entrance on South Wharf Road. Hearing loop at reception.",
    },
    "vaccination_centre": {
        "name": "Lord's Cricket Ground vaccination centre",
        "kind": VaccinationSite.Kind.VACCINATION_CENTRE,
        "ods_code": "DEMOVC01",
        "address": "St John's Wood Road, London",
        "postcode": "NW8 8QN",
        "accessibility_notes": "Wheelchair access through the Grace Gate. Seating while you wait.",
    },
    "local_service": {
        "name": "Marylebone Health Centre (local vaccination service)",
        "kind": VaccinationSite.Kind.LOCAL_SERVICE,
        "ods_code": "DEMOLVS01",
        "address": "17 Marylebone Road, London",
        "postcode": "NW1 5LT",
        "accessibility_notes": "Lift to the first floor clinic.",
    },
}
# (start, end) of each day's sessions; 15-minute slots, capacity per slot by site kind.
SESSION_TIMES = [
    (datetime.time(9, 0), datetime.time(12, 30)),
    (datetime.time(13, 30), datetime.time(17, 0)),
]
SLOT_MINUTES = 15
CAPACITY = {"hospital_hub": 4, "vaccination_centre": 6, "local_service": 2}


def demo_password() -> str:
    return os.environ.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD


def reference_code(kind: str, wording: str) -> str:
    code = reference.match(kind, wording)
    if code is None:
        raise CommandError(f"The demo data uses {wording!r}, which is not a known {kind}.")
    return code


class Command(BaseCommand):
    help = (
        "Load demo data (idempotent) and print the demo sign-ins. "
        "Refuses to run when DEBUG is off unless --force is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though DEBUG is off (creates accounts with a published password).",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts with a published password and MFA secret, so it "
                "only runs when DEBUG is on. Use --force if you really mean to load demo data "
                "into this database."
            )
        with transaction.atomic():
            westminster = LocalAuthority.objects.get(gss_code=WESTMINSTER)
            employers = self.seed_employers(westminster)
            self.seed_workers(employers)
            sites = self.seed_sites(westminster)
            self.seed_sessions(sites)
            scopes = {"westminster": westminster, "london": LONDON_REGION, **employers, **sites}
            self.seed_users(scopes)
        self.print_summary()

    # --- organisations ---------------------------------------------------------------------

    def seed_employers(self, westminster: LocalAuthority) -> dict[str, Employer]:
        employers = {}
        for key, fields in EMPLOYERS.items():
            employer, _ = Employer.objects.update_or_create(
                name=fields["name"],
                local_authority=westminster,
                defaults={**fields, "contact_email": f"{key.replace('_', '')}@carevax.example"},
            )
            if employer.is_approved and employer.decided_at is None:
                employer.decided_at = timezone.now()
                employer.save(update_fields=["decided_at"])
            employers[key] = employer
        return employers

    def seed_workers(self, employers: dict[str, Employer]) -> None:
        for row in WORKERS:
            (key, first, last, born, nhs_number, postcode, job_role, setting, kind, contact) = row
            date_of_birth = datetime.date.fromisoformat(born)
            identity = {
                "first_name": first,
                "last_name": last,
                "date_of_birth": date_of_birth,
                "nhs_number": nhs_number or None,
                "home_postcode": postcode,
            }
            key_of_person = match_key(first, last, date_of_birth, postcode)
            worker, _ = Worker.objects.update_or_create(match_key=key_of_person, defaults=identity)
            Employment.objects.update_or_create(
                worker=worker,
                employer=employers[key],
                defaults={
                    # What the employer supplied (docs/decisions/0011): here, the same.
                    **identity,
                    "match_key": key_of_person,
                    "job_role": reference_code(ReferenceValue.Kind.JOB_ROLE, job_role),
                    "work_setting": reference_code(ReferenceValue.Kind.WORK_SETTING, setting),
                    "employment_type": kind,
                    "direct_contact": contact,
                    "email": f"{first}.{last}@carevax.example".lower(),
                    "staff_reference": f"{key[:2].upper()}{worker.pk:04d}",
                },
            )

    def seed_sites(self, westminster: LocalAuthority) -> dict[str, VaccinationSite]:
        sites = {}
        for key, fields in SITES.items():
            latitude, longitude = postcodes.locate(fields["postcode"])
            site, _ = VaccinationSite.objects.update_or_create(
                ods_code=fields["ods_code"],
                defaults={**fields, "latitude": latitude, "longitude": longitude},
            )
            site.local_authorities.set([westminster])
            sites[key] = site
        return sites

    def seed_sessions(self, sites: dict[str, VaccinationSite]) -> None:
        today = timezone.localdate()
        zone = timezone.get_current_timezone()
        for key, site in sites.items():
            for offset in range(SESSION_DAYS):
                day = today + datetime.timedelta(days=offset)
                for start, end in SESSION_TIMES:
                    session, _ = Session.objects.get_or_create(
                        site=site,
                        date=day,
                        start_time=start,
                        defaults={
                            "end_time": end,
                            "slot_minutes": SLOT_MINUTES,
                            "capacity_per_slot": CAPACITY[key],
                        },
                    )
                    starts = datetime.datetime.combine(day, start, tzinfo=zone)
                    finish = datetime.datetime.combine(day, end, tzinfo=zone)
                    slots = []
                    while starts + datetime.timedelta(minutes=SLOT_MINUTES) <= finish:
                        slots.append(
                            Slot(session=session, starts_at=starts, capacity=CAPACITY[key])
                        )
                        starts += datetime.timedelta(minutes=SLOT_MINUTES)
                    Slot.objects.bulk_create(slots, ignore_conflicts=True)

    # --- people -------------------------------------------------------------------------------

    def seed_users(self, scopes: dict) -> None:
        # One hash for all demo accounts: hashing is deliberately slow, and they share it anyway.
        password = make_password(demo_password())
        for email, full_name, role, scope_key, needs_mfa in DEMO_USERS:
            scope = scopes.get(scope_key)
            user, _ = User.objects.update_or_create(
                email=email,
                defaults={
                    "full_name": full_name,
                    "role": role,
                    "local_authority": scope if role == Role.LOCAL_LEAD else None,
                    "region_code": scope if role == Role.NHS_TEAM else "",
                    "is_staff": role == Role.ADMINISTRATOR,
                    "is_superuser": role == Role.ADMINISTRATOR,
                    "is_active": True,
                    "password": password,
                },
            )
            EmailAddress.objects.update_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            if role == Role.EMPLOYER:
                EmployerMembership.objects.get_or_create(user=user, employer=scope)
            if role == Role.SITE_STAFF:
                SiteStaffMembership.objects.update_or_create(user=user, defaults={"site": scope})
            if needs_mfa:
                self.enrol_demo_totp(user)

    def enrol_demo_totp(self, user: User) -> None:
        existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
        if existing is None:
            Authenticator.objects.create(
                user=user,
                type=Authenticator.Type.TOTP,
                data={"secret": encrypt(DEMO_TOTP_SECRET)},
            )
        elif decrypt(existing.data["secret"]) != DEMO_TOTP_SECRET:
            existing.data = {"secret": encrypt(DEMO_TOTP_SECRET)}
            existing.save(update_fields=["data"])

    # --- what to tell the newcomer ------------------------------------------------------------

    def print_summary(self) -> None:
        password_note = (
            "from DEMO_PASSWORD" if os.environ.get("DEMO_PASSWORD") else DEFAULT_DEMO_PASSWORD
        )
        write = self.stdout.write
        write("")
        write(self.style.SUCCESS(f"Demo data is ready. Open {settings.SITE_URL}/"))
        write("")
        rows = [("Role", "Email", "Scope", "MFA")]
        for email, _name, role, scope_key, needs_mfa in DEMO_USERS:
            rows.append(
                (Role(role).label, email, _scope_label(scope_key), "yes" if needs_mfa else "")
            )
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for index, row in enumerate(rows):
            write(
                "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            )
            if index == 0:
                write("  " + "  ".join("-" * width for width in widths))
        write("")
        write(f"Password for every demo account: {password_note}")
        write(
            "Accounts marked MFA ask for a 6-digit code after the password. Get the current code "
            "with:\n    .venv/bin/python manage.py demo_totp EMAIL\n"
            f"or add the secret {DEMO_TOTP_SECRET} to an authenticator app."
        )


def _scope_label(scope_key: str) -> str:
    if scope_key in EMPLOYERS:
        return EMPLOYERS[scope_key]["name"]
    if scope_key in SITES:
        return SITES[scope_key]["name"]
    return {"westminster": "Westminster", "london": "London region", "": "everything"}[scope_key]
