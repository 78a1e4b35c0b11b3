"""Admin for workers, their employments and decisions, and the reference values uploads use."""

from django import forms
from django.contrib import admin

from workers import reference
from workers.models import EligibilityDecision, Employment, ReferenceValue, Worker


class AliasesField(forms.CharField):
    """Aliases edited one per line rather than as raw JSON."""

    widget = forms.Textarea(attrs={"rows": 6})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        seen = []
        for line in text.splitlines():
            alias = " ".join(line.split())
            if alias and alias not in seen:
                seen.append(alias)
        return seen


class ReferenceValueForm(forms.ModelForm):
    aliases = AliasesField(
        required=False,
        help_text="One per line. Uploads match these ignoring case, spaces and punctuation.",
    )

    class Meta:
        model = ReferenceValue
        fields = ["kind", "code", "label", "aliases", "sort_order", "is_active"]


@admin.register(ReferenceValue)
class ReferenceValueAdmin(admin.ModelAdmin):
    form = ReferenceValueForm
    list_display = ["label", "kind", "code", "alias_list", "sort_order", "is_active"]
    list_filter = ["kind", "is_active"]
    list_editable = ["sort_order", "is_active"]
    search_fields = ["label", "code", "aliases"]
    ordering = ["kind", "sort_order", "label"]

    @admin.display(description="aliases")
    def alias_list(self, obj: ReferenceValue) -> str:
        return ", ".join(obj.aliases or [])

    def get_readonly_fields(self, request, obj=None):
        # Stored codes and eligibility rules refer to the code, so it is fixed once made.
        if obj is not None:
            return ["kind", "code"]
        return []

    def has_delete_permission(self, request, obj=None):
        # Records keep their codes; retire a value by making it inactive instead.
        return False


class EmploymentForm(forms.ModelForm):
    """Employment details picked from the reference values rather than typed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field, kind in [
            ("job_role", ReferenceValue.Kind.JOB_ROLE),
            ("work_setting", ReferenceValue.Kind.WORK_SETTING),
            ("employment_type", ReferenceValue.Kind.EMPLOYMENT_TYPE),
        ]:
            options = reference.choices(kind)
            current = getattr(self.instance, field, "")
            if current and current not in dict(options):
                options.append((current, reference.label(kind, current)))
            self.fields[field] = forms.ChoiceField(choices=options, label=self.fields[field].label)

    class Meta:
        model = Employment
        fields = [
            "employer",
            "staff_reference",
            "email",
            "mobile",
            "job_role",
            "work_setting",
            "employment_type",
            "direct_contact",
            "status",
            "left_at",
        ]


class EmploymentInline(admin.TabularInline):
    model = Employment
    form = EmploymentForm
    extra = 0
    raw_id_fields = ["employer"]


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "date_of_birth", "home_postcode"]
    search_fields = ["last_name", "first_name", "nhs_number"]
    inlines = [EmploymentInline]


@admin.register(EligibilityDecision)
class EligibilityDecisionAdmin(admin.ModelAdmin):
    list_display = ["employment", "outcome", "rule_set_version", "decided_by", "decided_at"]
    list_filter = ["outcome", "rule_set_version"]
    raw_id_fields = ["employment"]
