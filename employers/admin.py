"""Admin for employers. Administrators approve or reject through the same services as local
leads (audited, with the email to the employer); the decision fields are read-only here."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from employers import services
from employers.models import Employer, EmployerMembership


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
