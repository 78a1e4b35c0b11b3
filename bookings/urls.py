from django.urls import path

from bookings import views

app_name = "bookings"
urlpatterns = [
    path("", views.site_list, name="site_list"),
    path("<int:pk>/", views.site_detail, name="site_detail"),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
]
