"""Admin for users, local authorities and the read-only audit log.

Signing in to admin goes through allauth, so an administrator passes the same lock-out and
MFA checks as on every other page.
"""

from allauth.account.decorators import secure_admin_login
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from portal import audit
from portal.models import AuditEvent, ColleagueInvitation, LocalAuthority, User
from portal.roles import Role

admin.site.login = secure_admin_login(admin.site.login)


class RoleScopeMixin:
    """Each role needs its own scope: a form error here instead of a database error."""

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        if role == Role.LOCAL_LEAD and not cleaned.get("local_authority"):
            self.add_error("local_authority", "A local lead needs a local authority.")
        if role != Role.LOCAL_LEAD and cleaned.get("local_authority"):
            self.add_error(
                "local_authority", "Only local leads have a local authority. Clear this field."
            )
        if role != Role.NHS_TEAM and cleaned.get("region_code"):
            self.add_error("region_code", "Only NHS team members have a region. Clear this field.")
        return cleaned


class RecordAdmin(admin.ModelAdmin):
    """Admin for records the code alone writes (the audit trail, messages): view only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class UserCreationAdminForm(RoleScopeMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email", "full_name", "role", "local_authority", "region_code"]

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account already uses this email address.")
        return email


class UserChangeAdminForm(RoleScopeMixin, UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    ordering = ["email"]
    list_display = ["email", "full_name", "role", "local_authority", "region_code", "is_active"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password", "full_name"]}),
        ("Role and scope", {"fields": ["role", "local_authority", "region_code"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Sign-in", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "fields": [
                    "email",
                    "full_name",
                    "role",
                    "local_authority",
                    "region_code",
                    "usable_password",
                    "password1",
                    "password2",
                ]
            },
        ),
    ]


@admin.register(LocalAuthority)
class LocalAuthorityAdmin(admin.ModelAdmin):
    list_display = ["name", "gss_code", "region_name"]
    list_filter = ["region_name"]
    search_fields = ["name", "gss_code"]


@admin.register(ColleagueInvitation)
class ColleagueInvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "role", "local_authority", "invited_by", "created_at", "accepted_at"]
    list_filter = ["role"]
    search_fields = ["email"]
    readonly_fields = ["token_hash"]


@admin.register(AuditEvent)
class AuditEventAdmin(RecordAdmin):
    """Administrators read and filter the audit log; nobody edits or deletes it."""

    list_display = ["at", "actor_label", "verb", "object_type", "object_id", "ip_address"]
    list_filter = ["verb", "object_type", ("at", admin.DateFieldListFilter)]
    search_fields = ["actor_label", "object_id", "verb"]
    date_hierarchy = "at"

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_administrator

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def changelist_view(self, request, extra_context=None):
        audit.record(
            verb="audit_log_viewed",
            request=request,
            object_type="portal.auditevent",
            details={"query": request.GET.urlencode()[:500]},
        )
        return super().changelist_view(request, extra_context)
