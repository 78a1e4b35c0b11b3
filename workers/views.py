"""Worker pages: people in the user's scope, the local lead's eligibility review (queue, bulk
confirmations, one worker's decision and history), employers' answers to questions, letters
and the public code check. Views parse input and call workers.services or selectors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from portal.client_address import rate_limit_key
from portal.roles import may_act_for_employers, may_review_eligibility
from portal.throttle import count_attempt
from workers import identity, selectors, services
from workers.forms import (
    AnswerForm,
    BulkForm,
    BulkQuestionForm,
    DecisionForm,
    QuestionForm,
    QueueFilterForm,
    ReverseForm,
    VerifyForm,
)
from workers.models import Employment, InformationRequest, Worker

VERIFY_LIMIT = 20  # code checks per address per window
VERIFY_WINDOW = 60 * 10  # seconds


@login_required
def worker_list(request):
    query = request.GET.get("q", "").strip()
    page = Paginator(selectors.workers_named(request.user, query), 50).get_page(
        request.GET.get("page")
    )
    page.object_list = selectors.attach_shown_records(
        request.user, page.object_list, worker_id="pk"
    )
    return render(request, "workers/worker_list.html", {"page": page, "query": query})


@login_required
def worker_detail(request, pk: int):
    worker = get_object_or_404(Worker.objects.visible_to(request.user), pk=pk)
    employments = list(
        Employment.objects.visible_to(request.user)
        .filter(worker=worker)
        .select_related("employer", "current_decision")
        .prefetch_related("eligibility_decisions__decided_by")
        .order_by("pk")
    )
    review = identity.identity_review(user=request.user, worker=worker)
    error = None
    if request.method == "POST":
        chosen = next(
            (e for e in employments if str(e.pk) == request.POST.get("employment", "")), None
        )
        if chosen is None:
            raise Http404("Not one of this worker's records you can see")
        try:
            identity.settle_identity(user=request.user, employment=chosen, request=request)
        except ValidationError as exc:
            error = exc.messages[0]
        else:
            messages.success(
                request,
                f"The record used for invitations now has the details {chosen.employer.name} gave.",
            )
            return redirect("workers:detail", pk=worker.pk)
    return render(
        request,
        "workers/worker_detail.html",
        {
            "worker": worker,
            "shown": employments[0] if employments else None,
            "employments": employments,
            "review": review,
            "invitations": selectors.invitations_of(request.user, worker),
            "error": error,
        },
    )


# --- The local lead's review ------------------------------------------------------------


def _filter_form(request, data: QueryDict, *, one_employer: bool = False) -> QueueFilterForm:
    """The queue's filters. ``one_employer``: offer only the employer asked for (a bulk page
    acts on the set the queue showed and lists no employers)."""
    if not one_employer:
        employers = selectors.employer_choices(request.user)
    elif not data.get("employer"):
        employers = []
    else:
        try:
            employers = selectors.employer_choices(request.user, only=int(data["employer"]))
        except ValueError:
            employers = []
    form = QueueFilterForm(data or None, employers=employers)
    form.is_valid()
    return form


@login_required
def review_queue(request):
    if not may_review_eligibility(request.user):
        raise PermissionDenied
    form = _filter_form(request, request.GET)
    filters = form.filters()
    queryset = selectors.review_queue(request.user, filters)
    counts = selectors.outcome_counts(queryset)
    paginator = Paginator(queryset.select_related("worker", "employer", "current_decision"), 50)
    paginator.count = counts["total"]  # counted above: not again for the page number
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "workers/review_queue.html",
        {
            "form": form,
            "filters": filters,
            "counts": counts,
            "by_employer": selectors.employer_counts(queryset, limit=20),
            "page": page,
            "query": query.urlencode(),
            "actionable": filters.state == selectors.State.TO_REVIEW,
        },
    )


BULK_ACTIONS = {
    "approve": "Approve as eligible",
    "reject": "Decide not eligible",
    "ask": "Ask the employer",
}


def _bulk_set(request):
    """The employments a bulk page acts on: those chosen on the queue (``employment``
    parameters), or else everything matching the queue's filters."""
    chosen = request.GET.getlist("employment")
    if chosen:
        try:
            ids = {int(value) for value in chosen}
        except ValueError as exc:
            raise Http404("Not a worker") from exc
        queryset = selectors.review_scope(request.user).filter(pk__in=ids)
        if queryset.count() != len(ids):
            raise Http404("A chosen worker is not in your area")
        return queryset, None, len(ids)
    form = _filter_form(request, request.GET, one_employer=True)
    if form.errors:
        # The queue ignores a filter it cannot use; a bulk action must not, or an employer
        # outside the area (or a mistyped filter) would widen the set to the whole area.
        raise Http404("These filters do not match the queue")
    return selectors.review_queue(request.user, form.filters(), sort=False), form, None


@never_cache
@login_required
def bulk_action(request, action: str):
    if action not in BULK_ACTIONS:
        raise Http404("No such action")
    if not may_review_eligibility(request.user):
        raise PermissionDenied
    queryset, filter_form, chosen_count = _bulk_set(request)
    rows = list(
        selectors.actionable(queryset)
        .order_by("pk")
        .values_list("pk", "current_decision_id", "eligibility_outcome")
    )
    ids = [row[0] for row in rows]
    digest = services.set_digest((row[0], row[1]) for row in rows)
    all_eligible = all(row[2] == "eligible" for row in rows)
    reason_required = action == "reject" or (action == "approve" and not all_eligible)
    form_class = BulkQuestionForm if action == "ask" else BulkForm
    kwargs = {} if action == "ask" else {"reason_required": reason_required}
    error = ""
    if request.method == "POST" and rows:
        form = form_class(request.POST, **kwargs)
        posted_digest = request.POST.get("digest", "")
        if posted_digest != digest:
            error = str(services.SetChanged(len(rows)))
            form = form_class(initial={**request.POST.dict(), "digest": digest}, **kwargs)
        elif form.is_valid():
            try:
                count = _run_bulk(request, action, ids, digest, form.cleaned_data)
            except Employment.DoesNotExist as exc:
                raise Http404("A worker is not in your area") from exc
            except services.EligibilityError as exc:
                error = str(exc)
            else:
                messages.success(request, _bulk_message(action, count))
                back = request.GET.copy()
                back.pop("employment", None)
                return redirect(reverse("workers:queue") + (f"?{back.urlencode()}" if back else ""))
    else:
        form = form_class(initial={"digest": digest}, **kwargs)
    if request.method == "POST" and not rows:
        error = "There are no workers in this set any more. Go back to the queue and choose again."
    return render(
        request,
        "workers/bulk_confirm.html",
        {
            "action": action,
            "title": BULK_ACTIONS[action],
            "count": len(rows),
            "left_out": (chosen_count - len(rows)) if chosen_count is not None else 0,
            "counts": selectors.outcome_counts(selectors.actionable(queryset)),
            "form": form,
            "filter_form": filter_form,
            "error": error,
            "reason_required": reason_required,
            "back": reverse("workers:queue") + "?" + _without(request.GET, "employment"),
        },
    )


def _without(query: QueryDict, name: str) -> str:
    query = query.copy()
    query.pop(name, None)
    return query.urlencode()


def _run_bulk(request, action: str, ids: list[int], digest: str, data: dict) -> int:
    if action == "approve":
        return services.approve_employments(
            lead=request.user,
            employment_ids=ids,
            digest=digest,
            reason=data.get("reason", ""),
            request=request,
        )
    if action == "reject":
        return services.reject_employments(
            lead=request.user,
            employment_ids=ids,
            digest=digest,
            reason=data["reason"],
            request=request,
        )
    return len(
        services.request_information(
            lead=request.user, employment_ids=ids, question=data["question"], request=request
        )
    )


def _bulk_message(action: str, count: int) -> str:
    workers = "worker" if count == 1 else "workers"
    if action == "approve":
        return f"You approved {count} {workers} as eligible."
    if action == "reject":
        return f"You decided {count} {workers} are not eligible."
    return f"You asked about {count} {workers}. We emailed their employers."


@never_cache
@login_required
def employment_review(request, pk: int):
    """One worker's employment: details, assessment, history, conversation, and for a local
    lead the forms to decide, reverse or ask the employer."""
    employment = get_object_or_404(
        Employment.objects.visible_to(request.user).select_related(
            "worker", "employer__local_authority", "current_decision__decided_by"
        ),
        pk=pk,
    )
    reviewer = may_review_eligibility(request.user)
    current = employment.current_decision
    seen = {"seen_decision": current.pk if current else None}
    decide_form = DecisionForm(initial=seen)
    reverse_form = ReverseForm(initial=seen)
    question_form = QuestionForm()
    error = ""
    if request.method == "POST":
        if not reviewer:
            raise PermissionDenied("Only local leads decide eligibility.")
        which = request.POST.get("form")
        try:
            if which == "decide":
                decide_form = DecisionForm(request.POST)
                if decide_form.is_valid():
                    services.decide_employment(
                        lead=request.user,
                        employment_id=employment.pk,
                        outcome=decide_form.cleaned_data["outcome"],
                        reason=decide_form.cleaned_data["reason"],
                        seen_decision_id=decide_form.cleaned_data["seen_decision"],
                        request=request,
                    )
                    messages.success(
                        request, f"You recorded a decision for {employment.full_name}."
                    )
                    return redirect("workers:employment", pk=employment.pk)
            elif which == "reverse":
                reverse_form = ReverseForm(request.POST)
                if reverse_form.is_valid():
                    services.reverse_decision(
                        lead=request.user,
                        employment_id=employment.pk,
                        reason=reverse_form.cleaned_data["reason"],
                        seen_decision_id=reverse_form.cleaned_data["seen_decision"],
                        request=request,
                    )
                    messages.success(
                        request, f"You reversed the decision for {employment.full_name}."
                    )
                    return redirect("workers:employment", pk=employment.pk)
            elif which == "ask":
                question_form = QuestionForm(request.POST)
                if question_form.is_valid():
                    services.request_information(
                        lead=request.user,
                        employment_ids=[employment.pk],
                        question=question_form.cleaned_data["question"],
                        request=request,
                    )
                    messages.success(request, "You asked the employer. We emailed them.")
                    return redirect("workers:employment", pk=employment.pk)
        except services.StaleDecision as exc:
            error = str(exc)
            # Show the decision made meanwhile; keep what the lead typed, unsent.
            employment.refresh_from_db()
            fresh = {"seen_decision": employment.current_decision_id}
            decide_form = DecisionForm(initial={**request.POST.dict(), **fresh})
            reverse_form = ReverseForm(initial=fresh)
        except services.EligibilityError as exc:
            error = str(exc)
    return render(
        request,
        "workers/employment_review.html",
        {
            "employment": employment,
            "current": employment.current_decision,
            "history": selectors.decision_history(employment),
            "conversation": selectors.conversation(employment),
            "reviewer": reviewer,
            # A lead is told the employers' records of this person disagree (the worker's
            # page shows what they may see of it); an employer never is.
            "identity_differs": reviewer
            and bool(identity.differing_fields(employment, employment.worker)),
            "decide_form": decide_form,
            "reverse_form": reverse_form,
            "question_form": question_form,
            "error": error,
        },
    )


# --- Employers' answers --------------------------------------------------------------------


@login_required
def question_list(request):
    if not may_act_for_employers(request.user):
        raise PermissionDenied
    page = Paginator(selectors.open_questions(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "workers/question_list.html", {"page": page})


@never_cache
@login_required
def question_answer(request, pk: int):
    if not may_act_for_employers(request.user):
        raise PermissionDenied
    question = get_object_or_404(
        InformationRequest.objects.visible_to(request.user).select_related(
            "employment__worker", "employment__employer", "asked_by"
        ),
        pk=pk,
    )
    employment = question.employment
    form = AnswerForm(request.POST or None, employment=employment)
    error = ""
    if question.status != InformationRequest.Status.OPEN:
        error = "This question has already been answered or decided."
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.answer_information_request(
                user=request.user,
                information_request_id=question.pk,
                answer=data["answer"],
                changes=services.EmploymentChanges(
                    job_role=data["job_role"],
                    work_setting=data["work_setting"],
                    direct_contact=data["direct_contact"],
                    has_left=data["has_left"],
                ),
                request=request,
            )
        except services.EligibilityError as exc:
            error = str(exc)
        else:
            messages.success(
                request,
                f"You answered the question about {employment.full_name}. We told the lead.",
            )
            return redirect("workers:questions")
    return render(
        request,
        "workers/question_answer.html",
        {
            "question": question,
            "employment": employment,
            "conversation": selectors.conversation(employment),
            "form": form,
            "error": error,
        },
    )


# --- Letters and the public code check ---------------------------------------------------


@login_required
def letters(request):
    """Printable letters: one worker (``employment``) or every approved worker of one
    employer (``employer``) the user may see."""
    try:
        employment_id = int(request.GET["employment"]) if "employment" in request.GET else None
        employer_id = int(request.GET["employer"]) if "employer" in request.GET else None
    except ValueError as exc:
        raise Http404("Not a worker or employer") from exc
    if employment_id is None and employer_id is None:
        raise Http404("Choose a worker or an employer")
    if employer_id is not None and not selectors.employer_is_visible(request.user, employer_id):
        # Not an empty page of letters: an employer out of scope is not found (0001-tenancy).
        raise Http404("No such employer")
    approved = selectors.approved_letters(request.user, employer_id=employer_id)
    if employment_id is not None:
        approved = approved.filter(pk=employment_id)
        if not approved:
            raise Http404("No letter for this worker")
    return render(
        request,
        "workers/letters.html",
        {
            "employments": approved,
            "verify_url": request.build_absolute_uri(reverse("workers:verify")),
        },
    )


def _rate_limited(request) -> bool:
    key = f"workers.verify:{rate_limit_key(request)}"
    return count_attempt(key, window=VERIFY_WINDOW) > VERIFY_LIMIT


@never_cache
def verify(request):
    """Anyone may check a letter's code; it says only whether it is valid, and for whom."""
    form = VerifyForm(request.POST or None)
    result = None
    if request.method == "POST":
        if _rate_limited(request):
            return render(
                request, "workers/verify.html", {"form": form, "limited": True}, status=429
            )
        if form.is_valid():
            result = services.verify_code(raw_code=form.cleaned_data["code"], request=request)
    return render(request, "workers/verify.html", {"form": form, "result": result})
