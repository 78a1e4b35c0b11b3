from django.contrib import admin

from bookings.models import Session, SiteStaffMembership, Slot, VaccinationSite


class SiteStaffInline(admin.TabularInline):
    model = SiteStaffMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(VaccinationSite)
class VaccinationSiteAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "ods_code", "postcode", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "ods_code", "postcode"]
    filter_horizontal = ["local_authorities"]
    inlines = [SiteStaffInline]


class SlotInline(admin.TabularInline):
    model = Slot
    extra = 0


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["site", "date", "start_time", "end_time", "capacity_per_slot", "is_cancelled"]
    list_filter = ["is_cancelled", "site"]
    date_hierarchy = "date"
    inlines = [SlotInline]
