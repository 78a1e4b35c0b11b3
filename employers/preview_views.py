"""The eligibility preview page for local leads and administrators: upload a staff list,
pick the employer and the rules (a draft included), see the counts and the rows page by page,
and download them as CSV.

Nothing about the rows is kept on the server: the results travel with the page as a signed,
compressed hidden field that the paging and download buttons post back, so turning a page
needs neither the file again nor a stored copy of it.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.text import slugify
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from employers.eligibility_preview import (
    HEADER,
    OUTCOMES,
    PAGE_MAX_ROWS,
    Preview,
    PreviewRow,
    assumption_note,
    preview_for_user,
    rule_set_label,
)
from employers.forms import EligibilityPreviewForm
from employers.models import Employer
from employers.services import UPLOAD_LIMIT_MESSAGE, staff_file_allowed
from employers.staff_files import UnreadableFile
from portal.exports import csv_response
from portal.roles import may_preview_rule_changes
from workers.models import RuleSet
from workers.rules import OUTCOME_WORDS, RuleError

ROWS_PER_PAGE = 100
ERRORS_SHOWN = 100
EMPLOYER_CHOICES = 1000
# Long enough to read the results over a working session; the page says so when it passes.
RESULTS_MAX_AGE = 8 * 60 * 60
EXPIRED = "These results have expired. Upload the file again to see them."


def _salt(user) -> str:
    return f"employers.eligibility_preview:{user.pk}"


def _payload(preview: Preview, *, filename: str) -> dict:
    """What the results page shows, as plain data for the page's hidden field: rows keep only
    their number, staff reference, outcome and reason (each distinct reason stored once)."""
    reasons: dict[str, int] = {}
    rows = [
        [row.row_number, row.staff_reference, OUTCOMES.index(row.outcome)]
        + [reasons.setdefault(row.reason, len(reasons))]
        for row in preview.rows
    ]
    employer = preview.employer
    current = RuleSet.objects.current()
    return {
        "file": filename,
        "rule_set": rule_set_label(preview.rule_set, current_id=current.pk if current else None),
        "draft": not preview.rule_set.is_published,
        "employer": f"{employer.name} ({employer.get_status_display().lower()})"
        if employer
        else "",
        "assumption": assumption_note(preview),
        "warnings": preview.warnings,
        "counts": [preview.counts[outcome] for outcome in OUTCOMES],
        "error_rows": preview.error_rows,
        "error_count": len(preview.errors),
        "errors": [
            [error.row_number, error.column, error.message]
            for error in preview.errors[:ERRORS_SHOWN]
        ],
        "reasons": list(reasons),
        "rows": rows,
    }


def _sign(payload: dict, user) -> str:
    return signing.dumps(payload, salt=_salt(user), compress=True)


def _unsign(token: str, user) -> dict:
    return signing.loads(token, salt=_salt(user), max_age=RESULTS_MAX_AGE)


def _rows(payload: dict) -> list[PreviewRow]:
    reasons = payload["reasons"]
    return [
        PreviewRow(number, reference, OUTCOMES[outcome], (reasons[reason],))
        for number, reference, outcome, reason in payload["rows"]
    ]


def _results_page(request, token: str, payload: dict, page_number) -> HttpResponse:
    page = Paginator(_rows(payload), ROWS_PER_PAGE).get_page(page_number)
    counts = [
        (OUTCOME_WORDS[outcome].capitalize(), count)
        for outcome, count in zip(OUTCOMES, payload["counts"], strict=True)
    ]
    return render(
        request,
        "employers/eligibility_preview_results.html",
        {"results": payload, "token": token, "page": page, "counts": counts},
    )


def _employer_choices(user, chosen: Employer | None) -> list[tuple[int, str]]:
    employers = list(Employer.objects.visible_to(user).order_by("name")[:EMPLOYER_CHOICES])
    if chosen is not None and chosen not in employers:
        employers.append(chosen)
    return [
        (employer.pk, employer.name if employer.is_approved else f"{employer.name} (not approved)")
        for employer in employers
    ]


def _chosen_employer(request) -> Employer | None:
    """The employer named by the form or the link, looked up in the user's scope: an id from
    elsewhere is not a choice to correct but a 404."""
    raw = (request.POST if request.method == "POST" else request.GET).get("employer", "")
    if not raw.strip():
        return None
    try:
        employer_id = int(raw)
    except ValueError as exc:
        raise Http404("Not an employer") from exc
    return get_object_or_404(Employer.objects.visible_to(request.user), pk=employer_id)


@never_cache
@login_required
def eligibility_preview(request):
    if not may_preview_rule_changes(request.user):
        raise PermissionDenied
    employer = _chosen_employer(request)
    form = EligibilityPreviewForm(
        request.POST or None,
        request.FILES or None,
        initial={"employer": employer.pk if employer else None},
        employers=_employer_choices(request.user, employer),
        max_rows=PAGE_MAX_ROWS,
    )
    organisation = (
        f"employer:{employer.pk}" if employer else f"authority:{request.user.local_authority_id}"
    )
    if request.method == "POST" and not staff_file_allowed(
        user=request.user, organisation=organisation
    ):
        form.add_error(None, UPLOAD_LIMIT_MESSAGE)
        return render(
            request,
            "employers/eligibility_preview.html",
            {"form": form, "max_rows_text": f"{PAGE_MAX_ROWS:,}"},
            status=429,
        )
    if request.method == "POST" and form.is_valid():
        uploaded = form.cleaned_data["file"]
        rule_set = form.cleaned_data["rule_set"]
        try:
            preview = preview_for_user(
                user=request.user,
                content=uploaded.read(),
                filename=uploaded.name,
                rule_set=rule_set,
                employer=employer,
                request=request,
            )
        except UnreadableFile as exc:
            form.add_error("file", exc.message)
        except RuleError as exc:
            form.add_error(
                "rule_set",
                f"This draft cannot be used: {exc} Correct it in administration and try again.",
            )
        else:
            payload = _payload(preview, filename=uploaded.name)
            return _results_page(request, _sign(payload, request.user), payload, 1)
    return render(
        request,
        "employers/eligibility_preview.html",
        {"form": form, "max_rows_text": f"{PAGE_MAX_ROWS:,}"},
    )


def _posted_results(request):
    """The results posted back by the page's buttons, or the upload page saying why not."""
    token = request.POST.get("results", "")
    try:
        return token, _unsign(token, request.user), None
    except signing.SignatureExpired:
        problem = EXPIRED
    except signing.BadSignature:
        problem = "We could not read these results. Upload the file again to see them."
    form = EligibilityPreviewForm(
        employers=_employer_choices(request.user, None), max_rows=PAGE_MAX_ROWS
    )
    response = render(
        request,
        "employers/eligibility_preview.html",
        {"form": form, "max_rows_text": f"{PAGE_MAX_ROWS:,}", "error": problem},
        status=400,
    )
    return token, None, response


@never_cache
@login_required
@require_POST
def eligibility_preview_results(request):
    """Another page of the results (the Previous and Next buttons post the results back)."""
    if not may_preview_rule_changes(request.user):
        raise PermissionDenied
    token, payload, refused = _posted_results(request)
    if refused is not None:
        return refused
    return _results_page(request, token, payload, request.POST.get("page"))


@never_cache
@login_required
@require_POST
def eligibility_preview_csv(request):
    """Every assessed row as CSV: ``row,staff_reference,outcome,reason`` in file order."""
    if not may_preview_rule_changes(request.user):
        raise PermissionDenied
    _token, payload, refused = _posted_results(request)
    if refused is not None:
        return refused
    stem = slugify(payload["file"].rsplit(".", 1)[0]) or "staff-list"
    return csv_response(
        f"{stem}-eligibility-preview.csv", HEADER, (row.csv_values() for row in _rows(payload))
    )
