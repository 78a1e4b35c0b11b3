"""Top-level URL configuration."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from bookings import views as bookings_views
from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("overview/", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
    path("accessibility/", views.accessibility, name="accessibility"),
    path("privacy/", views.privacy, name="privacy"),
    path("colleagues/invite/", views.invite_colleague, name="invite_colleague"),
    path("colleagues/join/<str:token>/", views.colleague_invitation, name="colleague_invitation"),
    path("accounts/", include("allauth.urls")),
    path("employers/", include("employers.urls")),
    path("workers/", include("workers.urls")),
    path("sites/", include("bookings.urls")),
    path(
        "notify/delivery-receipts/",
        bookings_views.notify_delivery_receipt,
        name="notify_delivery_receipt",
    ),
    # A worker's personal invitation link: short, because it goes in text messages.
    path("i/", include("bookings.link_urls")),
    path("api/v1/", include("portal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-docs"),
    path("admin/", admin.site.urls),
]

# Refusals (PermissionDenied) and missing pages use Django's handlers with templates/403.html
# and 404.html; a server error renders templates/500.html without the request's context.
handler500 = "portal.views.server_error"
