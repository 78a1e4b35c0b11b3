"""Forms for sites, sessions, capacity, cancelling, routing policies and campaigns. Business
rules live in bookings.services and bookings.invitations; these forms parse input and show
their messages against the fields."""

from __future__ import annotations

from django import forms

from bookings import services
from bookings.models import VaccinationSite
from workers.models import Employment

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class DateInput(forms.DateInput):
    input_type = "date"


class TimeInput(forms.TimeInput):
    input_type = "time"


class SiteForm(forms.Form):
    name = forms.CharField(label="Site name", max_length=200)
    kind = forms.ChoiceField(
        label="Kind of site", choices=VaccinationSite.Kind.choices, widget=forms.RadioSelect
    )
    ods_code = forms.CharField(
        label="ODS code", max_length=10, help_text="The site's Organisation Data Service code."
    )
    address = forms.CharField(label="Address", max_length=300, required=False)
    postcode = forms.CharField(
        label="Postcode",
        max_length=10,
        help_text="We place the site on the map by its postcode district.",
    )
    local_authorities = forms.ModelMultipleChoiceField(
        label="Local authorities it serves",
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one local authority the site serves."},
    )
    accessibility_notes = forms.CharField(
        label="Accessibility", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    is_active = forms.BooleanField(
        label="The site is open for bookings", required=False, initial=True
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["local_authorities"].queryset = services.manageable_local_authorities(user)

    @staticmethod
    def initial_for(site: VaccinationSite) -> dict:
        return {
            "name": site.name,
            "kind": site.kind,
            "ods_code": site.ods_code,
            "address": site.address,
            "postcode": site.postcode,
            "local_authorities": list(site.local_authorities.all()),
            "accessibility_notes": site.accessibility_notes,
            "is_active": site.is_active,
        }


class SessionForm(forms.Form):
    ONCE, WEEKLY = "once", "weekly"

    repeat = forms.ChoiceField(
        label="How often",
        choices=[(ONCE, "On one date"), (WEEKLY, "Every week on the days I choose")],
        widget=forms.RadioSelect,
        initial=ONCE,
    )
    date = forms.DateField(
        label="Date (or first date of the pattern)",
        widget=DateInput,
        help_text="For a weekly pattern, the first day it can start.",
    )
    weekdays = forms.TypedMultipleChoiceField(
        label="Days of the week",
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only for a weekly pattern.",
    )
    weeks = forms.IntegerField(
        label="Number of weeks",
        min_value=1,
        max_value=services.MAX_PATTERN_WEEKS,
        initial=1,
        required=False,
        help_text=f"Only for a weekly pattern. Up to {services.MAX_PATTERN_WEEKS} weeks.",
    )
    start_time = forms.TimeField(label="Start time", widget=TimeInput)
    end_time = forms.TimeField(label="End time", widget=TimeInput)
    slot_minutes = forms.IntegerField(
        label="Slot length in minutes",
        initial=15,
        help_text="If the session does not divide into whole slots, we leave out the last "
        "few minutes.",
    )
    vaccinators = forms.IntegerField(
        label="Number of vaccinators",
        initial=1,
        help_text="Each vaccinator sees one person in each slot.",
    )

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, **kwargs)
        self.site = site

    def clean(self):
        cleaned = super().clean()
        needed = ("date", "start_time", "end_time", "slot_minutes", "vaccinators")
        if any(cleaned.get(name) is None for name in needed):
            return cleaned
        weekly = cleaned.get("repeat") == self.WEEKLY
        weeks = (cleaned.get("weeks") or 1) if weekly else 1
        if weekly and not cleaned.get("weekdays"):
            self.add_error("weekdays", "Choose at least one day of the week.")
            return cleaned
        # Exactly the keyword arguments that services.create_sessions takes for the plan.
        cleaned["plan"] = {
            "dates": services.session_dates(
                first_date=cleaned["date"],
                weeks=weeks,
                weekdays=cleaned.get("weekdays") if weekly else None,
            ),
            "start_time": cleaned["start_time"],
            "end_time": cleaned["end_time"],
            "slot_minutes": cleaned["slot_minutes"],
            "vaccinators": cleaned["vaccinators"],
            "weeks": weeks,
        }
        errors = services.session_plan_errors(site=self.site, **cleaned["plan"])
        for field, message in errors.items():
            self.add_error(field, message)
        return cleaned


class CapacityForm(forms.Form):
    vaccinators = forms.IntegerField(
        label="Number of vaccinators",
        min_value=1,
        max_value=services.MAX_VACCINATORS,
        help_text="Each slot has room for one person per vaccinator. You cannot go below the "
        "number already booked in any slot.",
    )


class CancelSessionForm(forms.Form):
    reason = forms.CharField(
        label="Why are you cancelling this session?",
        max_length=300,
        help_text="We tell everyone booked into it and ask them to book again.",
    )


_KIND_CHOICES = list(VaccinationSite.Kind.choices)


class RoutingPolicyForm(forms.Form):
    first_kind = forms.ChoiceField(label="First choice of site", choices=_KIND_CHOICES)
    second_kind = forms.ChoiceField(
        label="Second choice", choices=[("", "None")] + _KIND_CHOICES, required=False
    )
    third_kind = forms.ChoiceField(
        label="Third choice", choices=[("", "None")] + _KIND_CHOICES, required=False
    )
    max_distance_km = forms.DecimalField(
        label="Furthest distance to send a worker, in kilometres",
        min_value=1,
        max_value=200,
        decimal_places=1,
        help_text="Measured in a straight line from their home postcode district.",
    )
    horizon_days = forms.IntegerField(
        label="Booking horizon in days",
        min_value=1,
        max_value=84,
        help_text="Only sites with free slots in this many days count as having space.",
    )
    over_invite_factor = forms.DecimalField(
        label="Over-invite factor",
        min_value=1,
        max_value=5,
        decimal_places=2,
        help_text="How many invitations to send for each free slot. 1.5 means 3 for every 2.",
    )

    @staticmethod
    def initial_for(policy) -> dict:
        kinds = list(policy.site_kinds) + ["", ""]
        return {
            "first_kind": kinds[0],
            "second_kind": kinds[1],
            "third_kind": kinds[2],
            "max_distance_km": policy.max_distance_km,
            "horizon_days": policy.horizon_days,
            "over_invite_factor": policy.over_invite_factor,
        }

    def clean(self):
        cleaned = super().clean()
        kinds = [cleaned.get(name) for name in ("first_kind", "second_kind", "third_kind")]
        chosen = [kind for kind in kinds if kind]
        if len(chosen) != len(set(chosen)):
            self.add_error("second_kind", "Choose each kind of site only once.")
        cleaned["site_kinds"] = chosen
        return cleaned


class CampaignForm(forms.Form):
    employer_id = forms.TypedChoiceField(
        label="Who to invite",
        coerce=int,
        empty_value=None,
        required=False,
        help_text="Everyone approved in your area, or the staff of one employer.",
    )
    over_invite_factor = forms.DecimalField(
        label="Over-invite factor",
        min_value=1,
        max_value=5,
        max_digits=3,
        decimal_places=2,
        help_text=(
            "How many invitations to send for each free place. Not everyone books, so 1.5 "
            "sends 3 invitations for every 2 free places."
        ),
        widget=forms.NumberInput(attrs={"step": "0.1", "class": "nhsuk-input--width-4"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        employers = (
            Employment._meta.get_field("employer")
            .related_model.objects.visible_to(user)
            .filter(local_authority_id=user.local_authority_id, status="approved")
            .order_by("name")
            .values_list("pk", "name")
        )
        self.fields["employer_id"].choices = [("", "Everyone approved in your area")] + list(
            employers
        )
