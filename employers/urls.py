from django.urls import path

from employers import template_views, views

app_name = "employers"
urlpatterns = [
    path("", views.employer_list, name="list"),
    path("register/", views.register, name="register"),
    path("approvals/", views.approval_queue, name="approvals"),
    path("<int:pk>/", views.employer_detail, name="detail"),
    path("staff-list-template.csv", template_views.template_csv, name="template_csv"),
    path("staff-list-template.xlsx", template_views.template_xlsx, name="template_xlsx"),
    path("<int:pk>/decision/", views.decide, name="decide"),
    path("<int:pk>/staff/", views.staff_list, name="staff"),
    path("staff/<int:pk>/", views.employment_detail, name="employment"),
    path("staff/<int:pk>/left/", views.employment_left, name="employment_left"),
]
