from django.urls import path

from employers import views

app_name = "employers"
urlpatterns = [
    path("", views.employer_list, name="list"),
    path("<int:pk>/", views.employer_detail, name="detail"),
]
