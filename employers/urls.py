from django.urls import path

from employers import template_views, views

app_name = "employers"
urlpatterns = [
    path("", views.employer_list, name="list"),
    path("<int:pk>/", views.employer_detail, name="detail"),
    path("staff-list-template.csv", template_views.template_csv, name="template_csv"),
    path("staff-list-template.xlsx", template_views.template_xlsx, name="template_xlsx"),
]
