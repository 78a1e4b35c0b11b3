"""Template context shared by every page: the service name and role-aware navigation."""

from django.conf import settings

from portal.navigation import navigation_for


def service(request):
    user = getattr(request, "user", None)
    items = navigation_for(user, request.path) if user is not None else []
    return {
        "service_name": settings.SERVICE_NAME,
        "navigation": items,
        "role_label": user.get_role_display()
        if user is not None and user.is_authenticated and user.role
        else "",
    }
