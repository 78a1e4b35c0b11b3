"""Forms for employer registration, a lead's decision, and the filters on employer and staff
lists. They clean and normalise input; the services in employers.services act on it."""

from __future__ import annotations

import re

import phonenumbers
from django import forms

from employers.eligibility_preview import rule_set_label
from employers.models import Employer
from employers.staff_files import MAX_FILE_BYTES
from portal.models import LocalAuthority
from portal.postcodes import is_known_district, normalise_postcode, outward_code
from workers.models import Employment, RuleSet

CQC_LOCATION_ID = re.compile(r"^1-\d{9,11}$")


def normalise_cqc_location_id(value: str) -> str:
    """``1-`` then the digits, without the spaces people copy from letters and web pages."""
    return re.sub(r"\s+", "", value or "").upper()


class EmployerRegistrationForm(forms.ModelForm):
    kind = forms.ChoiceField(
        label="What kind of organisation is it?",
        choices=Employer.Kind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select what kind of organisation it is."},
    )
    local_authority = forms.ModelChoiceField(
        label="Local authority",
        queryset=LocalAuthority.objects.order_by("name"),
        empty_label="Select a local authority",
        help_text=(
            "The council for the area where you provide care. Its local lead checks your "
            "registration."
        ),
        error_messages={"required": "Select the local authority for the area where you work."},
    )

    class Meta:
        model = Employer
        fields = [
            "name",
            "kind",
            "cqc_location_id",
            "address_line_1",
            "address_line_2",
            "town",
            "postcode",
            "local_authority",
            "contact_name",
            "contact_email",
            "contact_phone",
        ]
        labels = {
            "name": "Organisation name",
            "cqc_location_id": "CQC location ID",
            "address_line_1": "Address line 1",
            "address_line_2": "Address line 2 (optional)",
            "town": "Town or city",
            "postcode": "Postcode",
            "contact_name": "Contact name",
            "contact_email": "Contact email address",
            "contact_phone": "Contact phone number",
        }
        help_texts = {
            "name": "As your staff and the council know it.",
            "cqc_location_id": (
                "Only for a CQC-registered location. It is on your CQC registration "
                "certificate and starts with 1-, for example 1-123456789."
            ),
            "contact_name": "The person the local lead can talk to about this registration.",
        }
        error_messages = {
            "name": {"required": "Enter the name of your organisation."},
            "postcode": {"required": "Enter the postcode."},
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("address_line_1", "town", "contact_name", "contact_email", "contact_phone"):
            self.fields[name].required = True
        self.fields["address_line_1"].error_messages["required"] = (
            "Enter the first line of the address."
        )
        self.fields["town"].error_messages["required"] = "Enter the town or city."
        self.fields["contact_name"].error_messages["required"] = "Enter the name of a contact."
        self.fields["contact_email"].error_messages["required"] = (
            "Enter the contact's email address."
        )
        self.fields["contact_phone"].error_messages["required"] = (
            "Enter the contact's phone number."
        )
        self.fields["postcode"].widget.attrs.update(
            {"class": "nhsuk-input--width-10", "autocomplete": "postal-code"}
        )
        self.fields["cqc_location_id"].widget.attrs.update({"class": "nhsuk-input--width-10"})
        self.fields["contact_email"].widget.attrs.update({"autocomplete": "email"})
        self.fields["contact_phone"].widget.attrs.update({"autocomplete": "tel"})
        if user is not None and not self.is_bound:
            self.initial.setdefault("contact_name", user.full_name)
            self.initial.setdefault("contact_email", user.email)

    def clean_cqc_location_id(self) -> str | None:
        value = normalise_cqc_location_id(self.cleaned_data.get("cqc_location_id") or "")
        if not value:
            return None
        if not CQC_LOCATION_ID.match(value):
            raise forms.ValidationError(
                "Enter the CQC location ID as 1- followed by 9 to 11 numbers, like 1-123456789."
            )
        return value

    def clean_postcode(self) -> str:
        postcode = normalise_postcode(self.cleaned_data["postcode"])
        if not is_known_district(postcode):
            raise forms.ValidationError(
                f"We do not recognise the postcode area {outward_code(postcode)}. "
                "Check the postcode and try again."
            )
        return postcode

    def clean_contact_phone(self) -> str:
        raw = self.cleaned_data["contact_phone"]
        try:
            number = phonenumbers.parse(raw, "GB")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise forms.ValidationError("Enter a UK phone number, like 020 7946 0000.")
        if number.country_code != 44:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("kind") == Employer.Kind.CQC_LOCATION
            and not cleaned.get("cqc_location_id")
            and "cqc_location_id" not in self.errors
        ):
            self.add_error(
                "cqc_location_id", "Enter the CQC location ID of your CQC-registered location."
            )
        return cleaned

    def validate_unique(self):
        # register_employer refuses a registered CQC location ID with its own wording, which
        # must not reveal who holds it.
        return


class DecisionForm(forms.Form):
    APPROVE = "approve"
    REJECT = "reject"

    decision = forms.ChoiceField(
        label="Your decision",
        choices=[(APPROVE, "Approve this employer"), (REJECT, "Reject this registration")],
        widget=forms.RadioSelect,
        error_messages={"required": "Select whether to approve or reject this employer."},
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            "Needed if you reject. The employer reads this, so say what they should do next."
        ),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == self.REJECT and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", "Enter the reason you are rejecting this registration.")
        return cleaned


ALL = ""


class ListFilterForm(forms.Form):
    """Search and filters read from the query string. A value that is not one of the choices
    (an old bookmark, a hand-edited link) falls back to the default instead of an error."""

    defaults: dict[str, str] = {}

    def __init__(self, query, **kwargs):
        super().__init__({**self.defaults, **query.dict()}, **kwargs)
        self.fields["q"].widget.attrs.update({"type": "search", "class": "nhsuk-input--width-20"})

    def values(self) -> dict[str, str]:
        result = {}
        for name, field in self.fields.items():
            raw = self.data.get(name, "")
            if isinstance(field, forms.ChoiceField):
                allowed = {str(value) for value, _ in field.choices}
                result[name] = raw if raw in allowed else self.defaults.get(name, ALL)
            else:
                result[name] = str(raw).strip()[:200]
        # Show what is applied, so a fallen-back filter is visible on the page.
        self.data = {**self.data, **result}
        return result


class EmployerFilterForm(ListFilterForm):
    """The approval queue (pending employers by default) and the list of employers."""

    q = forms.CharField(label="Search by name or CQC location ID", required=False)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[*Employer.Status.choices, (ALL, "All")]
    )
    kind = forms.ChoiceField(
        label="Kind of organisation",
        required=False,
        choices=[(ALL, "All kinds"), *Employer.Kind.choices],
    )

    def __init__(self, query, *, default_status: str = Employer.Status.PENDING, **kwargs):
        self.defaults = {"status": default_status}
        super().__init__(query, **kwargs)


class StaffFilterForm(ListFilterForm):
    """The staff list: current staff by default; role and setting choices come from the list."""

    defaults = {"status": Employment.Status.ACTIVE}

    q = forms.CharField(label="Search by name, staff reference or NHS number", required=False)
    job_role = forms.ChoiceField(label="Job role", required=False)
    work_setting = forms.ChoiceField(label="Work setting", required=False)
    employment_type = forms.ChoiceField(label="Employment type", required=False)
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[
            (Employment.Status.ACTIVE, "Current staff"),
            (Employment.Status.LEFT, "Left"),
            (ALL, "Everyone"),
        ],
    )

    def __init__(self, query, *, job_roles=(), work_settings=(), employment_types=(), **kwargs):
        """Each of the choices is (code, label) pairs of reference values."""
        super().__init__(query, **kwargs)
        self.fields["job_role"].choices = [(ALL, "All job roles"), *job_roles]
        self.fields["work_setting"].choices = [(ALL, "All work settings"), *work_settings]
        self.fields["employment_type"].choices = [(ALL, "All types"), *employment_types]


class StaffListFileField(forms.FileField):
    """A staff list file (CSV or XLSX) no larger than the upload reader accepts."""

    def clean(self, data, initial=None):
        uploaded = super().clean(data, initial)
        if uploaded and uploaded.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                "The file is larger than 20 MB. Split the list into smaller files and "
                "upload them one at a time."
            )
        return uploaded


class RuleSetChoiceField(forms.ModelChoiceField):
    """Published versions and drafts, named so the one in force and the drafts stand out."""

    current_id: int | None = None

    def __init__(self, **kwargs):
        super().__init__(queryset=RuleSet.objects.all(), empty_label=None, **kwargs)

    def label_from_instance(self, obj: RuleSet) -> str:
        return rule_set_label(obj, current_id=self.current_id)


class EligibilityPreviewForm(forms.Form):
    """A staff list to preview, the employer whose approval counts, and the rules to use."""

    file = StaffListFileField(
        label="Staff list file",
        error_messages={"required": "Choose a staff list file (CSV or Excel) to preview."},
    )
    employer = forms.TypedChoiceField(
        label="Employer (optional)",
        required=False,
        coerce=int,
        empty_value=None,
        help_text="Its approval counts, and rows are checked against its staff as an upload "
        "would be. Without one, rows are assessed as if their employer were approved.",
    )
    rule_set = RuleSetChoiceField(
        label="Rules to use",
        help_text="The version in force, an earlier version, or a draft that is not published yet.",
    )

    def __init__(self, *args, employers: list[tuple[int, str]], max_rows: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["employer"].choices = [("", "No employer: assume it is approved"), *employers]
        current = RuleSet.objects.current()
        self.fields["rule_set"].current_id = current.pk if current else None
        self.fields["rule_set"].initial = self.fields["rule_set"].current_id
        self.fields["file"].help_text = (
            f"A CSV or Excel (.xlsx) file with the staff list template's columns, of up to "
            f"{max_rows:,} rows and 20 MB."
        )
