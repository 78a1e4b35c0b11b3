from django.contrib import admin

from workers.models import EligibilityDecision, Employment, Worker


class EmploymentInline(admin.TabularInline):
    model = Employment
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
