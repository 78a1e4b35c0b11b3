"""The admin site every model is registered on: each addition, change and deletion an
administrator makes through it is written to the audit trail as well as to Django's own
admin history, whichever app registered the model (ours, allauth, Django's)."""

from __future__ import annotations

from django.contrib import admin

from portal import audit

MAX_LISTED = 200


def _label(obj) -> str:
    return obj._meta.label_lower


class AuditedActions:
    """Mixed into every registered ModelAdmin by ``AuditedAdminSite.register``."""

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        _record_one(request, "admin_added", obj, entry)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        _record_one(request, "admin_changed", obj, entry)
        return entry

    def log_deletions(self, request, queryset):
        # Called before the objects are deleted (one object or an action's selection).
        objects = list(queryset)
        entries = super().log_deletions(request, objects)
        if objects:
            audit.record(
                verb="admin_deleted",
                actor=request.user,
                object_type=_label(objects[0]),
                object_id=objects[0].pk if len(objects) == 1 else "",
                details={
                    "count": len(objects),
                    "object_ids": [str(obj.pk) for obj in objects[:MAX_LISTED]],
                    "objects": [str(obj)[:200] for obj in objects[:MAX_LISTED]],
                },
                request=request,
            )
        return entries


def _record_one(request, verb: str, obj, entry) -> None:
    change = entry.get_change_message() if entry is not None else ""
    audit.record(
        verb=verb,
        actor=request.user,
        target=obj,
        details={"object": str(obj)[:200], "change": change[:2000]},
        request=request,
    )


class AuditedAdminSite(admin.AdminSite):
    site_header = "Carevax administration"
    site_title = "Carevax administration"

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AuditedActions):
            admin_class = type(admin_class.__name__, (AuditedActions, admin_class), {})
        return super().register(model_or_iterable, admin_class, **options)
