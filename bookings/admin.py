"""Admin for sites (placed by postcode on save, changes audited), sessions, routing policies,
routes, and (read only: they change through services and the outbox) campaigns, invitations,
bookings and the messages sent."""

from django.contrib import admin

from bookings.models import (
    Booking,
    Campaign,
    Invitation,
    Message,
    Route,
    RoutingPolicy,
    Session,
    SiteStaffMembership,
    Slot,
    VaccinationSite,
)
from portal import audit
from portal.admin import RecordAdmin


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
    readonly_fields = ["latitude", "longitude"]
    inlines = [SiteStaffInline]

    def save_model(self, request, obj, form, change):
        # The model form's validation has already placed the site (VaccinationSite.clean).
        super().save_model(request, obj, form, change)
        audit.record(
            verb="site_changed" if change else "site_created",
            target=obj,
            details={"fields": form.changed_data, "via": "admin"},
            request=request,
        )


class SlotInline(admin.TabularInline):
    model = Slot
    extra = 0


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["site", "date", "start_time", "end_time", "capacity_per_slot", "is_cancelled"]
    list_filter = ["is_cancelled", "site"]
    date_hierarchy = "date"
    inlines = [SlotInline]


@admin.register(RoutingPolicy)
class RoutingPolicyAdmin(admin.ModelAdmin):
    list_display = ["local_authority", "max_distance_km", "horizon_days", "over_invite_factor"]
    search_fields = ["local_authority__name"]
    readonly_fields = ["updated_by", "updated_at"]

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        audit.record(
            verb="routing_policy_changed",
            target=obj,
            details={"fields": form.changed_data, "via": "admin"},
            request=request,
        )


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    list_display = ["worker", "local_authority", "site", "distance_km", "is_unrouted", "routed_at"]
    list_filter = ["is_unrouted"]
    raw_id_fields = ["worker", "site"]
    list_select_related = ["worker", "local_authority", "site"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services (which audit them): administrators look, not edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "over_invite_factor", "is_active", "started_at", "started_by"]
    list_filter = ["is_active"]
    list_select_related = ["local_authority", "employer", "started_by"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "worker", "status", "site", "channel", "queued_at", "sent_at"]
    list_filter = ["status", "channel"]
    raw_id_fields = ["worker", "employment", "site", "campaign", "superseded_by"]
    list_select_related = ["worker", "site"]


@admin.register(Booking)
class BookingAdmin(RecordAdmin):
    """No deleting either: a booking's place is given back only by cancelling it (services)."""

    list_display = ["reference", "worker", "slot", "dose", "status", "created_at"]
    list_filter = ["status", "dose", "cancel_reason"]
    search_fields = ["reference"]
    raw_id_fields = ["worker", "slot", "invitation"]
    list_select_related = ["worker", "slot__session__site"]


@admin.register(Message)
class MessageAdmin(RecordAdmin):
    list_display = ["pk", "channel", "template", "recipient", "status", "attempts", "created_at"]
    list_filter = ["status", "channel", "template", "provider"]
    search_fields = ["recipient", "provider_reference"]
    raw_id_fields = ["worker", "fallback_of"]
    date_hierarchy = "created_at"
