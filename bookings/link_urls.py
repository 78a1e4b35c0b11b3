"""The worker's personal invitation link, kept at the top of the site (``/i/<token>/``) so
that it stays short enough for a text message."""

from django.urls import path

from bookings import views

urlpatterns = [path("<str:token>/", views.invitation_link, name="invitation_link")]
