"""Canonical values (docs/data-formats.md): data, matching, caching and administration."""

import csv

import pytest
from django.template import Context, Template
from django.urls import reverse

from portal.roles import Role
from workers import reference
from workers.models import Employment, ReferenceValue
from workers.reference import choices, label, lookup, match, normalise_label, parse_yes_no

Kind = ReferenceValue.Kind

JOB_ROLES = [
    "Care worker",
    "Senior care worker",
    "Support worker",
    "Personal assistant",
    "Registered nurse",
    "Nursing associate",
    "Registered manager",
    "Deputy manager or team leader",
    "Social worker",
    "Occupational therapist",
    "Shared Lives carer",
    "Reablement worker",
    "Activities worker",
    "Ancillary staff (cook, cleaner, driver, maintenance)",
    "Administrative or office staff",
    "Other",
]
WORK_SETTINGS = [
    "Care home for older adults",
    "Care home for working-age adults",
    "Nursing home",
    "Domiciliary care (home care)",
    "Supported living",
    "Extra care housing",
    "Day centre or day service",
    "Shared Lives scheme",
    "Direct payments or personal budget",
    "Local authority social work team",
    "Hospital social work team",
    "Reablement service",
    "Other",
]
EMPLOYMENT_TYPES = [
    "Employed",
    "Agency",
    "Bank or relief",
    "Self-employed",
    "Personal assistant (direct payments)",
    "Volunteer",
    "Student on placement",
]
ETHNICITIES = [
    ("A", "White British"),
    ("B", "White Irish"),
    ("C", "Any other White background"),
    ("D", "White and Black Caribbean"),
    ("E", "White and Black African"),
    ("F", "White and Asian"),
    ("G", "Any other mixed background"),
    ("H", "Indian"),
    ("J", "Pakistani"),
    ("K", "Bangladeshi"),
    ("L", "Any other Asian background"),
    ("M", "Caribbean"),
    ("N", "African"),
    ("P", "Any other Black background"),
    ("R", "Chinese"),
    ("S", "Any other ethnic group"),
    ("Z", "Not stated"),
]


def test_migration_loads_the_canonical_values_in_order(db):
    assert [text for _, text in choices(Kind.JOB_ROLE)] == JOB_ROLES
    assert [text for _, text in choices(Kind.WORK_SETTING)] == WORK_SETTINGS
    assert [text for _, text in choices(Kind.EMPLOYMENT_TYPE)] == EMPLOYMENT_TYPES
    assert choices(Kind.ETHNICITY) == ETHNICITIES


def test_employment_type_choices_in_code_agree_with_the_data():
    shipped = [(row["code"], row["label"]) for row in reference.read_data_file("employment_type")]
    assert shipped == list(Employment.EmploymentType.choices)


@pytest.mark.parametrize("kind", Kind.values)
def test_every_shipped_wording_means_exactly_one_value(kind):
    """No alias of one value is the label, code or alias of another (it would be ambiguous)."""
    seen = {}
    for row in reference.read_data_file(kind):
        for text in (row["code"], row["label"], *row["aliases"]):
            key = normalise_label(text)
            assert key, f"{text!r} normalises to nothing"
            assert seen.setdefault(key, row["code"]) == row["code"], f"{text!r} is ambiguous"


@pytest.mark.parametrize("kind", Kind.values)
def test_codes_fit_where_employments_and_workers_store_them(kind):
    limit = 1 if kind == Kind.ETHNICITY else Employment._meta.get_field("job_role").max_length
    for row in reference.read_data_file(kind):
        assert len(row["code"]) <= limit
        assert ReferenceValue._meta.get_field("code").max_length >= len(row["code"])


def test_normalise_label():
    assert normalise_label("Senior Care-Worker") == "seniorcareworker"
    assert normalise_label("senior care worker") == "seniorcareworker"
    assert normalise_label("seniorcareworker") == "seniorcareworker"
    assert normalise_label("  Day-centre / day SERVICE ") == "daycentredayservice"
    assert normalise_label("Café") == "cafe"
    assert normalise_label(None) == ""


@pytest.mark.parametrize(
    ("kind", "raw", "code"),
    [
        (Kind.JOB_ROLE, "Senior Care-Worker", "senior_care_worker"),
        (Kind.JOB_ROLE, "SENIOR CARE WORKER", "senior_care_worker"),
        (Kind.JOB_ROLE, "seniorcareworker", "senior_care_worker"),
        (Kind.JOB_ROLE, "senior_care_worker", "senior_care_worker"),
        (Kind.JOB_ROLE, "Ancillary staff (cook, cleaner, driver, maintenance)", "ancillary_staff"),
        (Kind.JOB_ROLE, "cleaner", "ancillary_staff"),
        (Kind.JOB_ROLE, "Carer", "care_worker"),
        (Kind.JOB_ROLE, "Shared Lives carer", "shared_lives_carer"),
        (Kind.WORK_SETTING, "Care home", "care_home_older_adults"),
        (Kind.WORK_SETTING, "Home care", "domiciliary_care"),
        (Kind.WORK_SETTING, "Domiciliary care", "domiciliary_care"),
        (Kind.WORK_SETTING, "Domiciliary care (home care)", "domiciliary_care"),
        (Kind.WORK_SETTING, "Day centre", "day_centre"),
        (Kind.WORK_SETTING, "Direct payments (personal assistant)", "direct_payments"),
        (Kind.WORK_SETTING, "Local authority social work team", "local_authority_social_work_team"),
        (Kind.WORK_SETTING, "care home for working age adults", "care_home_working_age_adults"),
        (Kind.EMPLOYMENT_TYPE, "Self employed", "self_employed"),
        (Kind.EMPLOYMENT_TYPE, "bank", "bank"),
        (Kind.EMPLOYMENT_TYPE, "", "employed"),
        (Kind.EMPLOYMENT_TYPE, "   ", "employed"),
        (Kind.EMPLOYMENT_TYPE, None, "employed"),
        (Kind.ETHNICITY, "A", "A"),
        (Kind.ETHNICITY, "n", "N"),
        (Kind.ETHNICITY, "White British", "A"),
        (Kind.ETHNICITY, "Mixed - White and Asian", "F"),
        (Kind.ETHNICITY, "black or black british - african", "N"),
        (Kind.ETHNICITY, "Any other ethnic group", "S"),
        (Kind.ETHNICITY, "", "Z"),
        (Kind.ETHNICITY, None, "Z"),
        (Kind.ETHNICITY, "Not stated", "Z"),
    ],
)
def test_match(db, kind, raw, code):
    assert match(kind, raw) == code


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (Kind.JOB_ROLE, "Astronaut"),
        (Kind.JOB_ROLE, ""),  # required: blank means nothing for a job role
        (Kind.WORK_SETTING, None),
        (Kind.WORK_SETTING, "Moon base"),
        (Kind.EMPLOYMENT_TYPE, "Pirate"),
        (Kind.ETHNICITY, "Q"),  # not an NHS ethnic category code
        (Kind.ETHNICITY, "Martian"),
    ],
)
def test_unknown_values_match_nothing(db, kind, raw):
    assert match(kind, raw) is None


def test_unknown_kind_is_a_programming_error(db):
    with pytest.raises(ValueError, match="Unknown kind"):
        match("shoe_size", "9")


def test_lookup_maps_every_wording_to_a_code(db):
    roles = lookup(Kind.JOB_ROLE)
    assert roles["careworker"] == "care_worker"
    assert roles["carer"] == "care_worker"
    assert set(roles.values()) == {code for code, _ in choices(Kind.JOB_ROLE)}
    roles["carer"] = "mutated"  # a caller's copy: the cache is not changed
    assert match(Kind.JOB_ROLE, "carer") == "care_worker"


def test_label(db):
    assert label(Kind.WORK_SETTING, "domiciliary_care") == "Domiciliary care (home care)"
    assert label(Kind.ETHNICITY, "Z") == "Not stated"
    assert label(Kind.JOB_ROLE, "no_such_code") == "no_such_code"


def test_inactive_values_keep_their_label_but_are_not_accepted(db):
    ReferenceValue.objects.filter(kind=Kind.JOB_ROLE, code="activities_worker").update(
        is_active=False
    )
    reference.clear_local_cache()
    assert match(Kind.JOB_ROLE, "Activities worker") is None
    assert "activities_worker" not in dict(choices(Kind.JOB_ROLE))
    assert label(Kind.JOB_ROLE, "activities_worker") == "Activities worker"


def test_employment_and_worker_show_labels(db):
    from tests.factories import EmploymentFactory

    employment = EmploymentFactory(employment_type="bank", work_setting="domiciliary_care")
    assert employment.get_job_role_display() == "Care worker"
    assert employment.get_work_setting_display() == "Domiciliary care (home care)"
    assert employment.get_employment_type_display() == "Bank or relief"
    assert employment.worker.get_ethnicity_display() == "Not stated"
    employment.worker.ethnicity = "H"
    assert employment.worker.get_ethnicity_display() == "Indian"


def test_match_for_ten_thousand_values_reads_each_kind_once(db, django_assert_max_num_queries):
    rows = [("Care worker", "Home care", "", "a"), ("Nurse", "Care home", "Agency", "Z")] * 5000
    with django_assert_max_num_queries(4):
        codes = [
            (
                match(Kind.JOB_ROLE, role),
                match(Kind.WORK_SETTING, setting),
                match(Kind.EMPLOYMENT_TYPE, employment_type),
                match(Kind.ETHNICITY, ethnicity),
            )
            for role, setting, employment_type, ethnicity in rows
        ]
    assert codes[0] == ("care_worker", "domiciliary_care", "employed", "A")
    assert codes[-1] == ("registered_nurse", "care_home_older_adults", "agency", "Z")
    with django_assert_max_num_queries(0):
        match(Kind.JOB_ROLE, "Carer")


def test_saving_a_value_clears_the_cache_at_once(db):
    assert match(Kind.JOB_ROLE, "Wellbeing lead") is None
    value = ReferenceValue.objects.get(kind=Kind.JOB_ROLE, code="activities_worker")
    value.aliases = [*value.aliases, "Wellbeing lead"]
    value.save()
    assert match(Kind.JOB_ROLE, "wellbeing-lead") == "activities_worker"
    value.delete()
    assert match(Kind.JOB_ROLE, "wellbeing lead") is None


def test_another_process_notices_a_change_through_the_shared_generation(db, monkeypatch):
    assert match(Kind.JOB_ROLE, "Wellbeing lead") is None
    # Another process changes the data and bumps the generation; this one has not been told.
    ReferenceValue.objects.filter(code="activities_worker").update(aliases=["Wellbeing lead"])
    reference._bump_generation()
    monkeypatch.setattr(reference, "RECHECK_SECONDS", 0.0)
    assert match(Kind.JOB_ROLE, "Wellbeing lead") == "activities_worker"


def test_admin_adds_an_alias_and_match_sees_it_without_restart(client, make_user):
    admin_user = make_user(Role.ADMINISTRATOR)
    client.force_login(admin_user)
    value = ReferenceValue.objects.get(kind=Kind.WORK_SETTING, code="supported_living")
    assert match(Kind.WORK_SETTING, "Shared house") is None
    response = client.post(
        reverse("admin:workers_referencevalue_change", args=[value.pk]),
        {
            "label": value.label,
            "aliases": "\n".join([*value.aliases, "Shared house", ""]),
            "sort_order": value.sort_order,
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    value.refresh_from_db()
    assert value.aliases[-1] == "Shared house"
    assert value.code == "supported_living"
    assert match(Kind.WORK_SETTING, "shared  HOUSE") == "supported_living"


def test_admin_adds_a_new_value(client, make_user):
    client.force_login(make_user(Role.ADMINISTRATOR))
    response = client.post(
        reverse("admin:workers_referencevalue_add"),
        {
            "kind": Kind.JOB_ROLE,
            "code": "physiotherapist",
            "label": "Physiotherapist",
            "aliases": "Physio\nPhysical therapist",
            "sort_order": 125,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert match(Kind.JOB_ROLE, "physio") == "physiotherapist"
    assert ("physiotherapist", "Physiotherapist") in choices(Kind.JOB_ROLE)


def test_admin_refuses_an_alias_that_already_means_another_value(client, make_user):
    client.force_login(make_user(Role.ADMINISTRATOR))
    value = ReferenceValue.objects.get(kind=Kind.JOB_ROLE, code="support_worker")
    response = client.post(
        reverse("admin:workers_referencevalue_change", args=[value.pk]),
        {"label": value.label, "aliases": "Carer", "sort_order": 1, "is_active": "on"},
    )
    assert response.status_code == 200
    assert "“Carer” already means “Care worker”" in response.content.decode()
    assert match(Kind.JOB_ROLE, "Carer") == "care_worker"


def test_admin_refuses_an_ethnicity_code_that_is_not_one_letter(client, make_user):
    client.force_login(make_user(Role.ADMINISTRATOR))
    response = client.post(
        reverse("admin:workers_referencevalue_add"),
        {"kind": Kind.ETHNICITY, "code": "gypsy", "label": "Gypsy or Irish Traveller"},
    )
    assert response.status_code == 200
    assert "one capital letter" in response.content.decode()


def test_admin_lists_and_searches_values(client, make_user):
    client.force_login(make_user(Role.ADMINISTRATOR))
    url = reverse("admin:workers_referencevalue_changelist")
    page = client.get(url, {"q": "carer", "kind__exact": Kind.JOB_ROLE}).content.decode()
    assert "Care worker" in page and "Shared Lives carer" in page
    assert "Registered nurse" not in page


def test_loading_the_data_files_again_keeps_admin_edits(db):
    value = ReferenceValue.objects.get(kind=Kind.JOB_ROLE, code="care_worker")
    value.label = "Care worker (edited)"
    value.save()
    ReferenceValue.objects.filter(kind=Kind.ETHNICITY, code="R").delete()
    assert reference.load_data_files() == 1
    assert ReferenceValue.objects.get(kind=Kind.JOB_ROLE, code="care_worker").label == (
        "Care worker (edited)"
    )
    assert label(Kind.ETHNICITY, "R") == "Chinese"


def test_data_files_are_plain_utf8_csv_with_the_expected_columns():
    for name in reference.DATA_FILES.values():
        with (reference.DATA_DIR / name).open(newline="", encoding="utf-8") as handle:
            assert csv.DictReader(handle).fieldnames == ["code", "label", "aliases"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Yes", True),
        ("yes", True),
        (" YES ", True),
        ("Y", True),
        ("y", True),
        ("True", True),
        ("TRUE", True),
        ("1", True),
        (1, True),
        (1.0, True),
        (True, True),
        ("No", False),
        ("no", False),
        ("N", False),
        ("false", False),
        ("0", False),
        (0, False),
        (False, False),
    ],
)
def test_parse_yes_no(raw, expected):
    assert parse_yes_no(raw) is expected


@pytest.mark.parametrize("raw", ["", None, "maybe", "2", 2, "yes please", "Nope"])
def test_parse_yes_no_refuses_anything_else(raw):
    with pytest.raises(ValueError, match="Enter Yes or No"):
        parse_yes_no(raw)


def test_reference_label_filter(db):
    rendered = Template(
        '{% load reference_values %}{{ code|reference_label:"work_setting" }}'
    ).render(Context({"code": "day_centre"}))
    assert rendered == "Day centre or day service"


def test_staff_pages_show_labels_not_codes(client, make_user):
    from tests.factories import EmployerFactory, EmploymentFactory

    employer = EmployerFactory()
    EmploymentFactory.create_batch(
        5, employer=employer, job_role="deputy_manager_or_team_leader", work_setting="nursing_home"
    )
    lead = make_user(Role.LOCAL_LEAD)
    client.force_login(lead)
    page = client.get(reverse("employers:staff", args=[employer.pk])).content.decode()
    assert page.count("Deputy manager or team leader</td>") == 5
    assert "deputy_manager_or_team_leader</td>" not in page
    employment = employer.employments.first()
    page = client.get(reverse("workers:detail", args=[employment.worker_id])).content.decode()
    assert "Deputy manager or team leader, Nursing home (employed)" in page


def test_admin_edits_an_employment_by_picking_reference_values(client, make_user):
    from tests.factories import EmploymentFactory

    employment = EmploymentFactory(job_role="old_free_text")
    client.force_login(make_user(Role.ADMINISTRATOR))
    page = client.get(reverse("admin:workers_worker_change", args=[employment.worker_id]))
    html = page.content.decode()
    assert '<option value="care_home_older_adults" selected>' in html
    assert '<option value="shared_lives_carer">Shared Lives carer</option>' in html
    # A stored code that is no longer offered stays selectable, so saving does not lose it.
    assert '<option value="old_free_text" selected>old_free_text</option>' in html
