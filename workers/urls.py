from django.urls import path

from workers import views

app_name = "workers"
urlpatterns = [
    path("", views.worker_list, name="list"),
    path("<int:pk>/", views.worker_detail, name="detail"),
    path("eligibility/", views.review_queue, name="queue"),
    path("eligibility/bulk/<slug:action>/", views.bulk_action, name="bulk"),
    path("eligibility/employments/<int:pk>/", views.employment_review, name="employment"),
    path("questions/", views.question_list, name="questions"),
    path("questions/<int:pk>/", views.question_answer, name="answer"),
    path("letters/", views.letters, name="letters"),
    path("verify/", views.verify, name="verify"),
]
