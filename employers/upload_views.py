"""Staff list upload pages: the upload form, the live check progress, the summary and errors
with the confirm button, the error download and an employer's upload history."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from employers.forms import StaffListFileField
from employers.imports import create_upload, request_import
from employers.models import Employer, StaffUpload, StaffUploadError
from employers.services import UPLOAD_LIMIT_MESSAGE, staff_file_allowed
from employers.staff_files import UnreadableFile
from employers.upload_report import errors_csv_response
from portal.roles import may_act_for_employers

ERRORS_PER_PAGE = 100


class StaffUploadForm(forms.Form):
    file = StaffListFileField(
        label="Upload your staff list",
        help_text="A CSV or Excel (.xlsx) file of up to 20 MB, 100,000 rows and 200 columns.",
    )
    mode = forms.ChoiceField(
        label="What should this file do?",
        choices=StaffUpload.Mode.choices,
        initial=StaffUpload.Mode.ADD,
        widget=forms.RadioSelect,
        help_text="Replacing the whole list marks anyone missing from the file as left. "
        "You will see how many before anything changes.",
    )


def _employer_for_upload(request, employer_pk: int) -> Employer:
    employer = get_object_or_404(Employer.objects.visible_to(request.user), pk=employer_pk)
    if not may_act_for_employers(request.user):
        raise PermissionDenied
    return employer


def _upload(request, pk: int) -> StaffUpload:
    return get_object_or_404(
        StaffUpload.objects.visible_to(request.user).select_related("employer"), pk=pk
    )


@login_required
def upload_list(request, employer_pk: int):
    employer = get_object_or_404(Employer.objects.visible_to(request.user), pk=employer_pk)
    uploads = StaffUpload.objects.visible_to(request.user).filter(employer=employer)
    page = Paginator(uploads.select_related("uploaded_by"), 25).get_page(request.GET.get("page"))
    can_upload = may_act_for_employers(request.user)
    return render(
        request,
        "employers/upload_list.html",
        {"employer": employer, "page": page, "can_upload": can_upload},
    )


@login_required
def upload_new(request, employer_pk: int):
    employer = _employer_for_upload(request, employer_pk)
    form = StaffUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and not staff_file_allowed(
        user=request.user, organisation=f"employer:{employer.pk}"
    ):
        form.add_error(None, UPLOAD_LIMIT_MESSAGE)
        return render(
            request,
            "employers/upload_new.html",
            {"employer": employer, "form": form},
            status=429,
        )
    if request.method == "POST" and form.is_valid():
        uploaded = form.cleaned_data["file"]
        try:
            upload = create_upload(
                user=request.user,
                employer=employer,
                content=uploaded.read(),
                filename=uploaded.name,
                mode=form.cleaned_data["mode"],
            )
        except UnreadableFile as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("employers:upload_detail", pk=upload.pk)
    return render(request, "employers/upload_new.html", {"employer": employer, "form": form})


@login_required
def upload_detail(request, pk: int):
    upload = _upload(request, pk)
    errors = StaffUploadError.objects.filter(upload=upload).order_by("row_number", "id")
    page = Paginator(errors, ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    can_confirm = upload.can_import and may_act_for_employers(request.user)
    return render(
        request,
        "employers/upload_detail.html",
        {"upload": upload, "employer": upload.employer, "page": page, "can_confirm": can_confirm},
    )


@login_required
def upload_progress(request, pk: int):
    """The progress bar alone, polled by htmx while the file is checked or imported."""
    upload = _upload(request, pk)
    response = render(request, "employers/upload_progress.html", {"upload": upload})
    if upload.status not in (StaffUpload.Status.VALIDATING, StaffUpload.Status.IMPORTING):
        # Checking has finished: reload the whole page to show the summary and errors.
        response["HX-Refresh"] = "true"
    return response


@login_required
def upload_errors_csv(request, pk: int):
    return errors_csv_response(_upload(request, pk))


@login_required
@require_POST
def upload_confirm(request, pk: int):
    upload = _upload(request, pk)
    _employer_for_upload(request, upload.employer_id)
    request_import(user=request.user, upload=upload)
    return redirect("employers:upload_detail", pk=upload.pk)
