from django.urls import path

from bookings import views

app_name = "bookings"
urlpatterns = [
    path("", views.site_list, name="site_list"),
    path("add/", views.site_create, name="site_create"),
    path("<int:pk>/", views.site_detail, name="site_detail"),
    path("<int:pk>/edit/", views.site_edit, name="site_edit"),
    path("<int:pk>/calendar/", views.site_calendar, name="site_calendar"),
    path("<int:pk>/sessions/add/", views.session_create, name="session_create"),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
    path("sessions/<int:pk>/capacity/", views.session_capacity, name="session_capacity"),
    path("sessions/<int:pk>/cancel/", views.session_cancel, name="session_cancel"),
    path("routing/policy/", views.routing_policy, name="routing_policy"),
    path("routing/unrouted/", views.unrouted_workers, name="unrouted_workers"),
    path("routing/run/", views.route_area, name="route_area"),
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/start/", views.campaign_start, name="campaign_start"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/release/", views.campaign_release, name="campaign_release"),
    path("campaigns/<int:pk>/stop/", views.campaign_stop, name="campaign_stop"),
    path(
        "campaigns/<int:pk>/invitations/",
        views.campaign_invitations,
        name="campaign_invitations",
    ),
    path("invitations/<int:pk>/", views.invitation_detail, name="invitation_detail"),
    path("invitations/<int:pk>/resend/", views.invitation_resend, name="invitation_resend"),
]
