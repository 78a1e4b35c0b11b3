"""Admin for employers. Administrators approve or reject through the same services as local
leads (audited, with the email to the employer); the decision fields are read-only here."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from import_export.admin import ImportMixin
from import_export.forms import ConfirmImportForm, ImportForm

from employers import services
from employers.models import Employer, EmployerMembership, StaffUpload
from employers.resources import StaffResource


class MembershipInline(admin.TabularInline):
    model = EmployerMembership
    extra = 0
    autocomplete_fields = ["user"]


class RejectionReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="The employers' users read this in the email, so say what they should do.",
    )


@admin.register(Employer)
class EmployerAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "cqc_location_id", "local_authority", "status", "created_at"]
    list_filter = ["status", "kind", "local_authority__region_name"]
    search_fields = ["name", "cqc_location_id", "postcode"]
    list_select_related = ["local_authority"]
    readonly_fields = ["status", "status_reason", "decided_by", "decided_at", "created_at"]
    inlines = [MembershipInline]
    actions = ["approve_selected", "reject_selected"]

    def _decide_each(self, request, queryset, decide, **kwargs) -> None:
        done, stale = 0, []
        for employer in queryset:
            try:
                decide(lead=request.user, employer=employer, request=request, **kwargs)
            except services.StaleDecision as exc:
                stale.append(f"{exc.employer.name} ({exc.employer.get_status_display().lower()})")
            else:
                done += 1
        if done:
            self.message_user(request, f"Decided on {done} employer(s).", messages.SUCCESS)
        if stale:
            self.message_user(
                request,
                "Already decided, so left unchanged: " + ", ".join(stale),
                messages.WARNING,
            )

    @admin.action(description="Approve selected employers")
    def approve_selected(self, request, queryset):
        self._decide_each(request, queryset, services.approve_employer)

    @admin.action(description="Reject selected employers (asks for a reason)")
    def reject_selected(self, request, queryset):
        form = RejectionReasonForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._decide_each(
                request, queryset, services.reject_employer, reason=form.cleaned_data["reason"]
            )
            return None
        return TemplateResponse(
            request,
            "admin/employers/employer/reject_selected.html",
            {
                **self.admin_site.each_context(request),
                "title": "Reject employers",
                "opts": self.model._meta,
                "employers": queryset,
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )


class StaffImportForm(ImportForm):
    """The admin's import form, with the employer and mode a staff list needs."""

    employer = forms.ModelChoiceField(queryset=Employer.objects.all())
    mode = forms.ChoiceField(choices=StaffUpload.Mode.choices, initial=StaffUpload.Mode.ADD)


class StaffConfirmImportForm(ConfirmImportForm):
    employer = forms.ModelChoiceField(queryset=Employer.objects.all(), widget=forms.HiddenInput)
    mode = forms.ChoiceField(choices=StaffUpload.Mode.choices, widget=forms.HiddenInput)


@admin.register(StaffUpload)
class StaffUploadAdmin(ImportMixin, admin.ModelAdmin):
    """Staff list uploads; "Import" runs the same bulk service as the employer's upload page."""

    resource_classes = [StaffResource]
    import_form_class = StaffImportForm
    confirm_form_class = StaffConfirmImportForm
    list_display = ["original_filename", "employer", "status", "uploaded_at", "error_count"]
    list_filter = ["status", "mode"]
    search_fields = ["original_filename", "employer__name", "file_hash"]
    raw_id_fields = ["employer"]
    readonly_fields = [field.name for field in StaffUpload._meta.fields]

    def has_add_permission(self, request):
        return False

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        if form is not None and form.is_bound and form.is_valid():
            return {"employer": form.cleaned_data["employer"], "mode": form.cleaned_data["mode"]}
        return {}

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["employer"] = import_form.cleaned_data["employer"].pk
            initial["mode"] = import_form.cleaned_data["mode"]
        return initial
