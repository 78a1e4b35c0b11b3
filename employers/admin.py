from django.contrib import admin

from employers.models import Employer, EmployerMembership


class MembershipInline(admin.TabularInline):
    model = EmployerMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Employer)
class EmployerAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "cqc_location_id", "local_authority", "status"]
    list_filter = ["status", "kind", "local_authority__region_name"]
    search_fields = ["name", "cqc_location_id", "postcode"]
    inlines = [MembershipInline]
