"""factory-boy factories for the domain, and a helper that builds a user of any role."""

import datetime
from dataclasses import dataclass, field

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator

from bookings.models import (
    Booking,
    Campaign,
    Invitation,
    Message,
    Session,
    SiteStaffMembership,
    Slot,
    VaccinationSite,
)
from employers.models import Employer, EmployerMembership, StaffUpload
from portal import postcodes
from portal.models import LocalAuthority, User
from portal.roles import Role
from workers.models import EligibilityDecision, Employment, InformationRequest, Worker
from workers.validation import match_key

PASSWORD = "correct horse battery staple"


def local_authority(gss_code: str = "E09000033") -> LocalAuthority:
    return LocalAuthority.objects.get(gss_code=gss_code)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    full_name = factory.Faker("name", locale="en_GB")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        if create:
            obj.save()
            EmailAddress.objects.get_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )


class EmployerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employer

    name = factory.Sequence(lambda n: f"Care Home {n}")
    kind = Employer.Kind.CQC_LOCATION
    cqc_location_id = factory.Sequence(lambda n: f"1-{100000000 + n}")
    postcode = "SW1A 1AA"
    local_authority = factory.LazyFunction(local_authority)
    status = Employer.Status.APPROVED


class WorkerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Worker

    first_name = factory.Faker("first_name", locale="en_GB")
    last_name = factory.Faker("last_name", locale="en_GB")
    date_of_birth = datetime.date(1980, 4, 3)
    home_postcode = "SW1A 2AA"
    match_key = factory.LazyAttribute(
        lambda o: match_key(o.first_name, o.last_name, o.date_of_birth, o.home_postcode)
    )


class EmploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employment

    worker = factory.SubFactory(WorkerFactory)
    employer = factory.SubFactory(EmployerFactory)
    # What the employer supplied: by default, the person's record as it stands.
    first_name = factory.LazyAttribute(lambda o: o.worker.first_name)
    last_name = factory.LazyAttribute(lambda o: o.worker.last_name)
    date_of_birth = factory.LazyAttribute(lambda o: o.worker.date_of_birth)
    nhs_number = factory.LazyAttribute(lambda o: o.worker.nhs_number)
    home_postcode = factory.LazyAttribute(lambda o: o.worker.home_postcode)
    ethnicity = factory.LazyAttribute(lambda o: o.worker.ethnicity)
    match_key = factory.LazyAttribute(lambda o: o.worker.match_key)
    # Codes of workers/data reference values, as uploads store them.
    job_role = "care_worker"
    work_setting = "care_home_older_adults"
    direct_contact = True
    email = factory.Sequence(lambda n: f"worker{n}@example.org")


class VaccinationSiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VaccinationSite
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Hospital Hub {n}")
    kind = VaccinationSite.Kind.HOSPITAL_HUB
    ods_code = factory.Sequence(lambda n: f"R{n:04d}")
    postcode = "SE1 7EH"
    # Placed at the postcode district's centroid, as the site services do.
    latitude = factory.LazyAttribute(lambda o: postcodes.locate(o.postcode)[0])
    longitude = factory.LazyAttribute(lambda o: postcodes.locate(o.postcode)[1])

    @factory.post_generation
    def local_authorities(obj, create, extracted, **kwargs):
        if create:
            obj.local_authorities.set(extracted or [local_authority()])


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    site = factory.SubFactory(VaccinationSiteFactory)
    date = factory.LazyFunction(lambda: datetime.date.today() + datetime.timedelta(days=1))
    start_time = datetime.time(9, 0)
    end_time = datetime.time(12, 0)


class SlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Slot

    session = factory.SubFactory(SessionFactory)
    starts_at = factory.LazyAttribute(
        lambda o: datetime.datetime.combine(
            o.session.date, o.session.start_time, tzinfo=datetime.UTC
        )
    )
    capacity = 4


def enrol_totp(user: User) -> Authenticator:
    """Give ``user`` an authenticator app, as if they had scanned the QR code."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    return TOTP.activate(user, generate_totp_secret()).instance


def totp_code(user: User) -> str:
    """The code the user's authenticator app shows now, computed as a real app would."""
    return usable_totp_code(user.email)


def usable_totp_code(email: str, *, margin: float = 5.0) -> str:
    """A code allauth will accept when it arrives, as a careful person reads their app.

    allauth accepts only the current 30-second window and refuses a code already spent in it,
    so a code read just before its window closes, or one this account has spent already, would
    fail by the clock rather than by the code under test. Wait for the next window instead.
    """
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import normalize_user_code
    from django.core.cache import cache

    from demo.management.commands.demo_totp import current_code

    period = app_settings.TOTP_PERIOD
    user_id = User.objects.filter(email__iexact=email.strip()).values_list("id", flat=True).first()
    for _attempt in range(3):
        left = period - (time.time() % period)
        if left < margin:
            time.sleep(left + 0.2)
        code = current_code(email)
        spent = f"allauth.mfa.totp.used?user={user_id}&code={normalize_user_code(code)}"
        if not cache.get(spent):
            return code
        time.sleep(period - (time.time() % period) + 0.2)
    return current_code(email)


def totp_code_for_secret(secret: str) -> str:
    import time

    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def make_user(
    role: str,
    *,
    local_authority_obj: LocalAuthority | None = None,
    employer: Employer | None = None,
    site: VaccinationSite | None = None,
    region_code: str = "",
    mfa: bool = True,
    **fields,
) -> User:
    """A verified user of ``role`` with its scope; MFA-enrolled where the role requires it."""
    if role == Role.LOCAL_LEAD and local_authority_obj is None:
        local_authority_obj = local_authority()
    user = UserFactory(
        role=role,
        local_authority=local_authority_obj if role == Role.LOCAL_LEAD else None,
        region_code=region_code,
        is_staff=role == Role.ADMINISTRATOR,
        is_superuser=role == Role.ADMINISTRATOR,
        **fields,
    )
    if role == Role.EMPLOYER and employer is not None:
        EmployerMembership.objects.create(user=user, employer=employer)
    if role == Role.SITE_STAFF and site is not None:
        SiteStaffMembership.objects.create(user=user, site=site)
    if mfa and role in (Role.LOCAL_LEAD, Role.NHS_TEAM, Role.ADMINISTRATOR):
        enrol_totp(user)
    return user


class EligibilityDecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EligibilityDecision

    employment = factory.SubFactory(EmploymentFactory)
    outcome = EligibilityDecision.Outcome.ELIGIBLE
    reasons = factory.LazyFunction(lambda: ["Frontline social care worker in direct contact"])
    rule_set_version = 1


@dataclass
class Tenant:
    """One local authority's world: its people (one user per role) and what they work on."""

    local_authority: LocalAuthority
    users: dict[str, User] = field(default_factory=dict)


class StaffUploadFactory(factory.django.DjangoModelFactory):
    """A checked upload waiting for review (its rows already staged and counted)."""

    class Meta:
        model = StaffUpload

    employer = factory.SubFactory(EmployerFactory)
    original_filename = "staff.csv"
    file_hash = factory.Sequence(lambda n: f"{n:064x}")
    status = StaffUpload.Status.READY
    total_rows = rows_done = new_count = 1


def build_tenant(gss_code: str, label: str) -> Tenant:
    """Everything a tenant owns, for the tenancy walk (tests/test_tenancy_walk.py).

    Add every new scoped model here, in a state its pages accept: the walk finds which model a
    URL takes by trying this tenant's objects, and fails for a URL no object opens.
    """
    authority = local_authority(gss_code)
    employer = EmployerFactory(name=f"{label} Care Ltd", local_authority=authority)
    pending = EmployerFactory(
        name=f"{label} New Care Ltd", local_authority=authority, status=Employer.Status.PENDING
    )
    employment = EmploymentFactory(employer=employer)
    EmploymentFactory(employer=pending)
    StaffUploadFactory(employer=employer)
    EligibilityDecisionFactory(employment=employment)
    InformationRequest.objects.create(employment=employment, question="Describe the role.")
    site = VaccinationSiteFactory(name=f"{label} Hospital Hub", local_authorities=[authority])
    slot = SlotFactory(session=SessionFactory(site=site), booked=1)
    campaign = Campaign.objects.create(local_authority=authority)
    invitation = Invitation.objects.create(
        worker=employment.worker,
        employment=employment,
        local_authority=authority,
        campaign=campaign,
        site=site,
        status=Invitation.Status.SENT,
        channel=Invitation.Channel.EMAIL,
        expires_at=datetime.datetime(2099, 1, 1, tzinfo=datetime.UTC),
    )
    Booking.objects.create(
        worker=employment.worker,
        slot=slot,
        dose=1,
        reference=f"CVX-{gss_code[-4:]}-TEST",
        invitation=invitation,
    )
    Message.objects.create(
        channel=Message.Channel.EMAIL,
        template="invitation",
        recipient=f"worker@{label.lower().replace(' ', '-')}.example.org",
        worker=employment.worker,
    )
    return Tenant(
        local_authority=authority,
        users={
            Role.EMPLOYER: make_user(Role.EMPLOYER, employer=employer),
            Role.LOCAL_LEAD: make_user(Role.LOCAL_LEAD, local_authority_obj=authority),
            Role.SITE_STAFF: make_user(Role.SITE_STAFF, site=site),
            Role.NHS_TEAM: make_user(Role.NHS_TEAM, region_code=authority.region_code),
        },
    )


def build_sibling_employer(gss_code: str, label: str) -> Tenant:
    """A second employer in an existing tenant's area, with its own staff and employer user:
    employer users must not see each other's staff even inside one local authority."""
    authority = local_authority(gss_code)
    employer = EmployerFactory(name=f"{label} Care Ltd", local_authority=authority)
    EmploymentFactory(employer=employer)
    return Tenant(
        local_authority=authority,
        users={Role.EMPLOYER: make_user(Role.EMPLOYER, employer=employer)},
    )
