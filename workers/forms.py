"""Forms for eligibility review: the queue's filters, a lead's decision, reversal, bulk
confirmations, questions to employers and the employer's answer, and code verification."""

from django import forms

from workers import reference
from workers.models import EligibilityDecision, ReferenceValue
from workers.selectors import SORT_CHOICES, QueueFilters, State

Kind = ReferenceValue.Kind
Outcome = EligibilityDecision.Outcome
ANY = [("", "Any")]


class QueueFilterForm(forms.Form):
    state = forms.ChoiceField(label="Show", choices=State.choices, required=False)
    employer = forms.TypedChoiceField(
        label="Employer", coerce=int, required=False, empty_value=None
    )
    outcome = forms.ChoiceField(
        label="Assessment", choices=ANY + list(Outcome.choices), required=False
    )
    job_role = forms.ChoiceField(label="Job role", required=False)
    work_setting = forms.ChoiceField(label="Work setting", required=False)
    employment_type = forms.ChoiceField(label="Employment type", required=False)
    upload = forms.IntegerField(
        label="Staff list upload number", required=False, min_value=1, help_text="Optional"
    )
    added_from = forms.DateField(
        label="Added on or after", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    added_to = forms.DateField(
        label="Added on or before", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sort = forms.ChoiceField(label="Sort by", choices=SORT_CHOICES, required=False)

    def __init__(self, *args, employers: list[tuple[int, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["employer"].choices = ANY + list(employers)
        self.fields["job_role"].choices = ANY + reference.choices(Kind.JOB_ROLE)
        self.fields["work_setting"].choices = ANY + reference.choices(Kind.WORK_SETTING)
        self.fields["employment_type"].choices = ANY + reference.choices(Kind.EMPLOYMENT_TYPE)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("added_from"), cleaned.get("added_to")
        if start and end and start > end:
            self.add_error("added_to", "The end date must be the same as or after the start date")
        return cleaned

    def filters(self) -> QueueFilters:
        """The filters chosen, ignoring any that did not validate (the form shows why)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        values = {name: data.get(name) for name in QueueFilters.__dataclass_fields__}
        values["state"] = values["state"] or State.TO_REVIEW
        values["sort"] = values["sort"] or "name"
        for name in ("outcome", "job_role", "work_setting", "employment_type"):
            values[name] = values[name] or ""
        return QueueFilters(**values)


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        label="Your decision",
        choices=[(Outcome.ELIGIBLE, "Eligible"), (Outcome.NOT_ELIGIBLE, "Not eligible")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose eligible or not eligible"},
    )
    reason = forms.CharField(
        label="Reason",
        help_text="The employer sees this. Needed unless you approve a worker the rules found "
        "eligible.",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    seen_decision = forms.IntegerField(widget=forms.HiddenInput, required=False)


class ReverseForm(forms.Form):
    reason = forms.CharField(
        label="Why are you reversing this decision?",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give a reason for reversing this decision"},
    )
    seen_decision = forms.IntegerField(widget=forms.HiddenInput, required=False)


class QuestionForm(forms.Form):
    question = forms.CharField(
        label="Your question to the employer",
        help_text="For example: Does this person give personal care to residents?",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write the question you want the employer to answer"},
    )


class BulkQuestionForm(QuestionForm):
    """Asking about a set of workers, bound to the set shown through ``digest``."""

    digest = forms.CharField(widget=forms.HiddenInput)


class BulkForm(forms.Form):
    """The confirmation page's form: bound to the set shown through ``digest``."""

    digest = forms.CharField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, reason_required: bool = False, reason_help: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = reason_required
        self.fields["reason"].help_text = reason_help
        self.fields["reason"].error_messages["required"] = "Give a reason for this decision"


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label="Your answer",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Write your answer to the question"},
    )
    job_role = forms.ChoiceField(label="Job role")
    work_setting = forms.ChoiceField(label="Work setting")
    direct_contact = forms.TypedChoiceField(
        label="Does this person have close personal contact with people clinically "
        "vulnerable to COVID-19?",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    has_left = forms.BooleanField(label="This person no longer works for us", required=False)

    def __init__(self, *args, employment, **kwargs):
        initial = {
            "job_role": employment.job_role,
            "work_setting": employment.work_setting,
            "direct_contact": "yes" if employment.direct_contact else "no",
        }
        super().__init__(*args, initial=initial, **kwargs)
        for field, kind in (("job_role", Kind.JOB_ROLE), ("work_setting", Kind.WORK_SETTING)):
            options = reference.choices(kind)
            current = getattr(employment, field)
            if current and current not in dict(options):
                options.append((current, reference.label(kind, current)))
            self.fields[field].choices = options


class VerifyForm(forms.Form):
    code = forms.CharField(
        label="Eligibility code",
        help_text="It is on the letter and looks like CVX-7F3K-9Q2P",
        max_length=30,
        error_messages={"required": "Enter the code from the letter"},
    )
