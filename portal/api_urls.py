"""The /api/v1/ namespace: each app contributes its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("employers.api")),
    path("", include("bookings.api")),
]
