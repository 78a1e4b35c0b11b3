"""Admin for workers, their employments, the reference values uploads use, eligibility
decisions (read-only history) and the versioned rule sets administrators draft and publish."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from portal.admin import RecordAdmin
from workers import reference, services
from workers.models import (
    EligibilityDecision,
    Employment,
    InformationRequest,
    Reassessment,
    ReferenceValue,
    RuleSet,
    Worker,
)
from workers.rules import RuleError, compile_rules


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
    readonly_fields = ["eligibility_outcome", "eligibility_decided", "information_requested"]


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "date_of_birth", "home_postcode"]
    search_fields = ["last_name", "first_name", "nhs_number"]
    inlines = [EmploymentInline]


@admin.register(EligibilityDecision)
class EligibilityDecisionAdmin(RecordAdmin):
    """History is evidence: decisions are made through the portal and never edited here."""

    list_display = [
        "employment",
        "outcome",
        "source",
        "rule_set_version",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["outcome", "source", "rule_set_version"]
    search_fields = ["verification_code", "batch"]
    raw_id_fields = ["employment"]


class RuleSetForm(forms.ModelForm):
    class Meta:
        model = RuleSet
        fields = ["rules", "notes"]

    def clean_rules(self):
        rules = self.cleaned_data["rules"]
        try:
            compile_rules(rules)
        except RuleError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return rules


class ReassessmentInline(admin.TabularInline):
    model = Reassessment
    extra = 0
    can_delete = False
    fields = ["status", "done", "total", "changed", "created_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    """Draft a version (start from a copy of the current one), then publish it: publishing
    numbers it, freezes it and re-assesses every undecided employment in the background."""

    form = RuleSetForm
    list_display = ["__str__", "published_at", "published_by", "created_at"]
    readonly_fields = ["version", "created_at", "created_by", "published_at", "published_by"]
    actions = ["publish", "copy_as_draft"]
    inlines = [ReassessmentInline]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_published:
            return [*self.readonly_fields, "rules", "notes"]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.is_published

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Publish the chosen draft")
    def publish(self, request, queryset):
        drafts = [rule_set for rule_set in queryset if not rule_set.is_published]
        if len(drafts) != 1:
            self.message_user(request, "Choose exactly one draft to publish.", messages.ERROR)
            return
        try:
            published = services.publish_rule_set(rule_set=drafts[0], user=request.user)
        except services.EligibilityError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            f"Published {published}. Undecided employments are being re-assessed.",
            messages.SUCCESS,
        )

    @admin.action(description="Copy as a new draft")
    def copy_as_draft(self, request, queryset):
        for rule_set in queryset:
            RuleSet.objects.create(
                rules=rule_set.rules,
                notes=f"Copied from {rule_set} on {timezone.now():%d %B %Y}.",
                created_by=request.user,
            )
        self.message_user(request, "Draft created. Edit it, then publish it.", messages.SUCCESS)


@admin.register(InformationRequest)
class InformationRequestAdmin(admin.ModelAdmin):
    list_display = ["employment", "status", "asked_by", "asked_at", "answered_at"]
    list_filter = ["status"]
    raw_id_fields = ["employment"]
    readonly_fields = ["asked_by", "asked_at", "answered_by", "answered_at", "changes"]
