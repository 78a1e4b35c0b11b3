from django.urls import path

from employers import preview_views, template_views, upload_views, views

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
    path("<int:employer_pk>/uploads/", upload_views.upload_list, name="upload_list"),
    path("<int:employer_pk>/uploads/new/", upload_views.upload_new, name="upload_new"),
    path("uploads/<int:pk>/", upload_views.upload_detail, name="upload_detail"),
    path("uploads/<int:pk>/progress/", upload_views.upload_progress, name="upload_progress"),
    path("uploads/<int:pk>/errors.csv", upload_views.upload_errors_csv, name="upload_errors_csv"),
    path("uploads/<int:pk>/confirm/", upload_views.upload_confirm, name="upload_confirm"),
    path("eligibility-preview/", preview_views.eligibility_preview, name="eligibility_preview"),
    path(
        "eligibility-preview/results/",
        preview_views.eligibility_preview_results,
        name="eligibility_preview_results",
    ),
    path(
        "eligibility-preview/results.csv",
        preview_views.eligibility_preview_csv,
        name="eligibility_preview_csv",
    ),
]
